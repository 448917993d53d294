"""Book, cancel and reschedule without double-booking, whichever way the EHR books.

What is the same for every EHR lives here: the Idempotency-Key (one booking per client
and key, replayed for the same body), the per-slot lock and the reschedule saga. How an
EHR books is its ``Scheduler`` (``scheduling``), chosen once from its vendor profile.

A short per-slot lock in the shared cache serialises bookings of one slot across
gateway processes so losers fail fast; correctness never depends on it: the
scheduler's guards (If-Match, conditional create, ``$book``'s own refusal) do.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors import PreconditionFailed, UpstreamError
from mappers import GatewayId, from_fhir
from mappers.model import Appointment

from ..cache import Cache, CacheKeys
from ..sources import SourceHandle, TenantSources
from .appointments import get_appointment
from .errors import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    RescheduleIncomplete,
    SlotTaken,
)
from .holds import DEFAULT_HOLD_MINUTES, Hold, HoldStore
from .scheduling import BookingDetails
from .slots import slots_generation_key

__all__ = ["BookingPorts", "book", "cancel", "hold", "release_hold", "reschedule"]

_LOCK_TTL = 15.0
_LOCK_WAIT = 10.0
_FINISHED = frozenset({"cancelled", "entered-in-error"})
_NOT_RESCHEDULABLE = frozenset({"cancelled", "entered-in-error", "fulfilled", "noshow"})


@dataclass(frozen=True)
class BookingPorts:
    """What booking needs of one tenant; built once by the composition root."""

    sources: TenantSources
    cache: Cache
    keys: CacheKeys
    holds: HoldStore
    idempotency_ttl_seconds: float
    on_outcome: Callable[[str, str], None] = lambda source, outcome: None
    wall: Callable[[], datetime] = lambda: datetime.now(UTC)


async def _lock(cache: Cache, key: str) -> bytes | None:
    """Take the per-slot lock, waiting up to _LOCK_WAIT: its owner token, or None when it
    stayed taken. Released with ``cache.release(key, token)``: past its TTL the lock may be
    someone else's, and only its owner may delete it."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + _LOCK_WAIT
    delay = 0.01
    token = secrets.token_hex(8).encode()
    while True:
        if await cache.add(key, token, _LOCK_TTL):
            return token
        if loop.time() >= give_up:
            return None
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


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
    replaces: str | None = None,
    hold_token: str | None = None,
) -> tuple[Appointment, bool]:
    """Book ``slot_id`` for ``patient_id``; returns (appointment, replayed).

    ``replaces`` (upstream id of an appointment this booking replaces) reaches only EHRs
    whose scheduler can cancel it in the same call (Argonaut ``cancelled-appt-id``). A held
    slot is booked only by its holder, with ``hold_token``; the booking consumes the hold.
    """
    handle, slot = _slot(ports, slot_id)
    patient_handle, patient = ports.sources.resolve(patient_id, "Patient", "patient")
    if patient_handle.id != handle.id:
        raise InvalidRequest(
            "the patient record must be in the slot's EHR: use the patient's link for that source"
        )
    body: dict[str, Any] = {
        "slot_id": slot_id,
        "patient_id": patient_id,
        "reason": reason,
        "comment": comment,
    }
    if replaces is not None:
        body["replaces"] = replaces
    if hold_token is not None:
        body["held"] = True
    details = BookingDetails(
        patient=patient.id,
        idempotency_digest=hashlib.sha256(f"{client_id}\x1f{idempotency_key}".encode()).hexdigest(),
        reason=reason,
        comment=comment,
        replaces=replaces,
    )

    async def work() -> dict[str, Any]:
        lock_key = ports.keys.key("slot-lock", ports.sources.tenant.id, handle.id, slot.id)
        locked = await _lock(ports.cache, lock_key)
        try:
            if locked is None:
                raise SlotTaken("the slot is being booked by someone else")
            held = await ports.holds.admit(slot, client=client_id, token=hold_token)
            # Where the EHR holds too, the pending appointment it made is what is booked.
            target = (
                GatewayId(slot.source, "Appointment", held.upstream)
                if held is not None and held.upstream
                else slot
            )
            appointment = await handle.scheduler.book(target, details)
            if held is not None:
                await ports.holds.consume(slot)
        except SlotTaken:
            ports.on_outcome(handle.id, "slot_taken")
            raise
        finally:
            if locked is not None:
                await ports.cache.release(lock_key, locked)
        await ports.cache.incr(slots_generation_key(ports.keys, ports.sources.tenant.id))
        ports.on_outcome(handle.id, "booked")
        return appointment.model_dump(mode="json")

    result, replayed = await _idempotent(ports, client_id, idempotency_key, body, work)
    return Appointment.model_validate(result), replayed


