from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from mappers.model import Appointment

from ..deps import BookingDep, CurrentPrincipal, RuntimeDep, TenantDep, require_scope
from ..middleware import note_audit
from ..schemas import (
    BookingRequest,
    CancelRequest,
    ListResponse,
    RescheduleRequest,
    RescheduleResult,
    SourceStatusOut,
)
from ..services import appointments as queries
from ..services import booking

router = APIRouter(prefix="/v1/appointments", tags=["appointments"])
_Read = Depends(require_scope("appointments:read"))
_Write = Depends(require_scope("appointments:write"))
_ID_PATH = Path(min_length=1, max_length=300, pattern=r"^[A-Za-z0-9_-]+$")
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Same key + same body replays the first result",
    ),
]


@router.post("", dependencies=[_Write], status_code=201, operation_id="bookAppointment")
async def book_appointment(
    request: Request,
    response: Response,
    ports: BookingDep,
    principal: CurrentPrincipal,
    body: BookingRequest,
    idempotency_key: IdempotencyKey,
) -> Appointment:
    """Book a free slot for a patient of the same EHR. Losing a race answers 409 slot_taken."""
    note_audit(request, "appointment.book", patient_ids=[body.patient_id])
    appointment, replayed = await booking.book(
        ports,
        client_id=principal.client_id,
        idempotency_key=idempotency_key,
        slot_id=body.slot_id,
        patient_id=body.patient_id,
        reason=body.reason,
        comment=body.comment,
        hold_token=body.hold_token,
    )
    note_audit(
        request,
        "appointment.book",
        patient_ids=[body.patient_id],
        sources=[appointment.source.source],
    )
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/appointments/{appointment.id}"
    return appointment


@router.get("", dependencies=[_Read], operation_id="listAppointments")
async def list_appointments(
    request: Request,
    runtime: RuntimeDep,
    sources: TenantDep,
    patient: Annotated[str, Query(max_length=300, pattern=r"^[A-Za-z0-9_-]+$")],
    start: Annotated[datetime, Query()],
    end: Annotated[datetime, Query()],
) -> ListResponse[Appointment]:
    """A patient's appointments in a date range."""
    note_audit(request, "appointment.search", patient_ids=[patient])
    items, statuses = await queries.list_appointments(
        sources,
        patient_id=patient,
        start=start,
        end=end,
        max_days=runtime.settings.max_date_range_days,
        deadline_seconds=runtime.settings.source_deadline_seconds,
    )
    return ListResponse[Appointment](
        items=items, sources=[SourceStatusOut(**vars(s)) for s in statuses]
    )


@router.get("/{appointment_id}", dependencies=[_Read], operation_id="getAppointment")
async def get_appointment(
    request: Request, sources: TenantDep, appointment_id: Annotated[str, _ID_PATH]
) -> Appointment:
    note_audit(request, "appointment.read")
    appointment = await queries.get_appointment(sources, appointment_id)
    note_audit(
        request,
        "appointment.read",
        patient_ids=[appointment.patient_id] if appointment.patient_id else [],
        sources=[appointment.source.source],
    )
    return appointment


@router.post("/{appointment_id}/cancel", dependencies=[_Write], operation_id="cancelAppointment")
async def cancel_appointment(
    request: Request,
    ports: BookingDep,
    appointment_id: Annotated[str, _ID_PATH],
    body: CancelRequest,
) -> Appointment:
    """Cancel with a reason; the slot is freed."""
    note_audit(request, "appointment.cancel")
    appointment = await booking.cancel(ports, appointment_id=appointment_id, reason=body.reason)
    note_audit(
        request,
        "appointment.cancel",
        patient_ids=[appointment.patient_id] if appointment.patient_id else [],
        sources=[appointment.source.source],
    )
    return appointment


@router.post(
    "/{appointment_id}/reschedule", dependencies=[_Write], operation_id="rescheduleAppointment"
)
async def reschedule_appointment(
    request: Request,
    ports: BookingDep,
    principal: CurrentPrincipal,
    appointment_id: Annotated[str, _ID_PATH],
    body: RescheduleRequest,
    idempotency_key: IdempotencyKey,
) -> RescheduleResult:
    """Book the new slot first, then cancel the old appointment (a saga)."""
    note_audit(request, "appointment.reschedule")
    new, previous = await booking.reschedule(
        ports,
        client_id=principal.client_id,
        idempotency_key=idempotency_key,
        appointment_id=appointment_id,
        slot_id=body.slot_id,
        reason=body.reason,
    )
    note_audit(
        request,
        "appointment.reschedule",
        patient_ids=[new.patient_id] if new.patient_id else [],
        sources=[new.source.source],
    )
    return RescheduleResult(status="rescheduled", appointment=new, previous=previous)
