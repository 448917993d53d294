"""Waitlist entries: who waits for what kind of visit, where, and when they could come.

Entries live in the shared state (one hash per tenant), sealed: the note is free text a
desk may fill with anything, and the patient id says who waits. A state that can't be
written is a ``503``, never an entry silently dropped.

A second hash holds one claim per (patient, visit type), named by a keyed digest so it
says nothing of who waits: two desks adding the same patient at once get one entry.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from ...cache import CacheKeys
from ...sealing import Sealer
from ...state import SharedState, StateUnavailable

__all__ = ["PRIORITY_RANK", "EntryStore", "Priority", "WaitlistEntry", "new_entry_id"]

Priority = Literal["urgent", "soon", "routine"]
# Offers go by priority first, then by how long the patient has waited.
PRIORITY_RANK: dict[str, int] = {"urgent": 0, "soon": 1, "routine": 2}


class WaitlistEntry(BaseModel):
    id: str
    patient_id: str
    service_type: str
    practitioner_id: str | None = None
    location_id: str | None = None
    # The days the patient could come (desk dates, inclusive).
    earliest: date
    latest: date
    # Hours' notice the patient needs before the visit.
    min_notice_hours: int = 24
    priority: Priority = "routine"
    note: str | None = None
    created_at: datetime
    created_by: str
    # The slot offered now (one open offer per entry at a time), and the slots the
    # patient let pass (declined or let expire): never offered to them again.
    offer_slot_id: str | None = None
    # The patient's record the open offer books (in the slot's EHR).
    offered_as: str | None = None
    passed: list[str] = Field(default_factory=list)


def new_entry_id() -> str:
    return "wl-" + secrets.token_hex(12)


# A claim without its entry this young is a join still writing it, not a stale one.
_IN_FLIGHT_SECONDS = 30.0


def _holder(claim: bytes) -> tuple[str, float]:
    """(entry id, when claimed; 0 when the claim does not say)."""
    entry_id, _, at = claim.decode(errors="replace").partition("|")
    try:
        return entry_id, float(at)
    except ValueError:
        return entry_id, 0.0


class EntryStore:
    def __init__(
        self, state: SharedState, sealer: Sealer, keys: CacheKeys, prefix: str = "fd"
    ) -> None:
        self._state = state
        self._sealer = sealer
        self._keys = keys
        self._prefix = prefix

    def _key(self, tenant: str) -> str:
        return f"{self._prefix}:waitlist:{tenant}"

    def _claims_key(self, tenant: str) -> str:
        return f"{self._prefix}:waitlist-claims:{tenant}"

    def _claim(self, entry: WaitlistEntry) -> str:
        return self._keys.digest("waitlist", entry.patient_id, entry.service_type)

    async def add(self, tenant: str, entry: WaitlistEntry) -> str | None:
        """Store a new entry unless its patient already waits for its visit type: then
        nothing is stored and the waiting entry's id comes back."""
        # The claim first, then the entry: a losing join writes nothing anyone could
        # list or offer. A claim whose entry is absent is a join still writing it,
        # until it is old enough to be one that died in between.
        claims, claim = self._claims_key(tenant), self._claim(entry)
        mine = f"{entry.id}|{time.time():.3f}".encode()
        for _ in range(3):
            if await self._state.hsetnx(claims, claim, mine):
                try:
                    await self.put(tenant, entry)
                except BaseException:
                    with contextlib.suppress(StateUnavailable):
                        await self._state.hdel_if(claims, claim, mine)
                    raise
                return None
            held = await self._state.hget(claims, claim)
            if held is None:
                continue  # left in between: claim again
            holder, at = _holder(held)
            # Present is waiting, even an entry this process can't open (a key ring
            # changing under a rolling restart).
            if await self._state.hget(self._key(tenant), holder) is not None:
                return holder
            if time.time() - at < _IN_FLIGHT_SECONDS:
                return holder
            await self._state.hdel_if(claims, claim, held)
        raise StateUnavailable("waitlist claim contended")

    async def update(
        self, tenant: str, entry_id: str, change: Callable[[WaitlistEntry], WaitlistEntry]
    ) -> WaitlistEntry | None:
        """Apply ``change`` to a stored entry (compare and set, so a change made
        meanwhile is not lost); None when the entry left the waitlist meanwhile: it is
        never written back."""
        for _ in range(5):
            raw = await self._state.hget(self._key(tenant), entry_id)
            entry = self._open(tenant, entry_id, raw)
            if raw is None or entry is None:
                return None
            changed = change(entry)
            sealed = self._seal(tenant, changed)
            if await self._state.hset_if(self._key(tenant), entry_id, raw, sealed):
                return changed
        raise StateUnavailable("waitlist entry contended")

    def _context(self, tenant: str, entry_id: str) -> str:
        return f"{self._key(tenant)}/{entry_id}"

    def _seal(self, tenant: str, entry: WaitlistEntry) -> bytes:
        return self._sealer.seal(
            entry.model_dump_json().encode(), context=self._context(tenant, entry.id)
        )

    async def put(self, tenant: str, entry: WaitlistEntry) -> None:
        await self._state.hset(self._key(tenant), entry.id, self._seal(tenant, entry))

    async def get(self, tenant: str, entry_id: str) -> WaitlistEntry | None:
        raw = await self._state.hget(self._key(tenant), entry_id)
        return self._open(tenant, entry_id, raw)

    async def all(self, tenant: str) -> list[WaitlistEntry]:
        raw = await self._state.hgetall(self._key(tenant))
        entries = (self._open(tenant, entry_id, value) for entry_id, value in raw.items())
        return [e for e in entries if e is not None]

    async def remove(self, tenant: str, entry_id: str) -> bool:
        """Take an entry out; True when this call did (only one caller wins)."""
        entry = await self.get(tenant, entry_id)
        if not await self._state.hdel(self._key(tenant), entry_id):
            return False
        if entry is not None:
            claims, claim = self._claims_key(tenant), self._claim(entry)
            held = await self._state.hget(claims, claim)
            if held is not None and _holder(held)[0] == entry_id:
                await self._state.hdel_if(claims, claim, held)
        return True

    async def reseal(self, tenant: str) -> int:
        """Seal again with the ring's first key every entry sealed with an older one
        (entries wait for months; a rotated-out key must not take them with it); the
        number sealed again. An entry changed meanwhile is left to the next round."""
        done = 0
        for entry_id, raw in (await self._state.hgetall(self._key(tenant))).items():
            if self._sealer.is_current(raw):
                continue
            context = self._context(tenant, entry_id)
            plain = self._sealer.open(raw, context=context)
            if plain is None:
                continue  # sealed with a key already gone: nothing to save
            fresh = self._sealer.seal(plain, context=context)
            done += await self._state.hset_if(self._key(tenant), entry_id, raw, fresh)
        return done

    def _open(self, tenant: str, entry_id: str, raw: bytes | None) -> WaitlistEntry | None:
        plain = self._sealer.open(raw, context=self._context(tenant, entry_id))
        if plain is None:
            return None
        try:
            return WaitlistEntry.model_validate_json(plain)
        except ValidationError:
            return None
