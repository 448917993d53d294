"""Book a visit: visit type, who or where, dates or the next available -> a slot grid by
day; choosing a slot holds it (a visible countdown), booking confirms. A taken, held or
expired slot is said in words with the next free ones offered. The same slot, hold and
booking services as API v1; the hold token stays in the server-side session."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from mappers import decode_id, display_name

from ...schemas import SlotOut
from ...services import booking
from ...services import patients as patient_service
from ...services import slots as slot_service
from ...services.alternatives import alternatives_for
from ...services.booking import BookingAsk
from ...services.desk_time import day_bounds, parse_desk_day
from ...services.directory import DirectoryQuery
from ...services.errors import InvalidRequest, SlotHeld, SlotTaken
from ..desk import Desk, DeskDep, FormDeskDep

router = APIRouter(prefix="/console", include_in_schema=False)
HOLD_MINUTES = 5
PER_DAY = 16
_ID = r"^[A-Za-z0-9_-]{1,300}$"


async def _patient_links(desk: Desk, patient_id: str) -> tuple[str, dict[str, str]]:
    """The patient's name and their record in each EHR (source -> gateway id)."""
    patient, _ = await patient_service.get_patient(
        desk.sources, patient_id, deadline_seconds=desk.runtime.settings.source_deadline_seconds
    )
    name = (display_name(patient.name) if patient.name else "") or "(no name)"
    return name, {link.source: link.id for link in patient.links}


async def _choices(desk: Desk) -> dict[str, Any]:
    directory = desk.runtime.directory[desk.user.tenant]
    visit_types, _, _ = await directory.visit_types()
    locations, _, _ = await directory.locations(DirectoryQuery())
    return {"visit_types": visit_types, "locations": locations}


@router.get("/book")
async def book_page(
    desk: DeskDep,
    patient: str | None = Query(default=None, pattern=_ID),
    reschedule: str | None = Query(default=None, pattern=_ID),
) -> Response:
    draft = await desk.take_draft("/console/book")
    patient = patient or draft.get("patient") or None
    reschedule = reschedule or draft.get("reschedule") or None
    name: str | None = None
    if patient:
        desk.audit("patient.read", patient_ids=[patient])
        name, _ = await _patient_links(desk, patient)
    today = datetime.now(desk.zone).date()
    return desk.page(
        "book.html",
        nav="book",
        patient_id=patient or "",
        patient_name=name,
        reschedule=reschedule or "",
        form={
            "from": today.isoformat(),
            "to": (today + timedelta(days=6)).isoformat(),
            **{k: v for k, v in draft.items() if k in _SEARCH_FIELDS},
        },
        restored=bool(draft),
        **await _choices(desk),
    )


_SEARCH_FIELDS = (
    "patient",
    "reschedule",
    "service_type",
    "where",
    "practitioner_name",
    "mode",
    "from",
    "to",
)


def _search_form(form: dict[str, str]) -> dict[str, str]:
    return {k: form.get(k, "") for k in _SEARCH_FIELDS}


