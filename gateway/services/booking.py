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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from connectors import PreconditionFailed, UpstreamError
from mappers import GatewayId, MappingError, from_fhir
from mappers.model import Appointment, RecordRef

from ..cache import Cache, CacheKeys
from ..schemas import PatientOut
from ..sources import SourceHandle, TenantSources
from .alternatives import alternatives_for
from .appointments import get_appointment
from .conflicts import PatientConflict, conflicts_of
from .errors import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    PatientNotInSource,
    RescheduleIncomplete,
    ServiceError,
    SlotHeld,
    SlotTaken,
)
from .holds import DEFAULT_HOLD_MINUTES, WAITLIST_CLIENT, HeldSlot, Hold, HoldStore
from .patients import get_patient
from .scheduling import BookingDetails
from .slots import SlotSearch, slots_generation_key

if TYPE_CHECKING:
    from ..identity.index import PersonIndex

__all__ = [
    "Booked",
    "BookingAsk",
    "BookingPorts",
    "book",
    "cancel",
    "hold",
    "release_hold",
    "reschedule",
]

_LOCK_TTL = 15.0
_LOCK_WAIT = 10.0
_FINISHED = frozenset({"cancelled", "entered-in-error"})
_NOT_RESCHEDULABLE = frozenset({"cancelled", "entered-in-error", "fulfilled", "noshow"})


class SlotListener(Protocol):
    """Told when a booking frees or takes time (the waitlist); must not block or raise."""

    def slot_freed(self, source: str, start: datetime, slot_id: str | None) -> None: ...
    def offer_booked(self, slot_id: str, patient_id: str, appointment_id: str) -> None: ...


class _NoListener:
    def slot_freed(self, source: str, start: datetime, slot_id: str | None) -> None:
        return None

    def offer_booked(self, slot_id: str, patient_id: str, appointment_id: str) -> None:
        return None


@dataclass(frozen=True)
class BookingPorts:
    """What booking needs of one tenant; built once by the composition root."""

    sources: TenantSources
    cache: Cache
    keys: CacheKeys
    holds: HoldStore
    # Where a refusal finds the next free slots to offer (``alternatives``).
    slots: SlotSearch
    idempotency_ttl_seconds: float
    # How long to wait for each EHR when reading the patient's other appointments.
    deadline_seconds: float
    on_outcome: Callable[[str, str], None] = lambda source, outcome: None
    wall: Callable[[], datetime] = lambda: datetime.now(UTC)
    # The person index: the patient's records in other EHRs, even where they differ.
    index: PersonIndex | None = None
    listener: SlotListener = field(default_factory=_NoListener)


