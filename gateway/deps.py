"""FastAPI dependencies as ``Annotated`` aliases: the runtime, the caller, its tenant.

All ``async def`` although none awaits: FastAPI runs sync dependencies in a threadpool,
three thread hops per request for nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from .problems import ProblemError
from .runtime import Runtime
from .security import NotAuthenticated, Principal
from .sources import TenantSources

__all__ = ["CurrentPrincipal", "RuntimeDep", "require_scope"]


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_principal(
    runtime: RuntimeDep,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    try:
        principal = runtime.authenticator.authenticate(authorization)
    except NotAuthenticated as exc:
        raise ProblemError(
            401,
            "unauthorized",
            "Authentication required",
            str(exc),
            headers={"WWW-Authenticate": 'Bearer realm="frontdesk"'},
        ) from None
    if principal.tenant not in runtime.tenants:
        raise ProblemError(403, "forbidden", "Forbidden", "the client's tenant is not configured")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_scope(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: CurrentPrincipal) -> Principal:
        if scope not in principal.scopes:
            raise ProblemError(
                403, "forbidden", "Forbidden", f"this client lacks the scope {scope}"
            )
        return principal

    return check


async def tenant_sources(runtime: RuntimeDep, principal: CurrentPrincipal) -> TenantSources:
    return runtime.tenants[principal.tenant]


TenantDep = Annotated[TenantSources, Depends(tenant_sources)]
