"""What a refused or failed console request shows: words for the desk, in the page.

The API's handlers answer problem+json; on console paths the same errors render as HTML
(a message swapped into the page's message area for htmx, a page otherwise), with the
same status codes. A missing session leads to the sign-in page, keeping the form that
was being sent; a missing or wrong CSRF token is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

import connectors
from mappers import MappingError

from ..problems import ProblemError
from ..services.errors import ServiceError
from .desk import CsrfRefused, SignInRequired, console_of, security_headers
from .redirects import local_path
from .sessions import COOKIE

__all__ = ["install_console_errors"]

Handler = Callable[[Request, Any], Awaitable[Response]]

_STATUS = {
    "validation_error": 422,
    "date_out_of_range": 422,
    "not_found": 404,
    "overbook_unsupported": 422,
    "reschedule_incomplete": 502,
}
_SECRET_FIELDS = frozenset({"csrf", "password"})


def _is_console(request: Request) -> bool:
    return request.url.path == "/console" or request.url.path.startswith("/console/")


def _message_view(request: Request, status: int, title: str, detail: str) -> Response:
    _, console = console_of(request)
    context = {"title": title, "detail": detail, "status": status}
    if "hx-request" in request.headers:
        html = console.templates.render("_message.html", {**context, "kind": "error"})
        response = HTMLResponse(html, status_code=status)
        response.headers["HX-Retarget"] = "#messages"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        html = console.templates.render("error.html", context)
        response = HTMLResponse(html, status_code=status)
    security_headers(response)
    return response


def _upstream_words(exc: connectors.UpstreamError) -> tuple[int, str]:
    source = getattr(exc, "source", None) or "an EHR"
    if isinstance(exc, connectors.UpstreamTimeout):
        return 504, f"{source} did not answer in time: try again in a minute."
    if isinstance(exc, connectors.Unavailable | connectors.RateLimited):
        return 503, f"{source} is not available right now: try again in a minute."
    if isinstance(exc, connectors.NotFound):
        return 404, "That record is not there any more."
    return 502, f"{source} refused the request: ask a supervisor if it happens again."


def install_console_errors(app: FastAPI) -> None:
    api: dict[type[Exception], Handler] = {
        kind: app.exception_handlers[kind]  # type: ignore[misc]
        for kind in (ServiceError, connectors.UpstreamError, MappingError, ProblemError)
        if kind in app.exception_handlers
    }

    def either(kind: type[Exception], console: Handler) -> None:
        fallback = api.get(kind)

        async def handle(request: Request, exc: Exception) -> Response:
            if _is_console(request) or fallback is None:
                return await console(request, exc)
            return await fallback(request, exc)

        app.add_exception_handler(kind, handle)

    async def service(request: Request, exc: ServiceError) -> Response:
        status = _STATUS.get(exc.code, 409)
        return _message_view(request, status, exc.title, exc.detail)

    async def upstream(request: Request, exc: connectors.UpstreamError) -> Response:
        status, words = _upstream_words(exc)
        return _message_view(request, status, "The EHR could not do that", words)

    async def mapping(request: Request, exc: MappingError) -> Response:
        return _message_view(
            request, 502, "The EHR sent a record we can't use", f"unusable data at {exc.path}"
        )

    async def problem(request: Request, exc: ProblemError) -> Response:
        return _message_view(request, exc.status, exc.title, exc.detail)

    either(ServiceError, service)
    either(connectors.UpstreamError, upstream)
    either(MappingError, mapping)
    either(ProblemError, problem)

    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        return await _sign_in_required(request, exc)

    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return _message_view(
            request,
            403,
            "This form is out of date",
            "Its security token did not match your session. Reload the page and try again.",
        )

    app.add_exception_handler(SignInRequired, sign_in_required)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfRefused, csrf_refused)  # type: ignore[arg-type]

    previous: Any = app.exception_handlers.get(StarletteHTTPException)

    async def http(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_console(request) and exc.status_code in (404, 405):
            words = "There is no such page." if exc.status_code == 404 else "Not allowed here."
            return _message_view(request, exc.status_code, "Not found", words)
        answer = previous(request, exc)
        return await answer if not isinstance(answer, Response) else answer

    if previous is not None:
        app.add_exception_handler(StarletteHTTPException, http)  # type: ignore[arg-type]


async def _sign_in_required(request: Request, exc: SignInRequired) -> Response:
    """To the sign-in page. A form that was being sent comes along in the sign-in page's
    own form (a POST body, never a URL) and is put back in its page after sign-in."""
    from .routes.access import sign_in_page

    back = request.url.path
    if request.method == "GET" and "hx-request" not in request.headers:
        target = f"/console/sign-in?next={quote(local_path(back))}"
        response: Response = RedirectResponse(target, status_code=303)
    else:
        fields = {
            k: v for k, v in (exc.form or {}).items() if k not in _SECRET_FIELDS and k != "back"
        }
        current = urlsplit(request.headers.get("hx-current-url", "")).path
        page = local_path((exc.form or {}).get("back") or current)
        response = await sign_in_page(
            request,
            status=401,
            next_path=page,
            draft=fields if fields else None,
            notice=(
                "Your session ended after a time without activity. Sign in again; what you "
                "typed is kept and put back in the form."
                if fields
                else "Your session ended. Sign in again."
            ),
        )
        if "hx-request" in request.headers:
            response.headers["HX-Retarget"] = "body"
            response.headers["HX-Reswap"] = "innerHTML"
            response.headers["HX-Push-Url"] = "/console/sign-in"
    if exc.expired:
        response.delete_cookie(COOKIE, path="/")
    return security_headers(response)