def _slot(ports: BookingPorts, slot_id: str) -> tuple[SourceHandle, GatewayId]:
    handle, slot = ports.sources.resolve(slot_id, None, "slot")
    if slot.resource_type not in handle.scheduler.slot_types:
        raise NotFound("no such slot")
    return handle, slot


async def hold(
    ports: BookingPorts,
    *,
    client_id: str,
    slot_id: str,
    minutes: int = DEFAULT_HOLD_MINUTES,
    token: str | None = None,
) -> Hold:
    """Hold a free slot for ``client_id`` (with ``token``: extend its own hold)."""
    handle, slot = _slot(ports, slot_id)
    lock_key = ports.keys.key("slot-lock", ports.sources.tenant.id, handle.id, slot.id)
    locked = await _lock(ports.cache, lock_key)
    if locked is None:
        raise SlotTaken("the slot is being booked by someone else")
    try:
        current = await ports.holds.current(slot)
        upstream = current.upstream if current is not None else None
        if current is None:
            upstream = await handle.scheduler.hold(slot, minutes)
        return await ports.holds.place(
            slot,
            slot_id,
            client=client_id,
            minutes=minutes,
            now=ports.wall(),
            token=token,
            upstream=upstream,
        )
    finally:
        await ports.cache.release(lock_key, locked)


async def release_hold(ports: BookingPorts, *, client_id: str, slot_id: str, token: str) -> None:
    _, slot = _slot(ports, slot_id)
    await ports.holds.release(slot, client=client_id, token=token)


async def cancel(ports: BookingPorts, *, appointment_id: str, reason: str) -> Appointment:
    """Cancel with a reason (guarded by the version read) and free what it held."""
    handle, ref = ports.sources.resolve(appointment_id, "Appointment", "appointment")
    record, current = await handle.read_mapped(
        "Appointment", ref.id, Appointment, what="appointment"
    )
    if record.status in _FINISHED:
        return record
    try:
        updated = await handle.scheduler.cancel(ref.id, current, reason)
    except PreconditionFailed:
        raise ConcurrentUpdate(
            "the appointment changed while cancelling; read it again and retry"
        ) from None
    await ports.cache.incr(slots_generation_key(ports.keys, ports.sources.tenant.id))
    return from_fhir(updated, source=handle.id, expect=Appointment)


async def reschedule(
    ports: BookingPorts,
    *,
    client_id: str,
    idempotency_key: str,
    appointment_id: str,
    slot_id: str,
    reason: str,
) -> tuple[Appointment, Appointment]:
    """Book the new slot first, then cancel the old appointment; (new, previous).

    If the new booking fails, the old appointment stands (the error propagates). If the
    cancel fails, ``RescheduleIncomplete`` carries both: nothing is silently lost.
    """
    old_handle, old_ref = ports.sources.resolve(appointment_id, "Appointment", "appointment")
    old = await get_appointment(ports.sources, appointment_id)
    if old.status in _NOT_RESCHEDULABLE:
        raise InvalidRequest(f"an appointment with status {old.status} can't be rescheduled")
    if old.patient_id is None:
        raise InvalidRequest("the appointment has no patient to reschedule")
    new_handle, _ = ports.sources.resolve(slot_id, None, "slot")
    # Argonaut $book cancels the old appointment in the same call (cancelled-appt-id) when
    # the new time is in the same EHR; otherwise, the saga below.
    rebook = old_handle.scheduler.can_rebook and new_handle.id == old_handle.id
    new, _ = await book(
        ports,
        client_id=client_id,
        idempotency_key=f"reschedule:{idempotency_key}",
        slot_id=slot_id,
        patient_id=old.patient_id,
        comment=f"rescheduled from {appointment_id}",
        replaces=old_ref.id if rebook else None,
    )
    if rebook:
        try:
            after = await get_appointment(ports.sources, appointment_id)
        except (UpstreamError, NotFound):
            after = None
        if after is not None and after.status == "cancelled":
            return new, after
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
    return new, previous
