"""FastAPI dependencies as ``Annotated`` aliases: the runtime, the caller, its tenant.

All ``async def`` although none awaits: FastAPI runs sync dependencies in a threadpool,
three thread hops per request for nothing. The caller is read from the request by plain
functions (``authenticate``, ``authorize``) that a hot route can call without going
through dependency solving at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from .events import TenantEvents
from .problems import ProblemError
from .runtime import CoverageRuntime, Runtime
from .scope_headers import header
from .security import NotAuthenticated, Principal
from .services.booking import BookingPorts
from .services.coverage import CoverageDesk
from .services.directory import Directory
from .services.money_desk import MoneyDesk
from .services.patient_records import RecordPorts
from .services.slots import SlotSearch
from .services.waitlist import OfferDesk
from .settings import Settings
from .sources import TenantSources

__all__ = [
    "BookingDep",
    "CoverageDep",
    "CoverageDeskDep",
    "CurrentPrincipal",
    "DirectoryDep",
    "EventsDep",
    "FreshDep",
    "MoneyDep",
    "RecordsDep",
    "RuntimeDep",
    "SettingsDep",
    "SlotSearchDep",
    "TenantDep",
    "WaitlistDep",
    "authenticate",
    "authorize",
    "json_body",
    "require_scope",
]

_Model = TypeVar("_Model", bound=BaseModel)


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def authenticate(request: Request) -> Principal:
    """The caller, from its bearer credentials; 401/403 problems otherwise."""
    # The scope's own state dict and headers: Starlette's State and Headers wrappers cost
    # more than the lookups themselves on this every-request path.
    state = request.scope.setdefault("state", {})
    known: Principal | None = state.get("principal")
    if known is not None:  # several dependencies of one request ask
        return known
    runtime: Runtime = request.app.state.runtime
    raw = header(request.scope, b"authorization")
    authorization = raw.decode("latin-1") if raw is not None else None
    try:
        # The client limit (``client_limit``) may have read the credentials already.
        principal = state.get("authenticated") or runtime.authenticator.authenticate(authorization)
    except NotAuthenticated as exc:
        state["denied"] = f"unauthorized: {exc}"
        raise ProblemError(
            401,
            "unauthorized",
            "Authentication required",
            str(exc),
            headers={"WWW-Authenticate": 'Bearer realm="frontdesk"'},
        ) from None
    if principal.tenant not in runtime.tenants:
        state["principal"] = principal
        state["denied"] = "forbidden: the client's tenant is not configured"
        raise ProblemError(403, "forbidden", "Forbidden", "the client's tenant is not configured")
    state["principal"] = principal
    return principal


def authorize(request: Request, scope: str) -> Principal:
    """The caller, if it holds ``scope``."""
    principal = authenticate(request)
    if scope not in principal.scopes:
        detail = f"this client lacks the scope {scope}"
        request.scope.setdefault("state", {})["denied"] = f"forbidden: {detail}"
        raise ProblemError(403, "forbidden", "Forbidden", detail)
    return principal


async def json_body(request: Request, model: type[_Model]) -> _Model:
    """The request body validated as ``model``; errors answer 422 as a body parameter's do.

    Like FastAPI's own body parameters (strict content type), only a JSON media type is
    parsed as JSON."""
    media = (header(request.scope, b"content-type") or b"").split(b";", 1)[0].strip().lower()
    if media != b"application/json" and not (
        media.startswith(b"application/") and media.endswith(b"+json")
    ):
        raise RequestValidationError(
            [{"type": "content_type", "loc": ("body",), "msg": "send the body as application/json"}]
        )
    try:
        raw = await request.body()
    except ClientDisconnect:
        raise ProblemError(
            400, "body_incomplete", "Request body incomplete", "the client went away mid-body"
        ) from None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


async def get_principal(request: Request) -> Principal:
    return authenticate(request)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_scope(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    async def check(request: Request) -> Principal:
        return authorize(request, scope)

    return check


async def tenant_sources(runtime: RuntimeDep, principal: CurrentPrincipal) -> TenantSources:
    return runtime.tenants[principal.tenant]


TenantDep = Annotated[TenantSources, Depends(tenant_sources)]


async def booking_ports(runtime: RuntimeDep, principal: CurrentPrincipal) -> BookingPorts:
    return runtime.booking[principal.tenant]


BookingDep = Annotated[BookingPorts, Depends(booking_ports)]


async def coverage_runtime(runtime: RuntimeDep) -> CoverageRuntime:
    return runtime.coverage


CoverageDep = Annotated[CoverageRuntime, Depends(coverage_runtime)]


async def coverage_desk(runtime: RuntimeDep, principal: CurrentPrincipal) -> CoverageDesk:
    return runtime.coverage.desks[principal.tenant]


CoverageDeskDep = Annotated[CoverageDesk, Depends(coverage_desk)]


async def settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(settings)]


async def directory(runtime: RuntimeDep, principal: CurrentPrincipal) -> Directory:
    return runtime.directory[principal.tenant]


DirectoryDep = Annotated[Directory, Depends(directory)]


async def slot_search(runtime: RuntimeDep, principal: CurrentPrincipal) -> SlotSearch:
    return runtime.slots[principal.tenant]


SlotSearchDep = Annotated[SlotSearch, Depends(slot_search)]


async def wants_fresh(
    cache_control: Annotated[
        str | None,
        Header(
            alias="Cache-Control",
            max_length=200,
            description="`no-cache` reads the EHRs instead of the gateway's cache.",
        ),
    ] = None,
) -> bool:
    """The client's ``Cache-Control: no-cache``: read the EHRs, not the gateway's cache."""
    return cache_control is not None and "no-cache" in cache_control.lower()


FreshDep = Annotated[bool, Depends(wants_fresh)]


async def records(runtime: RuntimeDep, principal: CurrentPrincipal) -> RecordPorts:
    return runtime.records[principal.tenant]


RecordsDep = Annotated[RecordPorts, Depends(records)]


async def money_desk(runtime: RuntimeDep, principal: CurrentPrincipal) -> MoneyDesk:
    return runtime.money[principal.tenant]


MoneyDep = Annotated[MoneyDesk, Depends(money_desk)]


async def waitlist(runtime: RuntimeDep, principal: CurrentPrincipal) -> OfferDesk:
    return runtime.waitlists[principal.tenant]


WaitlistDep = Annotated[OfferDesk, Depends(waitlist)]


async def tenant_events(runtime: RuntimeDep, principal: CurrentPrincipal) -> TenantEvents:
    return TenantEvents(runtime.events, principal.tenant)


EventsDep = Annotated[TenantEvents, Depends(tenant_events)]
