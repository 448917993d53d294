from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from mappers.model import Appointment

from ..deps import (
    BookingDep,
    CoverageDep,
    CurrentPrincipal,
    DirectoryDep,
    EventsDep,
    MoneyDep,
    RuntimeDep,
    TenantDep,
    require_scope,
)
from ..events import TenantEvents
from ..middleware import note_audit
from ..money_schemas import CheckedIn
from ..params import (
    DATE_PATTERN,
    DESK_TIME_PATTERN,
    TEXT_PATTERN,
    GatewayIdPath,
    GatewayIdQuery,
    SourceQuery,
)
from ..problems import ProblemError
from ..schemas import (
    AppointmentOut,
    BookingRequest,
    CancelRequest,
    ListResponse,
    RescheduleRequest,
    RescheduleResult,
    SourceStatusOut,
)
from ..security import Principal
from ..services import appointments as queries
from ..services import arrivals, booking
from ..services.booking import BookingAsk
from ..services.desk_time import day_bounds, parse_desk_day, parse_desk_time
from ..services.errors import InvalidRequest
from ..services.worklist import WorklistQuery, day_worklist
from ..sources import TenantSources
from . import money_hooks

router = APIRouter(prefix="/v1/appointments", tags=["appointments"])
_Read = Depends(require_scope("appointments:read"))
_Write = Depends(require_scope("appointments:write"))
_ETAG = {"ETag": {"schema": {"type": "string"}, "description": 'The version read, e.g. W/"3".'}}
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        pattern=r'^(W/)?"?[A-Za-z0-9.\-]{1,64}"?$',
        description="The version read (its ETag): refused with 409 version_conflict if it "
        "changed since.",
    ),
]


def _etag(response: Response, appointment: Appointment) -> None:
    if appointment.source.version:
        response.headers["ETag"] = f'W/"{appointment.source.version}"'


_CONFLICT_CHECK_HEADER = {
    "Conflict-Check": {
        "schema": {"type": "string"},
        "description": "complete | overridden | partial; missing=<sources> that did not "
        "answer the check of the patient's other appointments.",
    }
}
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        pattern=TEXT_PATTERN,
        description="Same key + same body replays the first result",
    ),
]


def _required(principal: Principal, scope: str, what: str) -> None:
    if scope not in principal.scopes:
        raise ProblemError(403, "forbidden", "Forbidden", f"{what} needs the scope {scope}")


def _reasons(body: BookingRequest | RescheduleRequest) -> str | None:
    """The reasons a desk gave for an exception, for the audit line."""
    parts = []
    if body.allow_conflict is not None:
        parts.append(f"conflict allowed: {body.allow_conflict.reason}")
    if isinstance(body, BookingRequest) and body.overbook is not None:
        parts.append(f"overbooked: {body.overbook.reason}")
    return "; ".join(parts) or None


@router.post(
    "",
    dependencies=[_Write],
    status_code=201,
    operation_id="bookAppointment",
    responses={
        201: {"headers": {**_CONFLICT_CHECK_HEADER, **money_hooks.GFE_HEADER}},
        200: {"headers": {**_CONFLICT_CHECK_HEADER, **money_hooks.GFE_HEADER}},
    },
)
async def book_appointment(
    request: Request,
    response: Response,
    ports: BookingDep,
    events: EventsDep,
    money: MoneyDep,
    principal: CurrentPrincipal,
    body: BookingRequest,
    idempotency_key: IdempotencyKey,
) -> Appointment:
    """Book a free slot for a patient of the same EHR.

    Refused with ``409 slot_taken`` or ``slot_held`` (another desk was first) and
    ``409 patient_conflict`` (the patient has another appointment then, in any EHR that
    knows them), each with up to three ``alternatives``. ``allow_conflict`` (scope
    appointments:override) and ``overbook`` (scope appointments:overbook, within the
    tenant's limit) book anyway, with the reason audited. ``Conflict-Check: partial``
    says an EHR did not answer the conflict check."""
    note_audit(request, "appointment.book", patient_ids=[body.patient_id], reason=_reasons(body))
    if body.allow_conflict is not None:
        _required(principal, "appointments:override", "allow_conflict")
    if body.overbook is not None:
        _required(principal, "appointments:overbook", "overbook")
    booked = await booking.book(
        ports,
        BookingAsk(
            client_id=principal.client_id,
            idempotency_key=idempotency_key,
            slot_id=body.slot_id,
            patient_id=body.patient_id,
            reason=body.reason,
            comment=body.comment,
            hold_token=body.hold_token,
            allow_conflict=body.allow_conflict.reason if body.allow_conflict else None,
            overbook=body.overbook.reason if body.overbook else None,
        ),
    )
    appointment = booked.appointment
    if booked.conflict_check == "overridden" and not booked.replayed:
        await events.publish("conflict.found", {"appointment_id": appointment.id})
    note_audit(
        request,
        "appointment.book",
        patient_ids=[body.patient_id],
        sources=[appointment.source.source],
        reason=_reasons(body),
    )
    if booked.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/appointments/{appointment.id}"
    response.headers["Conflict-Check"] = _conflict_header(booked)
    await money_hooks.booked(money, appointment, response)
    return appointment