async def _lock(cache: Cache, key: str) -> bytes | None:
    """Take a short lock, waiting up to _LOCK_WAIT: its owner token, or None when it stayed
    taken. Released with ``cache.release(key, token)``: past its TTL the lock may be
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


@dataclass(frozen=True)
class BookingAsk:
    """One booking as the desk asks for it."""

    client_id: str
    idempotency_key: str
    slot_id: str
    patient_id: str
    reason: str | None = None
    comment: str | None = None
    # The token of this client's hold on the slot.
    hold_token: str | None = None
    # Why a conflict with the patient's other appointments is accepted (the caller holds
    # appointments:override), or None: a conflict is refused.
    allow_conflict: str | None = None
    # Why the slot may be overbooked (the caller holds appointments:overbook), or None.
    overbook: str | None = None
    # Upstream id of an appointment this booking replaces; sent only where the EHR can
    # cancel it in the same call (Argonaut cancelled-appt-id).
    replaces: str | None = None
    # Gateway ids of appointments not to count as conflicts (a reschedule's old one).
    ignore: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Booked:
    appointment: Appointment
    replayed: bool
    # Whether the patient's other appointments were all seen: complete, partial (a source
    # did not answer: ``missing`` names it) or overridden (a conflict was accepted).
    conflict_check: Literal["complete", "partial", "overridden"] = "complete"
    missing: tuple[str, ...] = ()


async def book(ports: BookingPorts, ask: BookingAsk) -> Booked:
    """Book ``ask.slot_id`` for ``ask.patient_id``: never over another booking of the slot
    (unless overbooking was asked for, within the tenant's limit) and never over the
    patient's other appointments in any EHR (unless a conflict was allowed). A held slot
    is booked only by its holder, with its token; the booking consumes the hold."""
    handle, slot = _slot(ports, ask.slot_id)
    patient_handle, patient = ports.sources.resolve(ask.patient_id, "Patient", "patient")
    if patient_handle.id != handle.id:
        raise PatientNotInSource(
            "the patient record must be in the slot's EHR: use the patient's link for that "
            "source, or register them there"
        )
    body: dict[str, Any] = {
        "slot_id": ask.slot_id,
        "patient_id": ask.patient_id,
        "reason": ask.reason,
        "comment": ask.comment,
        "replaces": ask.replaces,
        "held": ask.hold_token is not None,
        "allow_conflict": ask.allow_conflict,
        "overbook": ask.overbook,
    }
    tenant = ports.sources.tenant
    details = BookingDetails(
        patient=patient.id,
        idempotency_digest=hashlib.sha256(
            f"{ask.client_id}\x1f{ask.idempotency_key}".encode()
        ).hexdigest(),
        reason=ask.reason,
        comment=ask.comment,
        replaces=ask.replaces,
        overbook_limit=tenant.overbook_limit if ask.overbook is not None else None,
    )

    async def work() -> dict[str, Any]:
        person = await _person(ports, ask.patient_id)
        linked = {link.id for link in person.links} if person is not None else set()
        people = sorted(linked | {ask.patient_id})
        async with _locks(ports, [("person-lock", p) for p in people]) as person_locked:
            if not person_locked:
                raise ConcurrentUpdate("another booking for this patient is in progress")
            check = await _conflicts(ports, handle, slot, person, ask)
            async with _locks(ports, [("slot-lock", f"{handle.id}/{slot.id}")]) as locked:
                if not locked:
                    raise SlotTaken("the slot is being booked by someone else")
                appointment, held = await _book_held(ports, handle, slot, ask, details)
        await ports.cache.incr(slots_generation_key(ports.keys, tenant.id))
        if held is not None and held.client == WAITLIST_CLIENT:
            ports.listener.offer_booked(ask.slot_id, ask.patient_id, appointment.id)
        ports.on_outcome(handle.id, "overbooked" if ask.overbook else "booked")
        return {
            "appointment": appointment.model_dump(mode="json"),
            "conflict_check": check[0],
            "missing": list(check[1]),
        }

    try:
        result, replayed = await _idempotent(ports, ask.client_id, ask.idempotency_key, body, work)
    except (SlotTaken, SlotHeld, PatientConflict) as exc:
        if not isinstance(exc, PatientConflict):
            ports.on_outcome(handle.id, exc.code)
        raise await _with_alternatives(ports, handle, slot, exc) from None
    return Booked(
        Appointment.model_validate(result["appointment"]),
        replayed,
        result["conflict_check"],
        tuple(result["missing"]),
    )


async def _book_held(
    ports: BookingPorts,
    handle: SourceHandle,
    slot: GatewayId,
    ask: BookingAsk,
    details: BookingDetails,
) -> tuple[Appointment, HeldSlot | None]:
    held = await ports.holds.admit(
        slot, client=ask.client_id, token=ask.hold_token, patient=ask.patient_id
    )
    # Where the EHR holds too, the pending appointment it made is what is booked.
    target = (
        GatewayId(slot.source, "Appointment", held.upstream)
        if held is not None and held.upstream
        else slot
    )
    appointment = await handle.scheduler.book(target, details)
    if held is not None:
        await ports.holds.consume(slot)
    return appointment, held


async def _person(ports: BookingPorts, patient_id: str) -> PatientOut | None:
    """The patient with their linked records, or None when their EHR won't show them (the
    conflict check is then partial; the booking itself still goes to the EHR)."""
    try:
        person, _ = await get_patient(
            ports.sources, patient_id, deadline_seconds=ports.deadline_seconds, index=ports.index
        )
    except (UpstreamError, NotFound, MappingError):
        return None
    return person


async def _conflicts(
    ports: BookingPorts,
    handle: SourceHandle,
    slot: GatewayId,
    person: PatientOut | None,
    ask: BookingAsk,
) -> tuple[Literal["complete", "partial", "overridden"], tuple[str, ...]]:
    """The conflict check's verdict; PatientConflict when the time clashes."""
    span = await handle.scheduler.slot_time(slot)
    if span is None or person is None:
        # The EHR won't say when the slot is: nothing can be compared, so say so.
        return "partial", (handle.id,)
    buffer = timedelta(minutes=ports.sources.tenant.conflict_buffer_minutes)
    check = await conflicts_of(
        ports.sources,
        person,
        span[0],
        span[1],
        buffer=buffer,
        ignore=ask.ignore,
        deadline_seconds=ports.deadline_seconds,
    )
    if check.conflicts and ask.allow_conflict is None:
        # Each other appointment's place is named by its own EHR (rarely the slot's).
        names: dict[str, str] = {}
        for source in sorted({a.source.source for a in check.conflicts}):
            other = ports.sources.get(source)
            if other is not None:
                names |= await ports.slots.directory.fill_displays(
                    other,
                    [r for a in check.conflicts if a.source.source == source for r in _places(a)],
                )
        raise PatientConflict(
            "the patient has another appointment at that time",
            extra={
                "conflicts": [_described(a, names) for a in check.conflicts],
                "partial": check.partial,
            },
        )
    if check.conflicts:
        return "overridden", tuple(check.missing)
    return ("partial" if check.partial else "complete"), tuple(check.missing)