async def _slots(desk: Desk, form: dict[str, str], sources: dict[str, str]) -> dict[str, Any]:
    directory = desk.runtime.directory[desk.user.tenant]
    search = desk.runtime.slots[desk.user.tenant]
    where = form.get("where", "")
    location = where[4:] if where.startswith("loc:") else None
    wanted: set[str] | None = None
    practitioner: str | None = None
    if form.get("practitioner_name"):
        people, _, _ = await directory.practitioners(DirectoryQuery(name=form["practitioner_name"]))
        if not people:
            raise InvalidRequest("no practitioner has that name: check the spelling")
        wanted = {p.id for p in people}
        if len(people) == 1:
            practitioner = people[0].id
    only_source = next(iter(sources)) if len(sources) == 1 else None
    base = slot_service.SlotQuery(
        start=datetime.now(desk.zone),
        service_type=form.get("service_type") or None,
        practitioner=practitioner,
        location=location if practitioner is None else None,
        source=only_source,
    )
    if form.get("mode") == "next":
        items, statuses = await slot_service.next_available(
            search, base, per_practitioner=3, limit=30
        )
    else:
        first = parse_desk_day(
            "from", form.get("from") or datetime.now(desk.zone).date().isoformat()
        )
        last = parse_desk_day("to", form.get("to") or first.isoformat())
        start, _ = day_bounds(first, desk.zone)
        _, end = day_bounds(last, desk.zone)
        start = max(start, datetime.now(desk.zone))
        if end <= start:
            raise InvalidRequest("the dates are in the past: choose today or later")
        items, statuses, _ = await slot_service.find_slots(
            search, _replace(base, start=start, end=end)
        )
    items = [s for s in items if s.source.source in sources]
    if wanted is not None:
        items = [s for s in items if any(r.id in wanted for r in s.practitioners)]
    return {"days": _by_day(desk, items), "statuses": statuses, "count": len(items)}


def _replace(query: slot_service.SlotQuery, **changes: Any) -> slot_service.SlotQuery:
    return replace(query, **changes)


def _by_day(desk: Desk, items: list[SlotOut]) -> list[tuple[date, list[SlotOut], int]]:
    def local_day(slot: SlotOut) -> date:
        return slot.start.astimezone(desk.zone).date()

    days = []
    for day, group in groupby(sorted(items, key=lambda s: s.start), key=local_day):
        slots = list(group)
        days.append((day, slots[:PER_DAY], max(len(slots) - PER_DAY, 0)))
    return days


@router.post("/book/slots")
async def find(desk: FormDeskDep) -> Response:
    form = _search_form(desk.form)
    if not form["patient"]:
        raise InvalidRequest("find the patient first, then book from their card")
    desk.audit("patient.read", patient_ids=[form["patient"]])
    name, sources = await _patient_links(desk, form["patient"])
    found = await _slots(desk, form, sources)
    return desk.view(
        "book.html",
        "_slots.html",
        nav="book",
        patient_id=form["patient"],
        patient_name=name,
        reschedule=form["reschedule"],
        form=form,
        **found,
        **(await _choices(desk) if not desk.htmx else {}),
    )


def _slot_words(form: dict[str, str]) -> dict[str, str]:
    keys = ("slot_start", "slot_who", "slot_where", "slot_what")
    return {k: form.get(k, "") for k in keys}


@router.post("/book/hold")
async def hold(desk: FormDeskDep) -> Response:
    form = _search_form(desk.form)
    slot_id = desk.form.get("slot_id", "")
    ports = desk.runtime.booking[desk.user.tenant]
    desk.audit("slot.hold", patient_ids=[form["patient"]] if form["patient"] else [])
    try:
        held = await booking.hold(
            ports, client_id=desk.principal.client_id, slot_id=slot_id, minutes=HOLD_MINUTES
        )
    except (SlotHeld, SlotTaken) as exc:
        return _refused(desk, form, exc)
    desk.session.holds[slot_id] = [held.token, held.expires_at.isoformat()]
    await desk.console.sessions.save(desk.session)
    name, _ = await _patient_links(desk, form["patient"])
    return desk.view(
        "book_hold.html",
        "_hold.html",
        nav="book",
        form=form,
        slot_id=slot_id,
        slot=_slot_words(desk.form),
        patient_name=name,
        expires=held.expires_at.astimezone(UTC).isoformat(),
        expires_local=held.expires_at,
        idempotency_key=secrets.token_urlsafe(16),
    )


def _refused(
    desk: Desk, form: dict[str, str], exc: SlotHeld | SlotTaken, *, expired: str | None = None
) -> Response:
    alternatives = [SlotOut.model_validate(s) for s in exc.extra.get("alternatives", [])]
    words = (
        "Another desk is holding this slot."
        if isinstance(exc, SlotHeld)
        else "This slot was just taken."
    )
    return desk.view(
        "book_refused.html",
        "_refused.html",
        status_code=409,
        nav="book",
        form=form,
        words=expired or words,
        alternatives=alternatives,
    )


