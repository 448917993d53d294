"""RequestOnlyRoute: the endpoint gets the request as is; declared parameters are refused."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response

from gateway.request_only_route import RequestOnlyRoute


async def test_the_endpoint_receives_the_request_and_its_response_goes_out() -> None:
    app = FastAPI()

    async def echo(request: Request) -> Response:
        return Response(await request.body(), headers={"X-Seen": request.headers["x-in"]})

    app.router.add_api_route("/echo", echo, methods=["POST"], route_class_override=RequestOnlyRoute)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/echo", content=b"raw", headers={"X-In": "1"})
        assert (r.status_code, r.content, r.headers["x-seen"]) == (200, b"raw", "1")
        assert (await c.get("/echo")).status_code == 405


@pytest.mark.parametrize("kind", ["query", "no request"])
def test_an_endpoint_with_parameters_is_refused(kind: str) -> None:
    router = APIRouter()

    async def with_query(request: Request, q: str) -> Response:
        return Response()

    async def without_request() -> Response:
        return Response()

    endpoint = with_query if kind == "query" else without_request
    with pytest.raises(TypeError, match="takes only the Request"):
        router.add_api_route("/x", endpoint, route_class_override=RequestOnlyRoute)


@pytest.mark.parametrize("where", ["include", "app"])
async def test_dependencies_added_where_the_router_is_included_still_run(where: str) -> None:
    seen: list[str] = []

    async def guard(request: Request) -> None:
        seen.append(request.url.path)
        if request.headers.get("x-allowed") != "yes":
            raise HTTPException(403)

    async def endpoint(request: Request) -> Response:
        return Response(b"ok")

    router = APIRouter()
    router.add_api_route("/r", endpoint, methods=["GET"], route_class_override=RequestOnlyRoute)
    if where == "include":
        app = FastAPI()
        app.include_router(router, dependencies=[Depends(guard)])
    else:
        app = FastAPI(dependencies=[Depends(guard)])
        app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/r")).status_code == 403
        assert (await c.get("/r", headers={"X-Allowed": "yes"})).content == b"ok"
    assert seen == ["/r", "/r"]
