"""The sandbox as an ASGI app: FHIR R4 REST over HTTP, in the shape HAPI answers.

Reach it without sockets through httpx's ASGI transport:

    app = create_fhir_app(name="ehr-a")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ehr-a.sandbox/fhir"
    ) as client:
        await client.get("/Patient", params={"family": "smith"})

Links and `fullUrl`s are absolute and built from the request's own scheme, host
and the base path, as HAPI's IncomingRequestAddressStrategy does.
"""

from __future__ import annotations

import asyncio
import json
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulators.fhir_server import dates
from simulators.fhir_server.capability import capability_statement
from simulators.fhir_server.outcome import FhirError, bad_request, operation_outcome
from simulators.fhir_server.server import FhirServer, Reply
from simulators.fhir_server.store import FhirStore, Version, format_instant
from simulators.fhir_server.transactions import process_bundle

FHIR_JSON = "application/fhir+json;charset=UTF-8"
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
_JSON_PATCH = "application/json-patch+json"


def create_fhir_app(
    *,
    name: str = "sandbox",
    base_path: str = "/fhir",
    page_size: int = 20,
    max_page_size: int = 500,
    store: FhirStore | None = None,
) -> Starlette:
    """An in-memory FHIR R4 server; its FhirServer is `app.state.fhir` (see `sandbox_server`)."""
    server = FhirServer(store, page_size=page_size, max_page_size=max_page_size)
    endpoints = _Endpoints(server, name=name, base_path=base_path.rstrip("/"))
    base = endpoints.base_path
    routes = [
        Route(f"{base}/metadata", endpoints.metadata, methods=["GET"]),
        Route(base or "/", endpoints.system, methods=["GET", "POST"]),
        Route(f"{base}/", endpoints.system, methods=["GET", "POST"]),
        Route(f"{base}/{{type}}", endpoints.type_level, methods=["GET", "POST"]),
        Route(f"{base}/{{type}}/_search", endpoints.search_post, methods=["POST"]),
        Route(f"{base}/{{type}}/_history", endpoints.type_history, methods=["GET"]),
        Route(
            f"{base}/{{type}}/{{id}}",
            endpoints.instance,
            methods=["GET", "PUT", "PATCH", "DELETE"],
        ),
        Route(f"{base}/{{type}}/{{id}}/_history", endpoints.history, methods=["GET"]),
        Route(f"{base}/{{type}}/{{id}}/_history/{{vid}}", endpoints.vread, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={FhirError: _fhir_error, HTTPException: _http_error},
    )
    app.state.fhir = server
    return app


def sandbox_server(app: Starlette) -> FhirServer:
    """The FhirServer (and through `.store`, the data) behind an app from create_fhir_app."""
    server = app.state.fhir
    if not isinstance(server, FhirServer):
        raise TypeError("not an app made by create_fhir_app")
    return server


class _Endpoints:
    """The HTTP framing of each interaction; writes run one at a time under a lock."""

    def __init__(self, server: FhirServer, *, name: str, base_path: str) -> None:
        self.server = server
        self.name = name
        self.base_path = base_path
        # One writer at a time: a conditional create or an If-Match update reads
        # and writes in one step, so concurrent bookings of one Slot serialise.
        self.lock = asyncio.Lock()

    def base_url(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{self.base_path}"

    async def metadata(self, request: Request) -> Response:
        return _json(200, capability_statement(self.name, self.base_url(request)))

    async def system(self, request: Request) -> Response:
        base_url = self.base_url(request)
        if request.method == "POST":
            bundle = await _body(request)
            async with self.lock:
                return _json(200, process_bundle(self.server, bundle, base_url=base_url))
        items = request.query_params.multi_items()
        if not any(name == "_getpages" for name, _ in items):
            raise bad_request("This server does not support system-level search")
        return self._reply(
            request, self.server.page(items, base_url=base_url, self_url=str(request.url))
        )

    async def type_level(self, request: Request) -> Response:
        resource_type = request.path_params["type"]
        if request.method == "GET":
            items = request.query_params.multi_items()
            reply = self.server.search(resource_type, items, base_url=self.base_url(request))
            return self._reply(request, reply)
        self.server.check_type(resource_type)
        body = await _body(request)
        async with self.lock:
            reply = self.server.create(
                resource_type, body, if_none_exist=request.headers.get("if-none-exist")
            )
        return self._reply(request, reply)

    async def search_post(self, request: Request) -> Response:
        resource_type = request.path_params["type"]
        self.server.check_type(resource_type)
        form = (await request.body()).decode("utf-8", errors="replace")
        items = [*request.query_params.multi_items(), *parse_qsl(form, keep_blank_values=True)]
        base_url = self.base_url(request)
        reply = self.server.search(
            resource_type, items, base_url=base_url, self_url=f"{base_url}/{resource_type}/_search"
        )
        return self._reply(request, reply)

    async def instance(self, request: Request) -> Response:
        resource_type = request.path_params["type"]
        resource_id = request.path_params["id"]
        if_match = request.headers.get("if-match")
        if request.method == "GET":
            return self._reply(request, self.server.read(resource_type, resource_id))
        self.server.check_type(resource_type)
        if request.method == "DELETE":
            async with self.lock:
                reply = self.server.delete(resource_type, resource_id)
            return self._reply(request, reply)
        if request.method == "PATCH":
            content_type = request.headers.get("content-type", "").split(";")[0].strip()
            if content_type != _JSON_PATCH:
                raise bad_request(
                    f"The sandbox only applies JSON Patch ({_JSON_PATCH}), not {content_type!r}"
                )
            patch = await _body(request, content_types=(_JSON_PATCH,))
            async with self.lock:
                reply = self.server.patch(resource_type, resource_id, patch, if_match=if_match)
            # HAPI answers PATCH without an ETag header; so does the sandbox.
            return self._reply(request, reply, etag=False)
        body = await _body(request)
        async with self.lock:
            reply = self.server.update(resource_type, resource_id, body, if_match=if_match)
        return self._reply(request, reply)

    async def vread(self, request: Request) -> Response:
        params = request.path_params
        reply = self.server.vread(params["type"], params["id"], params["vid"])
        return self._reply(request, reply)

    async def history(self, request: Request) -> Response:
        resource_type, resource_id = request.path_params["type"], request.path_params["id"]
        self.server.check_type(resource_type)
        versions = self.server.store.history(resource_type, resource_id)
        bundle = _history_bundle(self.base_url(request), list(reversed(versions)), request)
        return _json(200, bundle)

    async def type_history(self, request: Request) -> Response:
        """GET [base]/{type}/_history[?_since=instant][&_count=n]: newest first, one page."""
        resource_type = request.path_params["type"]
        self.server.check_type(resource_type)
        params = request.query_params
        since = None
        if "_since" in params:
            try:
                since = dates.parse_range(params["_since"]).start
            except ValueError:
                raise bad_request(f"Invalid _since value: {params['_since']!r}") from None
        try:
            count = min(int(params.get("_count", self.server.page_size)), self.server.max_page_size)
        except ValueError:
            raise bad_request(f"Invalid _count value: {params['_count']!r}") from None
        versions = self.server.store.type_history(resource_type, since)
        bundle = _history_bundle(self.base_url(request), versions[:count], request)
        bundle["total"] = len(versions)
        return _json(200, bundle)

    def _reply(self, request: Request, reply: Reply, *, etag: bool = True) -> Response:
        headers: dict[str, str] = {}
        version = reply.version
        body = reply.body
        if version is not None and not version.deleted:
            url = f"{self.base_url(request)}/{version.resource_type}/{version.id}"
            versioned = f"{url}/_history/{version.version_id}"
            headers["Last-Modified"] = format_datetime(version.last_updated, usegmt=True)
            headers["Content-Location"] = versioned
            if etag:
                headers["ETag"] = f'W/"{version.version_id}"'
            if reply.location:
                headers["Location"] = versioned
            if "return=minimal" in request.headers.get("prefer", ""):
                body = None
        return _json(reply.status, body, headers)


async def _body(request: Request, *, content_types: tuple[str, ...] = _JSON_TYPES) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in content_types:
        raise bad_request(
            f'Incorrect Content-Type header value of "{content_type}" was provided in the '
            "request. A FHIR Content-Type is required"
        )
    raw = await request.body()
    if not raw.strip():
        raise bad_request("Failed to parse request body: did not find any content to parse")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"Failed to parse JSON encoded FHIR content: {exc}") from None


def _history_bundle(base_url: str, versions: list[Version], request: Request) -> Any:
    """A history Bundle, as HAPI renders one: each version with its request and response."""
    entries = []
    for version in versions:
        resource_type, resource_id = version.resource_type, version.id
        entry: dict[str, Any] = {"fullUrl": f"{base_url}/{resource_type}/{resource_id}"}
        if version.resource is not None:
            entry["resource"] = version.body()
        entry["request"] = {
            "method": "DELETE"
            if version.deleted
            else ("POST" if version.version_id == 1 else "PUT"),
            "url": f"{resource_type}/{resource_id}",
        }
        entry["response"] = {
            "status": "200 OK" if version.version_id > 1 or version.deleted else "201 Created",
            "etag": f'W/"{version.version_id}"',
            "lastModified": format_instant(version.last_updated),
        }
        entries.append(entry)
    return {
        "resourceType": "Bundle",
        "type": "history",
        "total": len(entries),
        "link": [{"relation": "self", "url": str(request.url)}],
        "entry": entries,
    }


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    content = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    return Response(content, status_code=status, headers=headers, media_type=FHIR_JSON)


async def _fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return _json(exc.status, exc.outcome())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    outcome = operation_outcome(
        "error", "not-supported", f"{request.method} {request.url.path}: {exc.detail}"
    )
    return _json(exc.status_code, outcome)
