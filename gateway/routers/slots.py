from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from mappers.model import Slot

from ..deps import RuntimeDep, TenantDep, require_scope
from ..schemas import ListResponse, SourceStatusOut
from ..services import slots as service

router = APIRouter(prefix="/v1/slots", tags=["slots"])


@router.get("", dependencies=[Depends(require_scope("slots:read"))], operation_id="findSlots")
async def find_slots(
    response: Response,
    runtime: RuntimeDep,
    sources: TenantDep,
    start: Annotated[datetime, Query(description="ISO 8601 with offset")],
    end: Annotated[datetime | None, Query(description="default: start + 7 days")] = None,
    service_type: Annotated[str | None, Query(max_length=64)] = None,
    practitioner: Annotated[str | None, Query(max_length=300, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    location: Annotated[str | None, Query(max_length=300, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    source: Annotated[str | None, Query(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")] = None,
) -> ListResponse[Slot]:
    """Free slots across the tenant's EHRs, sorted by start; each source's status is listed."""
    settings = runtime.settings
    query = service.SlotQuery(
        start=start,
        end=end,
        service_type=service_type,
        practitioner=practitioner,
        location=location,
        source=source,
    )
    items, statuses, cached = await service.find_slots(
        sources,
        query,
        cache=runtime.cache,
        keys=runtime.keys,
        ttl_seconds=settings.cache.slots_ttl_seconds,
        max_days=settings.max_date_range_days,
        deadline_seconds=settings.source_deadline_seconds,
    )
    runtime.metrics.cache_requests.labels("slots", "hit" if cached else "miss").inc()
    response.headers["X-Cache"] = "hit" if cached else "miss"
    return ListResponse[Slot](items=items, sources=[SourceStatusOut(**vars(s)) for s in statuses])
