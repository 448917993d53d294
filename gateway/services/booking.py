"""Book, cancel and reschedule without double-booking.

Booking on slot-search EHRs (HAPI, generic R4, Oracle Health):
1. re-read the Slot: it must be free;
2. conditional-create the Appointment (If-None-Exist on an identifier derived
   from the client's Idempotency-Key, so a retried create never doubles);
3. mark the Slot busy with If-Match on the version read in step 1.
Losing a race anywhere (the slot is no longer free, 412, 409) answers
slot_taken and deletes the Appointment this call created (compensation).

On `$find`/`$book` EHRs (Epic, Argonaut Scheduling; the source's vendor profile
says which) a slot is a proposed Appointment and booking is one `$book` call,
cancel a JSON Patch and reschedule `$book` with ``cancelled-appt-id``: see
``find_book``. Idempotency-Key handling and the per-slot lock are the same.
A short per-slot lock in the shared cache serialises bookings of one slot
across gateway processes so losers fail fast; correctness never depends on
it — If-Match does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from connectors import Conflict, PreconditionFailed, UpstreamError
from connectors import NotFound as UpstreamNotFound
from mappers import InvalidId, decode_id, from_fhir
from mappers.model import Appointment, Schedule, Slot
from mappers.outbound import (
    booking_identifier_value,
    booking_if_none_exist,
    build_booking_appointment,
    build_cancellation,
)

from ..cache import Cache, CacheKeys
from ..logs import get_logger
from ..sources import SourceHandle, TenantSources
from . import find_book
from .errors import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    RescheduleIncomplete,
    SlotTaken,
    SlotUnavailable,
)
from .slots import slots_generation_key

__all__ = ["BookingPorts", "book", "cancel", "reschedule"]

log = get_logger(__name__)
BOOKING_SYSTEM = "urn:frontdesk:booking"
_LOCK_TTL = 15.0
_LOCK_WAIT = 10.0


@dataclass(frozen=True)
class BookingPorts:
    sources: TenantSources
    cache: Cache
    keys: CacheKeys
    idempotency_ttl_seconds: float
    on_outcome: Callable[[str, str], None] = lambda source, outcome: None


def _handle(
    sources: TenantSources, gateway_id: str, rtype: str, what: str
) -> tuple[SourceHandle, str]:
    try:
        ref = decode_id(gateway_id, resource_type=rtype)
    except InvalidId:
        raise InvalidRequest(f"{what} is not a valid {rtype} id") from None
    handle = sources.get(ref.source)
    if handle is None:
        raise NotFound(f"no such {what}")
    return handle, ref.id


async def _read(handle: SourceHandle, rtype: str, upstream_id: str, what: str) -> dict[str, Any]:
    try:
        resource: dict[str, Any] = await handle.client.read(rtype, upstream_id)
    except UpstreamNotFound:
        raise NotFound(f"no such {what}") from None
    return resource


def _version(resource: dict[str, Any]) -> str | None:
    meta = resource.get("meta")
    if isinstance(meta, dict):
        v = meta.get("versionId")
        return v if isinstance(v, str) else None
    return None


async def _lock(cache: Cache, key: str) -> bool:
    """Take the per-slot lock, waiting up to _LOCK_WAIT; False when it stayed taken."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + _LOCK_WAIT
    delay = 0.01
    while True:
        if await cache.add(key, b"1", _LOCK_TTL):
            return True
        if loop.time() >= give_up:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


async def _book_slot(
    ports: BookingPorts,
    handle: SourceHandle,
    slot_upstream_id: str,
    patient_upstream_id: str,
    key_digest: str,
    reason: str | None,
    comment: str | None,
) -> Appointment:
    slot_json = await _read(handle, "Slot", slot_upstream_id, "slot")
    slot = from_fhir(slot_json, source=handle.id)
    assert isinstance(slot, Slot)
    if slot.status != "free":
        raise SlotTaken("the slot is no longer free")
    schedule: Schedule | None = None
    if slot.schedule_id is not None:
        sched_json = await _read(handle, "Schedule", decode_id(slot.schedule_id).id, "schedule")
        mapped = from_fhir(sched_json, source=handle.id)
        schedule = mapped if isinstance(mapped, Schedule) else None
    if slot.end is None:
        raise SlotUnavailable("the slot has no end time; it can't be booked")
    resource = build_booking_appointment(
        slot=slot,
        schedule=schedule,
        patient_id=patient_upstream_id,
        idempotency_key=key_digest,
        identifier_system=BOOKING_SYSTEM,
        reason=reason,
        comment=comment,
    )
    identifier_value = resource["identifier"][0]["value"]
    created = await handle.client.create(
        resource, if_none_exist=booking_if_none_exist(BOOKING_SYSTEM, identifier_value)
    )
    appt_id = str(created.get("id"))
    busy = dict(slot_json)
    busy["status"] = "busy"
    try:
        await handle.client.update(busy, if_match=_version(slot_json))
    except Conflict:
        await _compensate(handle, appt_id)
        raise SlotTaken("another booking took the slot first") from None
    except UpstreamError:
        await _compensate(handle, appt_id)
        raise
    record = from_fhir(created, source=handle.id)
    assert isinstance(record, Appointment)
    return record


