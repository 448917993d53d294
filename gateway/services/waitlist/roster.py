"""Joining, listing and leaving the waitlist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from mappers.model import Patient

from ..errors import InvalidRequest, NotFound, ServiceError
from ..validation import check_date, check_text
from .entries import PRIORITY_RANK, Priority, WaitlistEntry, new_entry_id
from .offers import OfferDesk

__all__ = ["AlreadyWaitlisted", "WaitlistAsk", "WaitlistFilter", "join", "leave", "listing"]

# How far ahead a patient may wait for a visit.
MAX_WINDOW_DAYS = 366
MAX_ENTRIES_PER_TENANT = 20_000


class AlreadyWaitlisted(ServiceError):
    code = "already_waitlisted"
    title = "The patient already waits for this visit type"


@dataclass(frozen=True)
class WaitlistAsk:
    patient_id: str
    service_type: str
    earliest: date
    latest: date
    practitioner_id: str | None = None
    location_id: str | None = None
    min_notice_hours: int = 24
    priority: Priority = "routine"
    note: str | None = None


@dataclass(frozen=True)
class WaitlistFilter:
    patient_id: str | None = None
    service_type: str | None = None
    priority: Priority | None = None
    offered: bool | None = None


async def join(desk: OfferDesk, ask: WaitlistAsk, *, client_id: str) -> WaitlistEntry:
    """Put a patient on the waitlist; the patient must exist in their EHR."""
    check_text("service_type", ask.service_type, max_length=64)
    check_text("note", ask.note, max_length=500)
    check_date("earliest", ask.earliest)
    check_date("latest", ask.latest)
    if ask.latest < ask.earliest:
        raise InvalidRequest("latest must not be before earliest")
    today = desk.wall().astimezone(ZoneInfo(desk.sources.tenant.time_zone)).date()
    if ask.latest < today:
        raise InvalidRequest("latest is in the past")
    if ask.latest - max(ask.earliest, today) > timedelta(days=MAX_WINDOW_DAYS):
        raise InvalidRequest(f"a patient may wait at most {MAX_WINDOW_DAYS} days ahead")
    if ask.practitioner_id is not None:
        desk.sources.resolve(ask.practitioner_id, "Practitioner", "practitioner")
    if ask.location_id is not None:
        desk.sources.resolve(ask.location_id, "Location", "location")
    handle, ref = desk.sources.resolve(ask.patient_id, "Patient", "patient")
    await handle.read_mapped("Patient", ref.id, Patient, what="patient")
    entries = await desk.entries.all(desk.tenant)
    if len(entries) >= MAX_ENTRIES_PER_TENANT:
        raise InvalidRequest("the waitlist is full")
    # Entries as listed (some predate claims); the claim in ``add`` settles joins at once.
    for existing in entries:
        if existing.patient_id == ask.patient_id and existing.service_type == ask.service_type:
            raise AlreadyWaitlisted(
                "this patient already waits for this visit type",
                extra={"entry_id": existing.id},
            )
    entry = WaitlistEntry(
        id=new_entry_id(),
        patient_id=ask.patient_id,
        service_type=ask.service_type,
        practitioner_id=ask.practitioner_id,
        location_id=ask.location_id,
        earliest=ask.earliest,
        latest=ask.latest,
        min_notice_hours=ask.min_notice_hours,
        priority=ask.priority,
        note=ask.note,
        created_at=desk.wall(),
        created_by=client_id,
    )
    waiting = await desk.entries.add(desk.tenant, entry)
    if waiting is not None:
        raise AlreadyWaitlisted(
            "this patient already waits for this visit type", extra={"entry_id": waiting}
        )
    return entry


async def listing(desk: OfferDesk, wanted: WaitlistFilter) -> list[WaitlistEntry]:
    """The tenant's entries matching ``wanted``, in the order offers go to them."""
    found = [
        e
        for e in await desk.entries.all(desk.tenant)
        if (wanted.patient_id is None or e.patient_id == wanted.patient_id)
        and (wanted.service_type is None or e.service_type == wanted.service_type)
        and (wanted.priority is None or e.priority == wanted.priority)
        and (wanted.offered is None or (e.offer_slot_id is not None) == wanted.offered)
    ]
    return sorted(found, key=lambda e: (PRIORITY_RANK[e.priority], e.created_at, e.id))


async def leave(desk: OfferDesk, entry_id: str) -> WaitlistEntry:
    """Take an entry off the waitlist; its open offer goes to the next in line."""
    entry = await desk.entries.get(desk.tenant, entry_id)
    if entry is None or not await desk.entries.remove(desk.tenant, entry_id):
        raise NotFound("no such waitlist entry")
    await desk.withdraw(entry)
    return entry
