from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import RuntimeDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="health")
async def healthz(runtime: RuntimeDep) -> dict[str, object]:
    """The process is up. Says SANDBOX when serving simulated EHRs."""
    return {"status": "ok", "mode": "SANDBOX" if runtime.sandbox else "live"}


@router.get("/readyz", operation_id="ready")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready when the cache answers and at least one source per tenant has a closed breaker."""
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
    # Without Redis the gateway still serves (uncached): degraded, not unready.
    body = {"ready": ready, "cache": "ok" if cache_ok else "degraded", "sources": sources}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", operation_id="metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep) -> Response:
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
