from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import RuntimeDep
from ..runtime import Runtime
from ..scope_headers import header
from ..security import NotAuthenticated

router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="health")
async def healthz(runtime: RuntimeDep) -> dict[str, object]:
    """The process is up. Says SANDBOX when serving simulated EHRs."""
    return {"status": "ok", "mode": "SANDBOX" if runtime.sandbox else "live"}


@router.get("/readyz", operation_id="ready")
async def readyz(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Ready when the cache answers and at least one source per tenant has a closed breaker.

    Anyone (a load balancer) sees ``ready``; the cache state and each tenant's sources are
    shown only to a caller with the ``operations:read`` scope."""
    cache_ok = await runtime.cache.ping()
    sources: dict[str, dict[str, str]] = {}
    ready = True
    for tenant_id, tenant in runtime.tenants.items():
        states = {h.id: str(h.client.health().breaker.state) for h in tenant.all()}
        for source_id, state in states.items():
            runtime.metrics.breaker_state.labels(source_id).set(
                {"closed": 0.0, "half_open": 0.5, "open": 1.0}.get(state, 1.0)
            )
        sources[tenant_id] = states
        if states and all(s == "open" for s in states.values()):
            ready = False
    body: dict[str, object] = {"ready": ready}
    if _operator(request, runtime):
        # Without Redis the gateway still serves (uncached): degraded, not unready.
        body.update(cache="ok" if cache_ok else "degraded", sources=sources)
    return JSONResponse(body, status_code=200 if ready else 503)


def _operator(request: Request, runtime: Runtime) -> bool:
    raw = header(request.scope, b"authorization")
    if raw is None:
        return False
    try:
        principal = runtime.authenticator.authenticate(raw.decode("latin-1"))
    except NotAuthenticated:
        return False
    return "operations:read" in principal.scopes


@router.get("/metrics", operation_id="metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep) -> Response:
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
