"""Offering freed slots to the waitlist: exactly one open offer per slot, across every
gateway process.

When a slot frees (a cancel through the gateway, or a change the source watcher saw),
the slot is read again from its EHR: only a slot that is free now is offered. The first
waitlisted patient it fits (``matching``) who has a record in the slot's EHR gets it:
the slot is held for them for the offer window (a hold any desk of the tenant may book
with the offer's token, for that patient only) and a ``waitlist.offer`` event goes out.
Declining, or letting the window pass, offers it to the next in line.

Two claims in the shared state make the "exactly one" hold: a field per slot in the
offers hash (HSETNX: one offer at a time per slot) and a field per entry in the busy hash
(one open offer per patient entry). Ending an offer is an HDEL, which only one process
wins, so an expiry seen by two sweepers passes the slot on once.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from connectors import UpstreamError
from mappers import InvalidId, MappingError, decode_id

from ...events import EventLog, EventType
from ...logs import get_logger
from ...schemas import SlotOut
from ...sealing import Sealer
from ...sources import SourceHandle, TenantSources
from ...state import SharedState, StateUnavailable
from ..errors import NotFound, ServiceError
from ..holds import HoldStore
from ..patients import get_patient
from ..slots import SlotQuery, SlotSearch, find_slots
from .entries import EntryStore, WaitlistEntry
from .matching import in_line

__all__ = ["Freed", "OfferDesk", "WaitlistOffer"]

log = get_logger(__name__)

# A claim left by a process that died between claiming a slot and offering it.
_STALE_CLAIM = timedelta(seconds=60)
# How often each process seals again entries sealed with a key no longer first.
_RESEAL_SECONDS = 3600.0


@dataclass(frozen=True)
class Freed:
    """Time that may have freed in one source: a slot (its gateway id) and its start."""

    source: str
    start: datetime
    slot_id: str | None = None


class WaitlistOffer(BaseModel):
    slot_id: str
    entry_id: str
    # The patient's record in the slot's EHR: the booking is for them.
    patient_id: str
    hold_token: str
    offered_at: datetime
    expires_at: datetime
    slot: SlotOut
    # The EHR's own hold (Argonaut ``$hold``), kept here: the gateway's hold that also
    # names it lapses with the window, before the sweep ends the offer.
    upstream: str | None = None


class _EntryGone(Exception):
    """The patient being offered a slot left the waitlist meanwhile."""


class _Claim(BaseModel):
    state: Literal["pending", "open"]
    at: datetime
    offer: WaitlistOffer | None = None


@dataclass
class OfferDesk:
    """One tenant's waitlist offers; built once by the composition root."""

    sources: TenantSources
    slots: SlotSearch
    holds: HoldStore
    entries: EntryStore
    state: SharedState
    sealer: Sealer
    events: EventLog
    offer_seconds: float
    deadline_seconds: float
    prefix: str = "fd"
    wall: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def tenant(self) -> str:
        return self.sources.tenant.id

    def _offers_key(self) -> str:
        return f"{self.prefix}:wl-offers:{self.tenant}"

    def _busy_key(self) -> str:
        return f"{self.prefix}:wl-busy:{self.tenant}"

    # --- triggers -------------------------------------------------------------------

    def soon(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` in the background: the request that freed a slot doesn't wait
        for the waitlist. Failures are logged by kind, never raised."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("waitlist_task_failed", error=type(task.exception()).__name__)

    async def drain(self) -> None:
        """Wait for the background offers in flight (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # The booking service's listener (``booking.SlotListener``).
    def slot_freed(self, source: str, start: datetime, slot_id: str | None) -> None:
        self.soon(self.freed(Freed(source, start, slot_id)))

    def offer_booked(self, slot_id: str, patient_id: str, appointment_id: str) -> None:
        self.soon(self.booked(slot_id, patient_id, appointment_id))

    async def freed(self, freed: Freed) -> WaitlistOffer | None:
        """Offer ``freed`` to the first patient in line, if it is free and fits one."""
        now = self.wall()
        if freed.start <= now:
            return None
        handle = self.sources.handles.get(freed.source)
        if handle is None:
            return None
        slot = await self._free_now(handle, freed)
        if slot is None:
            return None
        return await self._offer(handle, slot, now)

    # --- the offer ------------------------------------------------------------------

    async def _free_now(self, handle: SourceHandle, freed: Freed) -> SlotOut | None:
        """The slot as its EHR shows it now, if free (a `$find` source: the proposal at
        that start)."""
        query = SlotQuery(
            start=freed.start, end=freed.start + timedelta(minutes=1), source=handle.id
        )
        try:
            found, _, _ = await find_slots(self.slots, query, fresh=True)
        except (UpstreamError, MappingError, ServiceError, TimeoutError):
            return None
        for slot in found:
            if freed.slot_id is not None and slot.id == freed.slot_id:
                return slot
        if freed.slot_id is not None and _is_slot(freed.slot_id):
            return None
        return next((s for s in found if s.start == freed.start), None)

    async def _offer(
        self, handle: SourceHandle, slot: SlotOut, now: datetime
    ) -> WaitlistOffer | None:
        pending = _Claim(state="pending", at=now)
        if not await self.state.hsetnx(self._offers_key(), slot.id, self._seal(slot.id, pending)):
            return None  # offered already, or being offered by another process
        try:
            offer = await self._first_in_line(handle, slot, now)
        except BaseException:
            await self.state.hdel(self._offers_key(), slot.id)
            raise
        if offer is None:
            await self.state.hdel(self._offers_key(), slot.id)
        return offer

    async def _first_in_line(
        self, handle: SourceHandle, slot: SlotOut, now: datetime
    ) -> WaitlistOffer | None:
        zone = ZoneInfo(self.sources.tenant.time_zone)
        for entry in in_line(await self.entries.all(self.tenant), slot, now=now, zone=zone):
            book_as = await self._record_in(handle, entry)
            if book_as is None:
                continue
            if not await self.state.hsetnx(self._busy_key(), entry.id, slot.id.encode()):
                continue  # offered another slot a moment ago
            try:
                offer = await self._hold_for(handle, slot, entry, book_as, now)
            except _EntryGone:
                await self.state.hdel(self._busy_key(), entry.id)
                continue  # the next in line
            if offer is None:  # a desk holds the slot: it is theirs to book
                await self.state.hdel(self._busy_key(), entry.id)
                return None
            return offer
        return None

    async def _hold_for(
        self,
        handle: SourceHandle,
        slot: SlotOut,
        entry: WaitlistEntry,
        book_as: str,
        now: datetime,
    ) -> WaitlistOffer | None:
        ref = decode_id(slot.id)
        upstream = None
        if await self.holds.current(ref) is not None:
            return None
        try:
            upstream = await handle.scheduler.hold(ref, math.ceil(self.offer_seconds / 60))
        except (UpstreamError, ServiceError):
            return None
        hold = await self.holds.offer(
            ref,
            slot.id,
            patient=book_as,
            seconds=self.offer_seconds,
            now=now,
            upstream=upstream,
        )
        if hold is None:
            if upstream is not None:
                await handle.scheduler.release(upstream)  # a desk held it meanwhile
            return None
        offer = WaitlistOffer(
            slot_id=slot.id,
            entry_id=entry.id,
            patient_id=book_as,
            hold_token=hold.token,
            offered_at=now,
            expires_at=hold.expires_at,
            slot=slot,
            upstream=upstream,
        )
        offered = await self.entries.update(
            self.tenant,
            entry.id,
            lambda e: e.model_copy(update={"offer_slot_id": slot.id, "offered_as": book_as}),
        )
        if offered is None:  # the patient left the waitlist meanwhile
            await self.holds.release_offer(ref, hold.token)
            if upstream is not None:
                await handle.scheduler.release(upstream)
            raise _EntryGone
        await self.state.hset(
            self._offers_key(),
            slot.id,
            self._seal(slot.id, _Claim(state="open", at=now, offer=offer)),
        )
        await self.events.publish(
            self.tenant,
            "waitlist.offer",
            {
                "slot_id": slot.id,
                "entry_id": entry.id,
                "expires_at": offer.expires_at.isoformat(),
            },
        )
        log.info("waitlist_offer", source=handle.id, entry=entry.id)
        return offer

    async def _record_in(self, handle: SourceHandle, entry: WaitlistEntry) -> str | None:
        """The waiting patient's record in ``handle``'s EHR: their own, or one linked to
        it with certainty (a probable match is never booked: that is how a visit lands
        in the wrong chart)."""
        try:
            own = decode_id(entry.patient_id, resource_type="Patient")
        except InvalidId:
            return None
        if own.source == handle.id:
            return entry.patient_id
        try:
            person, _ = await get_patient(
                self.sources, entry.patient_id, deadline_seconds=self.deadline_seconds
            )
        except (UpstreamError, MappingError, ServiceError, TimeoutError):
            return None
        return next(
            (
                link.id
                for link in person.links
                if link.source == handle.id and link.grade in ("self", "certain")
            ),
            None,
        )

    # --- what happens to an offer ---------------------------------------------------

    async def open_offers(self) -> list[WaitlistOffer]:
        raw = await self.state.hgetall(self._offers_key())
        offers = []
        for slot_id, value in raw.items():
            claim = self._open(slot_id, value)
            if claim is not None and claim.offer is not None:
                offers.append(claim.offer)
        return sorted(offers, key=lambda o: o.expires_at)

    async def offer_of(self, slot_id: str) -> WaitlistOffer | None:
        claim = self._open(slot_id, await self.state.hget(self._offers_key(), slot_id))
        return claim.offer if claim is not None else None

    async def decline(self, slot_id: str) -> None:
        offer = await self.offer_of(slot_id)
        if offer is None:
            raise NotFound("no such offer")
        if await self._end(offer, "waitlist.offer_declined"):
            await self._pass_on(offer)

    async def withdraw(self, entry: WaitlistEntry) -> None:
        """The entry left the waitlist: its open offer goes to the next in line."""
        if entry.offer_slot_id is None:
            return
        offer = await self.offer_of(entry.offer_slot_id)
        if offer is not None and offer.entry_id == entry.id and await self._end(offer, None):
            await self._pass_on(offer)

    async def booked(self, slot_id: str, patient_id: str, appointment_id: str) -> None:
        """A desk booked an offered slot with its token: the patient leaves the waitlist."""
        offer = await self.offer_of(slot_id)
        entry_id = offer.entry_id if offer is not None else None
        if offer is not None:
            await self.state.hdel(self._offers_key(), slot_id)
            await self.state.hdel(self._busy_key(), offer.entry_id)
        else:  # the window ended while the booking was in flight: find whose it was
            for entry in await self.entries.all(self.tenant):
                if entry.passed[-1:] == [slot_id] and entry.offered_as == patient_id:
                    entry_id = entry.id
        if entry_id is None:
            return
        await self.entries.remove(self.tenant, entry_id)
        await self.events.publish(
            self.tenant,
            "waitlist.booked",
            {"slot_id": slot_id, "entry_id": entry_id, "appointment_id": appointment_id},
        )

    async def sweep(self) -> int:
        """Pass on every offer whose window ended, and drop claims a dead process left;
        the number of offers passed on."""
        now = self.wall()
        passed = 0
        raw = await self.state.hgetall(self._offers_key())
        for slot_id, value in raw.items():
            claim = self._open(slot_id, value)
            if claim is None or (claim.state == "pending" and now - claim.at > _STALE_CLAIM):
                await self.state.hdel(self._offers_key(), slot_id)
                continue
            offer = claim.offer
            expired = offer is not None and offer.expires_at <= now
            if offer is not None and expired and await self._end(offer, "waitlist.offer_expired"):
                passed += 1
                await self._pass_on(offer)
        return passed

    async def sweep_forever(self, interval_seconds: float) -> None:
        resealed_at: float | None = None
        while True:
            # Hourly, not every round (it reads the whole waitlist), and apart from the
            # sweep: an EHR down for days must not keep entries on a key being retired.
            now = asyncio.get_running_loop().time()
            if resealed_at is None or now - resealed_at >= _RESEAL_SECONDS:
                try:
                    if resealed := await self.entries.reseal(self.tenant):
                        log.info("waitlist_resealed", entries=resealed)
                    resealed_at = now
                except StateUnavailable as exc:
                    log.warning("waitlist_reseal_failed", error=type(exc).__name__)
            try:
                await self.sweep()
            except (
                StateUnavailable,
                UpstreamError,
                MappingError,
                ServiceError,
                TimeoutError,
            ) as exc:
                # Redis or an EHR away this round: expired offers pass on at the next one.
                log.warning("waitlist_sweep_failed", error=type(exc).__name__)
            await asyncio.sleep(interval_seconds)

    async def _end(self, offer: WaitlistOffer, event: EventType | None) -> bool:
        """End ``offer``; False when another process ended it first."""
        if not await self.state.hdel(self._offers_key(), offer.slot_id):
            return False
        await self.state.hdel(self._busy_key(), offer.entry_id)
        slot = decode_id(offer.slot_id)
        await self.holds.release_offer(slot, offer.hold_token)
        handle = self.sources.handles.get(slot.source)
        if offer.upstream is not None and handle is not None:
            # Before the slot passes on: an EHR that holds shows the time to nobody else.
            await handle.scheduler.release(offer.upstream)
        await self.entries.update(
            self.tenant,
            offer.entry_id,
            lambda e: e.model_copy(
                update={"offer_slot_id": None, "passed": [*e.passed, offer.slot_id]}
            ),
        )
        if event is not None:
            await self.events.publish(
                self.tenant, event, {"slot_id": offer.slot_id, "entry_id": offer.entry_id}
            )
        return True

    async def _pass_on(self, offer: WaitlistOffer) -> None:
        await self.freed(Freed(offer.slot.source.source, offer.slot.start, offer.slot_id))

    # --- sealing --------------------------------------------------------------------

    def _seal(self, slot_id: str, claim: _Claim) -> bytes:
        context = f"{self._offers_key()}/{slot_id}"
        return self.sealer.seal(claim.model_dump_json().encode(), context=context)

    def _open(self, slot_id: str, raw: bytes | None) -> _Claim | None:
        plain = self.sealer.open(raw, context=f"{self._offers_key()}/{slot_id}")
        if plain is None:
            return None
        try:
            return _Claim.model_validate(json.loads(plain))
        except (ValidationError, ValueError):
            return None


def _is_slot(gateway_id: str) -> bool:
    try:
        return decode_id(gateway_id).resource_type == "Slot"
    except InvalidId:
        return False