@router.post("/book/confirm")
async def confirm(desk: FormDeskDep) -> Response:
    form = _search_form(desk.form)
    slot_id = desk.form.get("slot_id", "")
    ports = desk.runtime.booking[desk.user.tenant]
    held = desk.session.holds.get(slot_id)
    token, expires = (held[0], held[1]) if held else (None, None)
    _, sources = await _patient_links(desk, form["patient"])
    handle, _ = desk.sources.resolve(slot_id, None, "slot")
    patient_id = sources.get(handle.id)
    if patient_id is None:
        raise InvalidRequest(
            "the patient has no record in this slot's EHR: register them there first"
        )
    expired = expires is not None and datetime.fromisoformat(expires) <= datetime.now(UTC)
    desk.audit("appointment.book", patient_ids=[patient_id])
    if expired:
        desk.session.holds.pop(slot_id, None)
        await desk.console.sessions.save(desk.session)
        # Nothing booked: the hold ran out. Offer it again (if still free) and the next ones.
        offered = await alternatives_for(
            ports.slots, ports.holds, handle, decode_id(slot_id), now=datetime.now(UTC)
        )
        return desk.view(
            "book_refused.html",
            "_refused.html",
            status_code=409,
            nav="book",
            form=form,
            words="Your hold on this slot expired, so it was not booked. Hold it again "
            "(if nobody took it meanwhile) or choose one of the next free slots.",
            alternatives=offered,
            again=slot_id,
            slot=_slot_words(desk.form),
        )
    try:
        if form["reschedule"]:
            if token is not None:
                await booking.release_hold(
                    ports, client_id=desk.principal.client_id, slot_id=slot_id, token=token
                )
            appointment, _ = await booking.reschedule(
                ports,
                client_id=desk.principal.client_id,
                idempotency_key=desk.form.get("idempotency_key") or secrets.token_urlsafe(16),
                appointment_id=form["reschedule"],
                slot_id=slot_id,
                reason="rescheduled at the desk",
            )
        else:
            booked = await booking.book(
                ports,
                BookingAsk(
                    client_id=desk.principal.client_id,
                    idempotency_key=desk.form.get("idempotency_key") or secrets.token_urlsafe(16),
                    slot_id=slot_id,
                    patient_id=patient_id,
                    reason=desk.form.get("reason") or None,
                    hold_token=token,
                ),
            )
            appointment = booked.appointment
    except (SlotHeld, SlotTaken) as exc:
        return _refused(desk, form, exc)
    desk.session.holds.pop(slot_id, None)
    await desk.console.sessions.save(desk.session)
    desk.audit("appointment.book", patient_ids=[patient_id], sources=[handle.id])
    name, _ = await _patient_links(desk, form["patient"])
    return desk.view(
        "book_done.html",
        "_booked.html",
        nav="book",
        form=form,
        appointment=appointment,
        slot=_slot_words(desk.form),
        patient_name=name,
        rescheduled=bool(form["reschedule"]),
    )


@router.post("/book/release")
async def release(desk: FormDeskDep) -> Response:
    slot_id = desk.form.get("slot_id", "")
    held = desk.session.holds.pop(slot_id, None)
    if held is not None:
        await booking.release_hold(
            desk.runtime.booking[desk.user.tenant],
            client_id=desk.principal.client_id,
            slot_id=slot_id,
            token=held[0],
        )
        await desk.console.sessions.save(desk.session)
    form = _search_form(desk.form)
    return desk.view(
        "book_refused.html",
        "_refused.html",
        nav="book",
        form=form,
        words="Hold released: the slot is free for others again.",
        alternatives=[],
    )