async def _compensate(handle: SourceHandle, appointment_id: str) -> None:
    """Remove the Appointment a lost race created, so nothing is left behind."""
    try:
        await handle.client.delete("Appointment", appointment_id)
    except UpstreamError as exc:
        # Logged with ids only; the booking still answers slot_taken.
        log.error("compensation_failed", source=handle.id, error=type(exc).__name__)


async def _idempotent(
    ports: BookingPorts,
    client_id: str,
    idempotency_key: str,
    body: dict[str, Any],
    work: Callable[[], Awaitable[dict[str, Any]]],
) -> tuple[dict[str, Any], bool]:
    """Run ``work`` once per (client, key); replay its result for the same body."""
    if not (1 <= len(idempotency_key) <= 200):
        raise InvalidRequest("Idempotency-Key must be 1 to 200 characters")
    tenant = ports.sources.tenant.id
    key = ports.keys.key("idem", tenant, client_id, idempotency_key)
    body_hash = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    pending = json.dumps({"state": "pending", "body": body_hash}).encode()
    while True:
        if await ports.cache.add(key, pending, 60.0):
            break
        existing = await ports.cache.get(key)
        if existing is None:
            continue
        stored = json.loads(existing)
        if stored.get("body") != body_hash:
            raise IdempotencyConflict("this Idempotency-Key was used with a different request")
        if stored.get("state") == "done":
            return stored["result"], True
        await asyncio.sleep(0.05)
    try:
        result = await work()
    except BaseException:
        await ports.cache.delete(key)
        raise
    done = {"state": "done", "body": body_hash, "result": result}
    await ports.cache.set(key, json.dumps(done).encode(), ports.idempotency_ttl_seconds)
    return result, False


async def book(
    ports: BookingPorts,
    *,
    client_id: str,
    idempotency_key: str,
    slot_id: str,
    patient_id: str,
    reason: str | None = None,
    comment: str | None = None,
    cancels: str | None = None,
) -> tuple[Appointment, bool]:
    """Book ``slot_id`` for ``patient_id``; returns (appointment, replayed).

    ``cancels`` (upstream id of an appointment this booking replaces) is only sent
    to `$find`/`$book` EHRs, as `$book`'s ``cancelled-appt-id``.
    """
    try:
        slot_ref = decode_id(slot_id)
    except InvalidId:
        raise InvalidRequest("slot is not a valid Slot id") from None
    slot_handle = ports.sources.get(slot_ref.source)
    if slot_handle is not None and find_book.uses_find_book(slot_handle):
        # A $find proposal: its id is tagged Appointment or ProposedAppointment (find_book).
        handle, slot_upstream = slot_handle, slot_ref.id
    else:
        handle, slot_upstream = _handle(ports.sources, slot_id, "Slot", "slot")
    patient_handle, patient_upstream = _handle(ports.sources, patient_id, "Patient", "patient")
    if patient_handle.id != handle.id:
        raise InvalidRequest(
            "the patient record must be in the slot's EHR: use the patient's link for that source"
        )
    body = {"slot_id": slot_id, "patient_id": patient_id, "reason": reason, "comment": comment}
    if cancels is not None:
        body["cancels"] = cancels
    key_digest = hashlib.sha256(f"{client_id}\x1f{idempotency_key}".encode()).hexdigest()

    async def work() -> dict[str, Any]:
        lock_key = ports.keys.key("slot-lock", ports.sources.tenant.id, handle.id, slot_upstream)
        locked = await _lock(ports.cache, lock_key)
        try:
            if not locked:
                raise SlotTaken("the slot is being booked by someone else")
            if find_book.uses_find_book(handle):
                appointment = await find_book.book_proposal(
                    handle,
                    slot_ref,
                    patient_upstream,
                    store=find_book.ProposalStore(ports.cache, ports.keys, ports.sources.tenant.id),
                    identifier=(BOOKING_SYSTEM, booking_identifier_value(key_digest)),
                    reason=reason,
                    comment=comment,
                    cancels=cancels,
                )
            else:
                appointment = await _book_slot(
                    ports, handle, slot_upstream, patient_upstream, key_digest, reason, comment
                )
        except SlotTaken:
            ports.on_outcome(handle.id, "slot_taken")
            raise
        finally:
            if locked:
                await ports.cache.delete(lock_key)
        await ports.cache.incr(slots_generation_key(ports.keys, ports.sources.tenant.id))
        ports.on_outcome(handle.id, "booked")
        return appointment.model_dump(mode="json")

    result, replayed = await _idempotent(ports, client_id, idempotency_key, body, work)
    return Appointment.model_validate(result), replayed


