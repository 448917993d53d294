"""Booking on slot-search EHRs (HAPI, generic R4, Oracle Health).

Free time: ``GET [base]/Slot?status=free&start=ge..&start=lt..`` (with the actor's
Schedules when a practitioner or location is asked for).

Booking:
1. re-read the Slot: it must be free;
2. conditional-create the Appointment (If-None-Exist on an identifier derived from the
   client's Idempotency-Key, so a retried create never doubles);
3. mark the Slot busy with If-Match on the version read in step 1, where the vendor
   profile says the server doesn't (HAPI doesn't; Oracle Health does).
Losing a race anywhere (the slot is no longer free, 412, 409) answers slot_taken and
deletes the Appointment this call created (compensation).

Cancel: PUT the Appointment with status cancelled and a reason, If-Match on the version
read, then free its Slots (again only where the profile says the client must).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors import Conflict, FhirClient, PreconditionFailed, SearchPage, UpstreamError
from connectors import NotFound as UpstreamNotFound
from mappers import GatewayId, MappingError, decode_id, from_bundle_pages, from_fhir
from mappers.model import Appointment, Schedule, Slot
from mappers.outbound import (
    BOOKING_IDENTIFIER_SYSTEM,
    booking_if_none_exist,
    build_booking_appointment,
    build_cancellation,
)
from mappers.outbound.appointment_status import with_status

from ...logs import get_logger
from ..errors import (
    NotFound,
    OverbookLimit,
    OverbookUnsupported,
    SlotTaken,
    SlotUnavailable,
)
from .port import BookingDetails, Offer, SlotWindow
from .status_moves import status_moves

__all__ = ["SlotCreateScheduler", "version_of"]

log = get_logger(__name__)
_PAGE = "200"
_MAX_PAGES = 10


def _offer(slot: Slot, schedule: Schedule | None) -> Offer:
    if schedule is None:
        return Offer(slot)
    people = tuple(
        r for r in schedule.actor_refs if r.resource_type in ("Practitioner", "PractitionerRole")
    )
    place = next((r for r in schedule.actor_refs if r.resource_type == "Location"), None)
    return Offer(slot, people, place, tuple(schedule.service_type_codings))


# An Appointment in one of these no longer holds its slot.
_RELEASED = frozenset({"cancelled", "noshow", "entered-in-error"})
# How many bookings an overbooked slot holds: a count the gateway keeps, so that every
# overbooking changes the Slot and its If-Match update can lose a race (a server that
# suppresses unchanged updates would otherwise let two overbookings through at once).
OVERBOOK_COUNT_URL = "urn:frontdesk:slot-bookings"


def _overbooked(slot_json: dict[str, Any], bookings: int) -> dict[str, Any]:
    extensions = [
        e
        for e in slot_json.get("extension") or []
        if not (isinstance(e, dict) and e.get("url") == OVERBOOK_COUNT_URL)
    ]
    extensions.append({"url": OVERBOOK_COUNT_URL, "valueInteger": bookings})
    return {**slot_json, "overbooked": True, "extension": extensions}


def version_of(resource: dict[str, Any]) -> str | None:
    """``meta.versionId``, the If-Match value for a guarded update."""
    meta = resource.get("meta")
    if isinstance(meta, dict):
        v = meta.get("versionId")
        return v if isinstance(v, str) else None
    return None


class SlotCreateScheduler:
    slot_types = frozenset({"Slot"})
    can_rebook = False

    def __init__(self, client: FhirClient, source: str) -> None:
        self._client = client
        self._source = source
        self._marks_slots = client.profile.client_marks_slot_busy
        self._moves = status_moves(client.profile)

    async def free_slots(self, window: SlotWindow) -> list[Offer]:
        """GET [base]/Slot?status=free&start=ge..&start=lt..&_include=Slot:schedule: each
        slot with its Schedule's practitioners and location, from any page."""
        params: dict[str, str | list[str]] = {
            "status": "free",
            "start": [f"ge{window.start.isoformat()}", f"lt{window.end.isoformat()}"],
            "_include": "Slot:schedule",
            "_count": _PAGE,
        }
        if window.actor is not None:
            schedules = await self._schedule_ids(window.actor)
            if not schedules:
                return []
            params["schedule"] = ",".join(f"Schedule/{sid}" for sid in schedules)
        if window.service_type:
            params["service-type"] = window.service_type
        # Pages are mapped together once: a Schedule included on one page serves the
        # Slots of any page.
        page: SearchPage | None = await self._client.search_page("Slot", params)
        bundles: list[dict[str, Any]] = []
        seen = 0
        while page is not None and len(bundles) < _MAX_PAGES:
            bundles.append(page.bundle)
            seen += len(page.resources)
            if seen >= window.limit:
                break
            page = await self._client.next_page(page, "Slot")
        mapped = from_bundle_pages(bundles, source=self._source)
        offers = [
            _offer(slot, mapped.get(slot.schedule_id, Schedule))
            for slot in mapped.matches
            if isinstance(slot, Slot) and slot.status == "free"
        ]
        return offers[: window.limit]

    async def _schedule_ids(self, actor: str) -> list[str]:
        """Upstream ids of the actor's Schedules (only ids are needed: no mapping)."""
        ids: list[str] = []
        async for resource in self._client.search("Schedule", {"actor": actor, "_count": _PAGE}):
            rid = resource.get("id")
            if isinstance(rid, str) and rid:
                ids.append(rid)
        return ids

    async def slot_time(self, slot: GatewayId) -> tuple[datetime, datetime] | None:
        record = from_fhir(
            await self._read("Slot", slot.id, "slot"), source=self._source, expect=Slot
        )
        return (record.start, record.end) if record.end is not None else None

    async def hold(self, slot: GatewayId, minutes: int) -> str | None:
        """A free Slot can be held; the hold itself lives in the gateway (HAPI and R4
        servers have no hold)."""
        del minutes
        record = from_fhir(
            await self._read("Slot", slot.id, "slot"), source=self._source, expect=Slot
        )
        if record.status != "free":
            raise SlotTaken("the slot is no longer free")
        return None

    async def release(self, upstream: str) -> None:
        del upstream  # ``hold`` never holds upstream here

    async def book(self, slot: GatewayId, details: BookingDetails) -> Appointment:
        slot_json = await self._read("Slot", slot.id, "slot")
        record = from_fhir(slot_json, source=self._source, expect=Slot)
        if record.end is None:
            raise SlotUnavailable("the slot has no end time; it can't be booked")
        bookings = 0
        if record.status != "free":
            if details.overbook_limit is None:
                raise SlotTaken("the slot is no longer free")
            bookings = await self._overbookable(slot, record, details.overbook_limit)
        schedule: Schedule | None = None
        if record.schedule_id is not None:
            schedule_json = await self._read(
                "Schedule", decode_id(record.schedule_id).id, "schedule"
            )
            try:
                schedule = from_fhir(schedule_json, source=self._source, expect=Schedule)
            except MappingError:
                schedule = None  # the booking still names the slot; actors are a nicety
        resource = build_booking_appointment(
            slot=record,
            schedule=schedule,
            patient_id=details.patient,
            idempotency_key=details.idempotency_digest,
            identifier_system=BOOKING_IDENTIFIER_SYSTEM,
            reason=details.reason,
            comment=details.comment,
        )
        identifier_value = resource["identifier"][0]["value"]
        created = await self._client.create(
            resource,
            if_none_exist=booking_if_none_exist(BOOKING_IDENTIFIER_SYSTEM, identifier_value),
        )
        appointment_id = str(created.get("id"))
        if self._marks_slots:
            busy = {**slot_json, "status": "busy"}
            if bookings:
                busy = _overbooked(busy, bookings + 1)
            try:
                await self._client.update(busy, if_match=version_of(slot_json))
            except Conflict:
                await self._compensate(appointment_id)
                raise SlotTaken("another booking took the slot first") from None
            except UpstreamError:
                await self._compensate(appointment_id)
                raise
        return from_fhir(created, source=self._source, expect=Appointment)

    async def _overbookable(self, slot: GatewayId, record: Slot, limit: int) -> int:
        """How many bookings the busy slot holds, if one more is allowed."""
        if not self._marks_slots:
            # The EHR keeps its slots itself (Oracle Health): it would refuse a busy one.
            raise OverbookUnsupported("this EHR manages its slots itself: overbook it there")
        if record.status != "busy":
            raise SlotUnavailable("the slot is not open for booking")
        bookings = 0
        params = {"slot": f"Slot/{slot.id}", "_count": "50"}
        async for found in self._client.search("Appointment", params, max_resources=100):
            if found.get("status") not in _RELEASED:
                bookings += 1
        if bookings >= 1 + limit:
            raise OverbookLimit(f"the slot already has {bookings} bookings")
        return max(bookings, 1)

    async def set_status(
        self, upstream_id: str, current: dict[str, Any], target: str
    ) -> dict[str, Any]:
        """PUT the Appointment as read with its new status, If-Match on its version."""
        updated = with_status(current, target, transitions=self._moves)
        return await self._client.update(updated, if_match=version_of(current))

    async def cancel(
        self, upstream_id: str, current: dict[str, Any], reason: str
    ) -> dict[str, Any]:
        updated = await self._client.update(
            build_cancellation(current, reason), if_match=version_of(current)
        )
        if self._marks_slots:
            for ref in current.get("slot") or []:
                reference = ref.get("reference") if isinstance(ref, dict) else None
                if isinstance(reference, str) and reference.startswith("Slot/"):
                    await self._free_slot(reference.removeprefix("Slot/"))
        return updated

    async def _read(self, resource_type: str, upstream_id: str, what: str) -> dict[str, Any]:
        try:
            return await self._client.read(resource_type, upstream_id)
        except UpstreamNotFound:
            raise NotFound(f"no such {what}") from None

    async def _compensate(self, appointment_id: str) -> None:
        """Remove the Appointment a lost race created, so nothing is left behind."""
        try:
            await self._client.delete("Appointment", appointment_id)
        except UpstreamError as exc:
            # Logged with ids only; the booking still answers slot_taken.
            log.error("compensation_failed", source=self._source, error=type(exc).__name__)

    async def _free_slot(self, slot_upstream: str) -> None:
        for _ in range(3):
            try:
                slot_json = await self._client.read("Slot", slot_upstream)
            except UpstreamNotFound:
                return
            if slot_json.get("status") == "free":
                return
            try:
                await self._client.update(
                    {**slot_json, "status": "free"}, if_match=version_of(slot_json)
                )
                return
            except PreconditionFailed:
                continue
