"""The Waitlist screen: who waits for which visit, in the order freed slots are offered to
them, and the open offers with their countdown. An offer is booked for its patient with
its hold (the booking service API v1 uses) or declined (the next in line gets it). A
patient joins from their card. The screen updates itself when an offer arrives or ends
(the console's event stream, ``routes.events``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import ValidationError

from ...params import GatewayIdPath
from ...routers.waitlist import ENTRY_ID_PATTERN
from ...schemas import WaitlistRequest
from ...services import booking
from ...services import waitlist as service
from ...services.booking import BookingAsk
from ...services.conflicts import PatientConflict
from ...services.directory import DirectoryQuery
from ...services.errors import InvalidRequest, NotFound, PatientNotInSource, SlotHeld, SlotTaken
from ...services.waitlist import WaitlistOffer
from ..desk import Desk, DeskDep, FormDeskDep
from ..form_errors import invalid_fields
from ..people import names_of
from ..refusals import conflict_view, not_in_source_words, override_reason
from ..waitlist_board import PRIORITY_WORDS, read_board, visit_words
from .patients import card_context

router = APIRouter(prefix="/console", include_in_schema=False)
EntryId = Annotated[str, Path(pattern=ENTRY_ID_PATTERN)]
HOME = "/console/waitlist"
# Days a patient waits for by default, from today.
DEFAULT_WINDOW_DAYS = 30


_READ = "waitlist:read"
_WRITE = "waitlist:write"


async def _board(
    desk: Desk, *, without_offer: str | None = None, after_action: bool = False
) -> dict[str, Any]:
    desk.require(_READ, "your role may not see the waitlist")
    board = await read_board(desk.runtime, desk.user.tenant, without_offer=without_offer)
    (desk.audit_also if after_action else desk.audit)(
        "waitlist.list", patient_ids=board.patient_ids
    )
    return {"board": board, "priority_words": PRIORITY_WORDS, "now": datetime.now(UTC)}


@router.get("/waitlist")
async def waitlist_page(desk: DeskDep) -> Response:
    return desk.page(
        "waitlist.html", nav="waitlist", flash=await desk.take_flash(), **await _board(desk)
    )


@router.get("/waitlist/board")
async def board(desk: DeskDep) -> Response:
    """The entries and offers alone: the screen refreshes them when an event says so."""
    return desk.page("_board.html", **await _board(desk))


async def _after(
    desk: Desk,
    *,
    status_code: int = 200,
    without_offer: str | None = None,
    flash: str | None = None,
    **outcome: Any,
) -> Response:
    """What an action on the screen answers: its outcome above a fresh board (htmx: the
    outcome, and the board swapped out of band); without JavaScript, back to the screen
    with a message, or the whole screen when there is more to say than a message."""
    if not desk.htmx and flash is not None:
        return await desk.redirect(HOME, flash)
    context = {**await _board(desk, without_offer=without_offer, after_action=True), **outcome}
    if flash is not None:
        context.setdefault("message", flash)
    return desk.view(
        "waitlist.html", "_offer_outcome.html", status_code=status_code, nav="waitlist", **context
    )


# --- joining, from the patient card -----------------------------------------------------


async def _practitioner(desk: Desk, name: str) -> str | None:
    if not name:
        return None
    directory = desk.runtime.directory[desk.user.tenant]
    people, _, _ = await directory.practitioners(DirectoryQuery(name=name))
    if not people:
        raise InvalidRequest("no practitioner has that name: check the spelling")
    if len(people) > 1:
        raise InvalidRequest(
            f"{len(people)} practitioners have that name: type more of it, or leave it "
            "empty for anyone"
        )
    return people[0].id


async def _ask(desk: Desk, patient_id: str) -> service.WaitlistAsk:
    form = desk.form
    where = form.get("wl_where", "")
    today = datetime.now(desk.zone).date()
    body = {
        "patient_id": patient_id,
        "service_type": form.get("wl_service_type", ""),
        "practitioner_id": await _practitioner(desk, form.get("wl_practitioner", "")),
        "location_id": where[4:] if where.startswith("loc:") else None,
        "earliest": form.get("wl_earliest") or today.isoformat(),
        "latest": form.get("wl_latest")
        or (today + timedelta(days=DEFAULT_WINDOW_DAYS)).isoformat(),
        "min_notice_hours": form.get("wl_notice") or 24,
        "priority": form.get("wl_priority") or "routine",
        "note": form.get("wl_note") or None,
    }
    try:
        asked = WaitlistRequest.model_validate(body)
    except ValidationError as exc:
        raise invalid_fields(exc) from None
    return service.WaitlistAsk(**asked.model_dump())


@router.post("/patients/{patient_id}/waitlist")
async def join(desk: FormDeskDep, patient_id: GatewayIdPath) -> Response:
    desk.audit("waitlist.join", patient_ids=[patient_id])
    desk.require(_WRITE, "your role may not put patients on the waitlist")
    ask = await _ask(desk, patient_id)
    entry = await service.join(
        desk.runtime.waitlists[desk.user.tenant], ask, client_id=desk.principal.client_id
    )
    visits = await visit_words(desk.runtime.directory[desk.user.tenant])
    message = f"Added to the waitlist for {visits.get(entry.service_type, entry.service_type)}."
    if not desk.htmx:
        return await desk.redirect(f"/console/patients/{patient_id}", message)
    return desk.page(
        "_card_body.html", saved=message, **await card_context(desk, patient_id, after_action=True)
    )


# --- leaving ---------------------------------------------------------------------------


async def _name(desk: Desk, patient_id: str) -> str:
    names, _ = await names_of(
        desk.sources, [patient_id], deadline_seconds=desk.runtime.settings.source_deadline_seconds
    )
    return names.get(patient_id, "The patient")


@router.post("/waitlist/{entry_id}/remove")
async def remove(desk: FormDeskDep, entry_id: EntryId) -> Response:
    desk.audit("waitlist.leave")
    desk.require(_WRITE, "your role may not take patients off the waitlist")
    entry = await service.leave(desk.runtime.waitlists[desk.user.tenant], entry_id)
    desk.audit("waitlist.leave", patient_ids=[entry.patient_id])
    name = await _name(desk, entry.patient_id)
    return await _after(desk, flash=f"{name} is off the waitlist.")


# --- offers -----------------------------------------------------------------------------


async def _offer(desk: Desk, slot_id: str) -> WaitlistOffer:
    """The open offer of ``slot_id`` that the desk saw: the same patient's entry. An offer
    that passed to the next in line meanwhile is not acted on by mistake."""
    desk.require(_WRITE, "your role may not act on waitlist offers")
    offer = await desk.runtime.waitlists[desk.user.tenant].offer_of(slot_id)
    if offer is None or offer.entry_id != desk.form.get("entry_id"):
        raise NotFound(
            "this offer has ended (booked, declined or out of time): the list now shows "
            "where the slot went"
        )
    return offer


@router.post("/waitlist/offers/{slot_id}/book")
async def book_offer(desk: FormDeskDep, slot_id: GatewayIdPath) -> Response:
    offer = await _offer(desk, slot_id)
    desk.audit("appointment.book", patient_ids=[offer.patient_id])
    allow_conflict = override_reason(desk)
    why = f"conflict allowed: {allow_conflict}" if allow_conflict else None
    desk.audit("appointment.book", patient_ids=[offer.patient_id], reason=why)
    name = await _name(desk, offer.patient_id)
    ports = desk.runtime.booking[desk.user.tenant]
    try:
        booked = await booking.book(
            ports,
            BookingAsk(
                client_id=desk.principal.client_id,
                # One booking per offer, however often the button is pressed.
                idempotency_key=f"offer:{offer.slot_id}:{offer.entry_id}",
                slot_id=offer.slot_id,
                patient_id=offer.patient_id,
                hold_token=offer.hold_token,
                allow_conflict=allow_conflict,
            ),
        )
    except (SlotHeld, SlotTaken):
        return await _after(
            desk,
            status_code=409,
            kind="error",
            message="This offer ended before it was booked: the slot was taken or passed on.",
        )
    except PatientConflict as exc:
        return await _after(
            desk,
            status_code=409,
            offer=offer,
            message=f"{name} already has an appointment at that time.",
            **conflict_view(desk, exc),
        )
    except PatientNotInSource:
        return await _after(
            desk,
            status_code=409,
            kind="error",
            message=not_in_source_words(offer.slot.source.source),
        )
    appointment = booked.appointment
    desk.audit(
        "appointment.book",
        patient_ids=[offer.patient_id],
        sources=[appointment.source.source],
        reason=why,
    )
    if booked.conflict_check == "overridden" and not booked.replayed:
        await desk.events.publish("conflict.found", {"appointment_id": appointment.id})
    zone = desk.zone
    when = offer.slot.start.astimezone(zone).strftime("%a %-d %b %Y %-I:%M %p")
    return await _after(
        desk, without_offer=offer.slot_id, flash=f"Booked: {name}, {when}.", kind="ok"
    )


@router.post("/waitlist/offers/{slot_id}/decline")
async def decline_offer(desk: FormDeskDep, slot_id: GatewayIdPath) -> Response:
    offer = await _offer(desk, slot_id)
    desk.audit("waitlist.decline", patient_ids=[offer.patient_id])
    await desk.runtime.waitlists[desk.user.tenant].decline(slot_id)
    name = await _name(desk, offer.patient_id)
    return await _after(
        desk, flash=f"Declined for {name}: the slot goes to the next in line.", kind="ok"
    )
