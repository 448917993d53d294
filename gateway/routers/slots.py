from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query, Response

from ..deps import (
    BookingDep,
    CurrentPrincipal,
    FreshDep,
    RuntimeDep,
    SlotSearchDep,
    require_scope,
)
from ..params import (
    DESK_TIME_PATTERN,
    HOLD_TOKEN_PATTERN,
    GatewayIdPath,
    GatewayIdQuery,
    SourceQuery,
    text,
)
from ..schemas import HoldOut, HoldRequest, ListResponse, SlotOut, SourceStatusOut
from ..services import booking
from ..services import slots as service
from ..services.desk_time import parse_desk_time

router = APIRouter(prefix="/v1/slots", tags=["slots"])
_Read = Depends(require_scope("slots:read"))
_Write = Depends(require_scope("appointments:write"))
_DESK_TIME = (
    "A date (YYYY-MM-DD: the whole day) or a date and time (YYYY-MM-DDThh:mm[:ss]) on the "
    "tenant's wall clock; with an offset (Z, -05:00) an exact instant. Years 1900-2199."
)
_RANGE = (
    " The range from start to end is at most the tenant's longest (31 days by default) "
    "and end comes after start."
)


@router.get("", dependencies=[_Read], operation_id="findSlots")
async def find_slots(
    response: Response,
    runtime: RuntimeDep,
    search: SlotSearchDep,
    fresh: FreshDep,
    start: Annotated[str, Query(max_length=40, pattern=DESK_TIME_PATTERN, description=_DESK_TIME)],
    end: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=DESK_TIME_PATTERN,
            description=_DESK_TIME
            + " An end date includes its day. Default: start + 7 days."
            + _RANGE,
        ),
    ] = None,
    service_type: Annotated[str | None, Query(**text(64, "A visit type code."))] = None,
    practitioner: GatewayIdQuery = None,
    location: GatewayIdQuery = None,
    source: SourceQuery = None,
) -> ListResponse[SlotOut]:
    """Free slots across the tenant's EHRs, sorted by start, each with its practitioners,
    location and visit type in words; each source's status is listed."""
    zone = ZoneInfo(search.sources.tenant.time_zone)
    query = service.SlotQuery(
        start=parse_desk_time("start", start, zone),
        end=parse_desk_time("end", end, zone, end=True) if end is not None else None,
        service_type=service_type,
        practitioner=practitioner,
        location=location,
        source=source,
    )
    items, statuses, cached = await service.find_slots(search, query, fresh=fresh)
    runtime.metrics.cache_requests.labels("slots", "hit" if cached else "miss").inc()
    response.headers["X-Cache"] = "hit" if cached else "miss"
    return ListResponse[SlotOut](
        items=items, sources=[SourceStatusOut(**vars(s)) for s in statuses]
    )


@router.get("/next-available", dependencies=[_Read], operation_id="nextAvailableSlots")
async def next_available(
    search: SlotSearchDep,
    fresh: FreshDep,
    service_type: Annotated[str | None, Query(**text(64, "A visit type code."))] = None,
    practitioner: GatewayIdQuery = None,
    location: GatewayIdQuery = None,
    source: SourceQuery = None,
    start: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=40,
            pattern=DESK_TIME_PATTERN,
            description=_DESK_TIME + " Default: now.",
        ),
    ] = None,
    per_practitioner: Annotated[int, Query(ge=1, le=5)] = 1,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> ListResponse[SlotOut]:
    """The earliest free slots of each practitioner for a visit type ("first available"):
    at most ``per_practitioner`` each and ``limit`` in all, sorted by start."""
    zone = ZoneInfo(search.sources.tenant.time_zone)
    query = service.SlotQuery(
        start=parse_desk_time("from", start, zone) if start else datetime.now(zone),
        service_type=service_type,
        practitioner=practitioner,
        location=location,
        source=source,
    )
    items, statuses = await service.next_available(
        search, query, per_practitioner=per_practitioner, limit=limit, fresh=fresh
    )
    return ListResponse[SlotOut](
        items=items, sources=[SourceStatusOut(**vars(s)) for s in statuses]
    )


@router.post("/{slot_id}/hold", dependencies=[_Write], status_code=201, operation_id="holdSlot")
async def hold_slot(
    ports: BookingDep, principal: CurrentPrincipal, slot_id: GatewayIdPath, body: HoldRequest
) -> HoldOut:
    """Hold a free slot for this client while the caller decides (default 5 minutes, at
    most 15). Another client's booking of it answers ``409 slot_held``; a booking with
    ``hold_token`` consumes the hold. With the token of its own hold, a client extends it."""
    held = await booking.hold(
        ports,
        client_id=principal.client_id,
        slot_id=slot_id,
        minutes=body.minutes,
        token=body.hold_token,
    )
    return HoldOut(slot_id=held.slot_id, hold_token=held.token, expires_at=held.expires_at)


@router.delete(
    "/{slot_id}/hold", dependencies=[_Write], status_code=204, operation_id="releaseSlotHold"
)
async def release_hold(
    ports: BookingDep,
    principal: CurrentPrincipal,
    slot_id: GatewayIdPath,
    hold_token: Annotated[str, Header(alias="Hold-Token", pattern=HOLD_TOKEN_PATTERN)],
) -> Response:
    """Release a hold before it expires (the caller chose another time, or hung up)."""
    await booking.release_hold(
        ports, client_id=principal.client_id, slot_id=slot_id, token=hold_token
    )
    return Response(status_code=204)