def _source_of(gateway_id: str) -> str | None:
    try:
        return decode_id(gateway_id).source
    except InvalidId:
        return None


async def get_appointment(sources: TenantSources, appointment_id: str) -> Appointment:
    handle, upstream = _handle(sources, appointment_id, "Appointment", "appointment")
    record = from_fhir(
        await _read(handle, "Appointment", upstream, "appointment"), source=handle.id
    )
    assert isinstance(record, Appointment)
    return record


async def cancel(ports: BookingPorts, *, appointment_id: str, reason: str) -> Appointment:
    """Cancel with a reason (If-Match on the version read) and free its slots."""
    handle, upstream = _handle(ports.sources, appointment_id, "Appointment", "appointment")
    current = await _read(handle, "Appointment", upstream, "appointment")
    if current.get("status") in {"cancelled", "entered-in-error"}:
        record = from_fhir(current, source=handle.id)
        assert isinstance(record, Appointment)
        return record
    find_book_source = find_book.uses_find_book(handle)
    try:
        if find_book_source:
            updated = await find_book.cancel_appointment(handle, upstream, current, reason)
        else:
            updated = await handle.client.update(
                build_cancellation(current, reason), if_match=_version(current)
            )
    except PreconditionFailed:
        raise ConcurrentUpdate(
            "the appointment changed while cancelling; read it again and retry"
        ) from None
    # $find/$book EHRs own their availability (Epic: Slot is read-only): nothing to free.
    for ref in [] if find_book_source else current.get("slot", []) or []:
        slot_ref = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(slot_ref, str) and slot_ref.startswith("Slot/"):
            await _free_slot(handle, slot_ref.removeprefix("Slot/"))
    await ports.cache.incr(slots_generation_key(ports.keys, ports.sources.tenant.id))
    record = from_fhir(updated, source=handle.id)
    assert isinstance(record, Appointment)
    return record


async def _free_slot(handle: SourceHandle, slot_upstream: str) -> None:
    for _ in range(3):
        try:
            slot_json = await handle.client.read("Slot", slot_upstream)
        except UpstreamNotFound:
            return
        if slot_json.get("status") == "free":
            return
        freed = dict(slot_json)
        freed["status"] = "free"
        try:
            await handle.client.update(freed, if_match=_version(slot_json))
            return
        except PreconditionFailed:
            continue


async def reschedule(
    ports: BookingPorts,
    *,
    client_id: str,
    idempotency_key: str,
    appointment_id: str,
    slot_id: str,
    reason: str,
) -> tuple[Appointment, Appointment | None, str | None]:
    """Book the new slot first, then cancel the old appointment.

    If the new booking fails, the old appointment stands (the error propagates).
    If the cancel fails, the new appointment is returned with the old one and a
    detail saying it still needs cancelling: nothing is silently lost.
    """
    old = await get_appointment(ports.sources, appointment_id)
    if old.status in {"cancelled", "entered-in-error", "fulfilled", "noshow"}:
        raise InvalidRequest(f"an appointment with status {old.status} can't be rescheduled")
    if old.patient_id is None:
        raise InvalidRequest("the appointment has no patient to reschedule")
    old_handle, old_upstream = _handle(ports.sources, appointment_id, "Appointment", "appointment")
    # Argonaut $book cancels the old appointment in the same call (cancelled-appt-id) when
    # the new time is in the same $find/$book EHR; otherwise, the saga below.
    rebook = find_book.can_rebook(old_handle) and _source_of(slot_id) == old_handle.id
    new, _ = await book(
        ports,
        client_id=client_id,
        idempotency_key=f"reschedule:{idempotency_key}",
        slot_id=slot_id,
        patient_id=old.patient_id,
        reason=None,
        comment=f"rescheduled from {appointment_id}",
        cancels=old_upstream if rebook else None,
    )
    if rebook:
        try:
            after = await get_appointment(ports.sources, appointment_id)
        except (UpstreamError, NotFound):
            after = None
        if after is not None and after.status == "cancelled":
            return new, after, None
        # The EHR ignored cancelled-appt-id (or we can't tell): cancel it ourselves.
    try:
        previous = await cancel(ports, appointment_id=appointment_id, reason=reason)
    except (UpstreamError, ConcurrentUpdate, NotFound) as exc:
        raise RescheduleIncomplete(
            "the new appointment is booked but the old one could not be cancelled; cancel it",
            extra={
                "appointment": new.model_dump(mode="json"),
                "previous": old.model_dump(mode="json"),
                "cause": type(exc).__name__,
            },
        ) from None
    return new, previous, None
