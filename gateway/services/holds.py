"""Holding a slot while the caller on the phone decides.

A hold belongs to one API client and is proved by a token given to it once (only a
digest is stored). It lives in the shared cache with a TTL, so it expires by itself and
every gateway replica honours it: booking a held slot answers ``409 slot_held`` unless
the booking carries the hold's token, which it then consumes. Where the EHR can hold
(Argonaut ``$hold``: a ``pending`` appointment) the scheduler holds upstream too and the
booking books that pending appointment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mappers import GatewayId

from ..cache import Cache, CacheKeys
from .errors import InvalidRequest, NotFound, SlotHeld

__all__ = [
    "DEFAULT_HOLD_MINUTES",
    "MAX_HOLD_MINUTES",
    "WAITLIST_CLIENT",
    "HeldSlot",
    "Hold",
    "HoldStore",
]

DEFAULT_HOLD_MINUTES = 5
MAX_HOLD_MINUTES = 15
# The holder of a slot offered to a waitlisted patient: any desk of the tenant with the
# offer's token may book it, for that patient only. Not a valid client id, so no API
# client can be it.
WAITLIST_CLIENT = "~waitlist"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Hold:
    slot_id: str
    token: str
    expires_at: datetime
    # What the EHR calls the hold, where it holds too (the pending appointment's id).
    upstream: str | None = None


@dataclass(frozen=True)
class HeldSlot:
    client: str
    token_digest: str
    expires_at: datetime
    upstream: str | None
    # The only patient the slot may be booked for (a waitlist offer), or None.
    patient: str | None = None

    def proves(self, client: str, token: str | None) -> bool:
        return (
            token is not None
            and (client == self.client or self.client == WAITLIST_CLIENT)
            and hmac.compare_digest(self.token_digest, _digest(token))
        )


class HoldStore:
    def __init__(self, cache: Cache, keys: CacheKeys, tenant: str) -> None:
        self._cache = cache
        self._keys = keys
        self._tenant = tenant

    def _key(self, slot: GatewayId) -> str:
        return self._keys.key("hold", self._tenant, slot.source, slot.resource_type, slot.id)

    async def current(self, slot: GatewayId) -> HeldSlot | None:
        raw = await self._cache.get(self._key(slot))
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        return HeldSlot(
            data["client"],
            data["token"],
            datetime.fromisoformat(data["expires_at"]),
            data.get("upstream"),
            data.get("patient"),
        )

    async def place(
        self,
        slot: GatewayId,
        slot_id: str,
        *,
        client: str,
        minutes: int,
        now: datetime,
        token: str | None = None,
        upstream: str | None = None,
    ) -> Hold:
        """Hold ``slot`` for ``client``; with the ``token`` of its own hold, extend it.

        ``SlotHeld`` when someone else holds it (or the token is not this hold's)."""
        if not 1 <= minutes <= MAX_HOLD_MINUTES:
            raise InvalidRequest(f"a hold lasts 1 to {MAX_HOLD_MINUTES} minutes")
        expires = now + timedelta(minutes=minutes)
        key = self._key(slot)
        existing = await self.current(slot)
        if existing is not None:
            if existing.client == WAITLIST_CLIENT:
                raise SlotHeld(
                    "this slot is offered to a waitlisted patient",
                    extra={"held_until": existing.expires_at.isoformat()},
                )
            if token is None or not existing.proves(client, token):
                raise SlotHeld(
                    "another desk is holding this slot",
                    extra={"held_until": existing.expires_at.isoformat()},
                )
            kept = upstream or existing.upstream
            await self._cache.set(key, self._value(client, token, expires, kept), minutes * 60)
            return Hold(slot_id, token, expires, kept)
        fresh = secrets.token_urlsafe(24)
        value = self._value(client, fresh, expires, upstream)
        if not await self._cache.add(key, value, minutes * 60):
            raise SlotHeld("another desk is holding this slot")
        return Hold(slot_id, fresh, expires, upstream)

    async def offer(
        self,
        slot: GatewayId,
        slot_id: str,
        *,
        patient: str,
        seconds: float,
        now: datetime,
        upstream: str | None = None,
    ) -> Hold | None:
        """Hold ``slot`` for a waitlist offer to ``patient``; None when someone holds it."""
        expires = now + timedelta(seconds=seconds)
        fresh = secrets.token_urlsafe(24)
        value = self._value(WAITLIST_CLIENT, fresh, expires, upstream, patient)
        if not await self._cache.add(self._key(slot), value, seconds):
            return None
        return Hold(slot_id, fresh, expires, upstream)

    async def admit(
        self, slot: GatewayId, *, client: str, token: str | None, patient: str | None = None
    ) -> HeldSlot | None:
        """Before booking ``slot`` for ``patient``: the hold this booking consumes (None:
        not held).

        ``SlotHeld`` when another client holds it, the token is wrong, or the slot is
        offered to another patient; a token for a slot nobody holds (the hold expired)
        is not an error: the booking goes ahead."""
        held = await self.current(slot)
        if held is None:
            return None
        if not held.proves(client, token):
            offered = held.client == WAITLIST_CLIENT
            raise SlotHeld(
                "this slot is offered to a waitlisted patient"
                if offered
                else "another desk is holding this slot",
                extra={"held_until": held.expires_at.isoformat()},
            )
        if held.patient is not None and patient != held.patient:
            raise SlotHeld(
                "this slot is offered to another patient",
                extra={"held_until": held.expires_at.isoformat()},
            )
        return held

    async def release(self, slot: GatewayId, *, client: str, token: str) -> HeldSlot:
        """End the caller's hold; the hold it was (its ``upstream`` is the EHR's to end)."""
        held = await self.current(slot)
        if held is None or not held.proves(client, token):
            raise NotFound("no such hold")
        await self._cache.delete(self._key(slot))
        return held

    async def consume(self, slot: GatewayId) -> None:
        await self._cache.delete(self._key(slot))

    async def release_offer(self, slot: GatewayId, token: str) -> HeldSlot | None:
        """End a waitlist offer's hold (declined, or passed on) if it is still that one;
        the hold it ended."""
        held = await self.current(slot)
        if held is not None and held.client == WAITLIST_CLIENT and held.proves(held.client, token):
            await self._cache.delete(self._key(slot))
            return held
        return None

    @staticmethod
    def _value(
        client: str,
        token: str,
        expires: datetime,
        upstream: str | None,
        patient: str | None = None,
    ) -> bytes:
        value = {
            "client": client,
            "token": _digest(token),
            "expires_at": expires.astimezone(UTC).isoformat(),
            "upstream": upstream,
        }
        if patient is not None:
            value["patient"] = patient
        return json.dumps(value).encode()
