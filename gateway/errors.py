"""One place that turns every failure into problem+json with a stable code.

Routers and services never catch to render: they raise ServiceError,
UpstreamError or MappingError and these handlers answer. Anything else is a
bug: ``middleware.ContainErrors`` answers a bare 500 ``internal_error`` with no
internals and logs the frames' names only.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

import connectors
from mappers import MappingError

from .context import request_id
from .logs import get_logger
from .problems import ProblemError, problem_response
from .services.errors import ServiceError
from .state import StateUnavailable

__all__ = ["install_error_handlers"]

log = get_logger(__name__)

_SERVICE_STATUS = {
    "validation_error": 422,
    "date_out_of_range": 422,
    "not_found": 404,
    "slot_taken": 409,
    "slot_held": 409,
    "overbook_limit": 409,
    "overbook_unsupported": 422,
    "patient_conflict": 409,
    "version_conflict": 409,
    "invalid_transition": 409,
    "possible_duplicate": 409,
    "slot_unavailable": 409,
    "idempotency_conflict": 409,
    "concurrent_update": 409,
    "reschedule_incomplete": 502,
    "balance_unavailable": 404,
    "bill_unavailable": 404,
    "gfe_incomplete": 409,
    "gfe_not_issued": 409,
    "gfe_unavailable": 503,
    "already_waitlisted": 409,
    "patient_not_in_source": 409,
    "identity_disabled": 409,
}


def _upstream(exc: connectors.UpstreamError) -> tuple[int, str, str, dict[str, str]]:
    headers: dict[str, str] = {}
    if isinstance(exc, connectors.UpstreamTimeout):
        return 504, "upstream_timeout", "The EHR did not answer in time", headers
    if isinstance(exc, connectors.RateLimited):
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            headers["Retry-After"] = str(max(1, int(retry_after)))
        return 503, "rate_limited", "The EHR asked us to slow down", headers
    if isinstance(exc, connectors.Unavailable):
        return 503, "upstream_unavailable", "The EHR is not available", headers
    if isinstance(exc, connectors.NotFound):
        return 404, "not_found", "Not found", headers
    if isinstance(exc, connectors.Unauthorized | connectors.Forbidden):
        return 502, "upstream_auth", "The gateway could not authenticate with the EHR", headers
    return 502, "upstream_error", "The EHR refused or garbled the request", headers


def _allowed_methods(request: Request) -> list[str]:
    path = request.url.path
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.fullmatch(path):
            methods |= route.methods
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return problem_response(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            request_id=request_id(),
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> Response:
        status = _SERVICE_STATUS.get(exc.code, 400)
        return problem_response(
            status, exc.code, exc.title, exc.detail, request_id=request_id(), extra=exc.extra
        )

    @app.exception_handler(connectors.UpstreamError)
    async def _upstream_error(request: Request, exc: connectors.UpstreamError) -> Response:
        status, code, title, headers = _upstream(exc)
        log.warning(
            "upstream_error",
            code=code,
            error=type(exc).__name__,
            source=getattr(exc, "source", None),
            status=getattr(exc, "status", None),
        )
        return problem_response(
            status,
            code,
            title,
            f"source {getattr(exc, 'source', '?')}: {type(exc).__name__}",
            request_id=request_id(),
            headers=headers,
        )

    @app.exception_handler(StateUnavailable)
    async def _state(request: Request, exc: StateUnavailable) -> Response:
        log.warning("state_unavailable", error=str(exc))
        return problem_response(
            503,
            "state_unavailable",
            "The gateway's shared state is unavailable",
            "the waitlist and event stream are kept in Redis, which did not answer; retry",
            request_id=request_id(),
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(MappingError)
    async def _mapping(request: Request, exc: MappingError) -> Response:
        # The path names the field; values never appear in MappingError messages.
        return problem_response(
            502,
            "upstream_invalid",
            "The EHR returned a record we can't use",
            f"unusable upstream data at {exc.path}",
            request_id=request_id(),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return problem_response(
            422,
            "validation_error",
            "The request is not valid",
            "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)[:1000],
            request_id=request_id(),
            extra={"errors": errors[:20]},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route whose path matched; a path
            # served by several routes (GET and POST) supports all of theirs.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem_response(
            exc.status_code,
            code,
            str(exc.detail),
            str(exc.detail),
            request_id=request_id(),
            headers=headers,
        )