def _conflict_header(booked: booking.Booked) -> str:
    if booked.missing:
        return f"{booked.conflict_check}; missing={','.join(booked.missing)}"
    return booked.conflict_check


_DESK_TIME = (
    "A date (YYYY-MM-DD) or a date and time on the tenant's wall clock; with an offset "
    "(Z, -05:00) an exact instant. Years 1900-2199."
)
DeskTime = Annotated[
    str | None, Query(max_length=40, pattern=DESK_TIME_PATTERN, description=_DESK_TIME)
]


@router.get("", dependencies=[_Read], operation_id="listAppointments")
async def list_appointments(
    request: Request,
    runtime: RuntimeDep,
    sources: TenantDep,
    directory: DirectoryDep,
    coverage: CoverageDep,
    money: MoneyDep,
    patient: Annotated[
        str | None,
        Query(
            max_length=300,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="A patient's appointments (every EHR that knows them), with start and end.",
        ),
    ] = None,
    start: DeskTime = None,
    end: DeskTime = None,
    date: Annotated[
        str | None,
        Query(
            pattern=DATE_PATTERN,
            description="The day's worklist: every appointment of that day (tenant time "
            "zone). Give patient or date.",
        ),
    ] = None,
    location: GatewayIdQuery = None,
    practitioner: GatewayIdQuery = None,
    source: SourceQuery = None,
    include: Annotated[
        list[Literal["coverage", "collect"]] | None,
        Query(
            description="coverage: each patient's latest coverage answer, as a badge; "
            "collect: what to collect at each visit (copay, estimate or cash price)."
        ),
    ] = None,
) -> ListResponse[AppointmentOut]:
    """A patient's appointments in a date range (``patient``, ``start``, ``end``), or the
    day's worklist (``date``, optionally at one ``location`` or for one ``practitioner``)
    across the tenant's EHRs: patient name and age, practitioners, location, visit type."""
    settings = runtime.settings
    zone = ZoneInfo(sources.tenant.time_zone)
    if patient is not None:
        if start is None or end is None:
            raise InvalidRequest("a patient's appointments need start and end")
        note_audit(request, "appointment.search", patient_ids=[patient])
        found, statuses = await queries.list_appointments(
            sources,
            patient_id=patient,
            start=parse_desk_time("start", start, zone),
            end=parse_desk_time("end", end, zone, end=True),
            max_days=settings.max_date_range_days,
            deadline_seconds=settings.source_deadline_seconds,
        )
        items = [AppointmentOut(**a.model_dump()) for a in found]
    else:
        if date is None:
            raise InvalidRequest("give patient (with start and end) or date (the worklist)")
        day = parse_desk_day("date", date)
        first, after = day_bounds(day, zone)
        note_audit(request, "appointment.worklist", sources=[h.id for h in sources.all()])
        items, statuses = await day_worklist(
            sources,
            directory,
            coverage.store,
            WorklistQuery(
                start=first,
                end=after,
                day=day,
                location=location,
                practitioner=practitioner,
                source=source,
                with_coverage="coverage" in (include or []),
            ),
            deadline_seconds=settings.source_deadline_seconds,
        )
        if "collect" in (include or []):
            items = await money_hooks.with_collect(money, items)
        note_audit(
            request,
            "appointment.worklist",
            patient_ids=[a.patient_id for a in items if a.patient_id],
            sources=[s.source for s in statuses],
        )
    request.state.audit_partial = any(s.status != "ok" for s in statuses)
    return ListResponse[AppointmentOut](
        items=items, sources=[SourceStatusOut(**vars(s)) for s in statuses]
    )