def _places(appointment: Appointment) -> list[RecordRef]:
    return [
        RecordRef(resource_type="Location", id=p.ref, display=p.display)
        for p in appointment.participants
        if p.kind == "location"
    ]


def _described(appointment: Appointment, names: dict[str, str]) -> dict[str, Any]:
    """The other appointment as a refusal names it: when, where, which EHR (no patient)."""
    place = next(iter(_places(appointment)), None)
    return {
        "id": appointment.id,
        "source": appointment.source.source,
        "status": appointment.status,
        "start": appointment.start.isoformat() if appointment.start else None,
        "end": appointment.end.isoformat() if appointment.end else None,
        "location": (place.display or names.get(place.id or "")) if place else None,
    }


@asynccontextmanager
async def _locks(ports: BookingPorts, names: list[tuple[str, str]]) -> AsyncIterator[bool]:
    """Take short locks in the shared cache, in order (sorted callers can't deadlock);
    yields False if one stayed taken. Released in reverse, whatever happens."""
    taken: list[tuple[str, bytes]] = []
    try:
        for kind, name in names:
            key = ports.keys.key(kind, ports.sources.tenant.id, name)
            token = await _lock(ports.cache, key)
            if token is None:
                yield False
                return
            taken.append((key, token))
        yield True
    finally:
        for key, token in reversed(taken):
            await ports.cache.release(key, token)


async def _with_alternatives(
    ports: BookingPorts, handle: SourceHandle, slot: GatewayId, refusal: ServiceError
) -> ServiceError:
    """The same refusal, carrying the next free slots the caller can be offered."""
    offered = await alternatives_for(ports.slots, ports.holds, handle, slot, now=ports.wall())
    extra = {**refusal.extra, "alternatives": [s.model_dump(mode="json") for s in offered]}
    return type(refusal)(refusal.detail, extra=extra)


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
    try:
        return await _hold(ports, handle, slot, client_id, slot_id, minutes, token)
    except (SlotTaken, SlotHeld) as exc:
        raise await _with_alternatives(ports, handle, slot, exc) from None


async def _hold(
    ports: BookingPorts,
    handle: SourceHandle,
    slot: GatewayId,
    client_id: str,
    slot_id: str,
    minutes: int,
    token: str | None,
) -> Hold:
    async with _locks(ports, [("slot-lock", f"{handle.id}/{slot.id}")]) as locked:
        if not locked:
            raise SlotTaken("the slot is being booked by someone else")
        current = await ports.holds.current(slot)
        upstream = current.upstream if current is not None else None
        if current is None:
            upstream = await handle.scheduler.hold(slot, minutes)
        try:
            return await ports.holds.place(
                slot,
                slot_id,
                client=client_id,
                minutes=minutes,
                now=ports.wall(),
                token=token,
                upstream=upstream,
            )
        except SlotHeld:
            if current is None and upstream is not None:
                await handle.scheduler.release(upstream)  # held upstream for nobody
            raise


async def release_hold(ports: BookingPorts, *, client_id: str, slot_id: str, token: str) -> None:
    """End the caller's hold, in the EHR too where it holds (Argonaut ``$hold``)."""
    handle, slot = _slot(ports, slot_id)
    held = await ports.holds.release(slot, client=client_id, token=token)
    if held.upstream is not None:
        await handle.scheduler.release(held.upstream)


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
    cancelled = from_fhir(updated, source=handle.id, expect=Appointment)
    if cancelled.start is not None:
        freed: list[str | None] = list(cancelled.slot_ids) or [None]
        for slot_id in freed:
            ports.listener.slot_freed(handle.id, cancelled.start, slot_id)
    return cancelled


async def reschedule(
    ports: BookingPorts,
    *,
    client_id: str,
    idempotency_key: str,
    appointment_id: str,
    slot_id: str,
    reason: str,
    allow_conflict: str | None = None,
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
    booked = await book(
        ports,
        BookingAsk(
            client_id=client_id,
            idempotency_key=f"reschedule:{idempotency_key}",
            slot_id=slot_id,
            patient_id=old.patient_id,
            comment=f"rescheduled from {appointment_id}",
            replaces=old_ref.id if rebook else None,
            allow_conflict=allow_conflict,
            # The old appointment is about to go: it is no conflict.
            ignore=frozenset({appointment_id}),
        ),
    )
    new = booked.appointment
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