@router.get(
    "/{appointment_id}",
    dependencies=[_Read],
    operation_id="getAppointment",
    responses={200: {"headers": _ETAG}},
)
async def get_appointment(
    request: Request, response: Response, sources: TenantDep, appointment_id: GatewayIdPath
) -> Appointment:
    """One appointment; its ETag is what check-in, no-show and cancel take as If-Match."""
    note_audit(request, "appointment.read")
    appointment = await queries.get_appointment(sources, appointment_id)
    _etag(response, appointment)
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
    events: EventsDep,
    money: MoneyDep,
    appointment_id: GatewayIdPath,
    body: CancelRequest,
) -> Appointment:
    """Cancel with a reason; the slot is freed (and offered to the waitlist), and a
    good-faith estimate not yet given for it is no longer due."""
    note_audit(request, "appointment.cancel")
    appointment = await booking.cancel(ports, appointment_id=appointment_id, reason=body.reason)
    await events.publish("appointment.cancelled", {"appointment_id": appointment.id})
    await money_hooks.cancelled(money, appointment_id)
    note_audit(
        request,
        "appointment.cancel",
        patient_ids=[appointment.patient_id] if appointment.patient_id else [],
        sources=[appointment.source.source],
    )
    return appointment


@router.post(
    "/{appointment_id}/reschedule",
    dependencies=[_Write],
    operation_id="rescheduleAppointment",
    responses={200: {"headers": money_hooks.GFE_HEADER}},
)
async def reschedule_appointment(
    request: Request,
    response: Response,
    ports: BookingDep,
    money: MoneyDep,
    principal: CurrentPrincipal,
    appointment_id: GatewayIdPath,
    body: RescheduleRequest,
    idempotency_key: IdempotencyKey,
) -> RescheduleResult:
    """Book the new slot first, then cancel the old appointment (a saga)."""
    note_audit(request, "appointment.reschedule", reason=_reasons(body))
    if body.allow_conflict is not None:
        _required(principal, "appointments:override", "allow_conflict")
    new, previous = await booking.reschedule(
        ports,
        allow_conflict=body.allow_conflict.reason if body.allow_conflict else None,
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
    await money_hooks.cancelled(money, appointment_id)
    await money_hooks.booked(money, new, response)
    return RescheduleResult(status="rescheduled", appointment=new, previous=previous)


async def _arrive(
    request: Request,
    response: Response,
    sources: TenantSources,
    events: TenantEvents,
    appointment_id: str,
    arrival: arrivals.Arrival,
    if_match: str | None,
) -> Appointment:
    action = "appointment.check_in" if arrival == "check-in" else "appointment.no_show"
    note_audit(request, action)
    appointment = await arrivals.move(sources, appointment_id, arrival, if_match=if_match)
    await events.publish(
        "appointment.checked_in" if arrival == "check-in" else "appointment.no_show",
        {"appointment_id": appointment.id},
    )
    note_audit(
        request,
        action,
        patient_ids=[appointment.patient_id] if appointment.patient_id else [],
        sources=[appointment.source.source],
    )
    _etag(response, appointment)
    return appointment


@router.post(
    "/{appointment_id}/check-in",
    dependencies=[_Write],
    operation_id="checkInAppointment",
    responses={200: {"headers": _ETAG}},
)
async def check_in(
    request: Request,
    response: Response,
    sources: TenantDep,
    events: EventsDep,
    money: MoneyDep,
    appointment_id: GatewayIdPath,
    if_match: IfMatch = None,
) -> CheckedIn:
    """The patient is here: the appointment becomes ``arrived`` (``checked-in`` where the
    EHR works so), with ``collect``: what to collect at this visit when the latest
    coverage answer allows it. Asking again changes nothing; an impossible move answers
    ``409 invalid_transition``; a stale If-Match ``409 version_conflict``."""
    appointment = await _arrive(
        request, response, sources, events, appointment_id, "check-in", if_match
    )
    return await money_hooks.checked_in(money, appointment)


@router.post(
    "/{appointment_id}/no-show",
    dependencies=[_Write],
    operation_id="noShowAppointment",
    responses={200: {"headers": _ETAG}},
)
async def no_show(
    request: Request,
    response: Response,
    sources: TenantDep,
    events: EventsDep,
    appointment_id: GatewayIdPath,
    if_match: IfMatch = None,
) -> Appointment:
    """The patient didn't come: the appointment becomes ``noshow`` (where the EHR has
    that move). Asking again changes nothing."""
    return await _arrive(request, response, sources, events, appointment_id, "no-show", if_match)
