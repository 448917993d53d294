"""Watching each EHR for changes made outside the gateway (its own desk, a portal).

Per source, the way its configuration and vendor profile allow: rest-hook
Subscriptions (a notification runs the change feed at once; a slow poll stays on as a
safety net for lost notifications; where they fail, a poll stands in and they are tried
again now and then), or a poll on an interval, or nothing. A change
drops the tenant's slot cache and offers freed time to the waitlist.

Among gateway processes, one polls a source at a time (a lease in the shared cache,
renewed each round); a notification runs the feed in whichever process receives it.
Either way an offer is made once: the waitlist's claims see to that.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from connectors import UpstreamError
from mappers import MappingError, encode_id
from mappers.ids import is_fhir_id

from ...cache import Cache, CacheKeys
from ...logs import get_logger
from ...settings import SourceConfig
from ...sources import SourceHandle
from ...state import StateUnavailable
from ..slots import slots_generation_key
from ..waitlist import Freed, OfferDesk
from .changes import ChangeFeed
from .subscriptions import RestHooks

__all__ = ["ChangeHandler", "SourceWatch", "WatchMode", "freed_by", "hook_token", "watch_mode"]

log = get_logger(__name__)

WatchMode = Literal["subscription", "poll", "off"]
# With Subscriptions, the poll only catches what a lost notification missed.
_SAFETY_FACTOR = 10
# Polled because Subscriptions failed: tried again after a safety round's worth of
# polls, then after twice as many each time they fail again, up to this many times.
_MAX_RETRY_BACKOFF = 16


def watch_mode(config: SourceConfig, profile_watch: str, *, hooks: bool) -> WatchMode:
    """The way a source is watched: what it is configured for, within what its vendor
    allows; a Subscription needs the gateway's public address and a hook secret."""
    wanted = config.watch if config.watch != "auto" else profile_watch
    if wanted == "subscription":
        return "subscription" if hooks else "poll"
    if wanted == "poll":
        return "poll"
    return "off"


def hook_token(secret: str, tenant: str, source: str) -> str:
    """What one source presents on its notifications: a leaked token from one EHR
    authenticates nothing for another."""
    return hmac.new(secret.encode(), f"{tenant}/{source}".encode(), hashlib.sha256).hexdigest()


@dataclass
class SourceWatch:
    tenant: str
    handle: SourceHandle
    feed: ChangeFeed
    cache: Cache
    keys: CacheKeys
    mode: WatchMode
    interval_seconds: float
    hooks: RestHooks | None = None
    _poke: asyncio.Event = field(default_factory=asyncio.Event)
    _owner: bytes = field(default_factory=lambda: secrets.token_bytes(12))
    # The mode in force (a server that won't run Subscriptions is polled instead).
    active_mode: WatchMode = "off"
    # Polling in place of Subscriptions: rounds until they are tried again, and the
    # current backoff (in safety rounds).
    _until_retry: int = 0
    _backoff: int = 1

    def poke(self) -> None:
        """A notification came: run the feed now."""
        self._poke.set()

    async def run(self) -> None:
        if self.mode == "off":
            return
        self.active_mode = self.mode
        if self.mode == "subscription" and not await self._subscribed():
            self._fall_back()
        log.info("watching", source=self.handle.id, mode=self.active_mode)
        await self._safely(self.feed.start)
        while True:
            interval = self.interval_seconds * (
                _SAFETY_FACTOR if self.active_mode == "subscription" else 1
            )
            poked = await self._wait(interval)
            if poked or await self._lease(interval):
                if not poked and self.active_mode == "subscription":
                    await self._resubscribe()
                elif not poked and self.mode == "subscription":
                    await self._retry_subscribing()
                await self._safely(self.feed.poll)

    async def _subscribed(self) -> bool:
        try:
            return self.hooks is not None and await self.hooks.ensure()
        except Exception as exc:  # noqa: BLE001 - whatever the EHR answered, poll instead
            # The watcher is a background loop: a Subscription check that fails in a way
            # nobody foresaw (a create answered without an id) must not end it.
            log.warning("watch_failed", source=self.handle.id, error=type(exc).__name__)
            return False

    def _fall_back(self) -> None:
        self.active_mode = "poll"
        self._backoff = 1
        self._until_retry = _SAFETY_FACTOR

    async def _resubscribe(self) -> None:
        """Each safety round: the Subscriptions are still there. Replicas share them (one
        public address), and a replica that stops deletes the ones it made."""
        if await self._subscribed():
            return
        self._fall_back()
        log.warning("watching", source=self.handle.id, mode=self.active_mode)

    async def _retry_subscribing(self) -> None:
        """Polled in place of Subscriptions (the server was away, or refused them once):
        now and then, try them again, backing off while the server keeps refusing."""
        self._until_retry -= 1
        if self._until_retry > 0:
            return
        if await self._subscribed():
            self.active_mode = "subscription"
            log.info("watching", source=self.handle.id, mode=self.active_mode)
            return
        self._backoff = min(self._backoff * 2, _MAX_RETRY_BACKOFF)
        self._until_retry = _SAFETY_FACTOR * self._backoff

    async def stop(self) -> None:
        if self.hooks is not None:
            await self.hooks.remove()

    async def _wait(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._poke.wait(), timeout=seconds)
        except TimeoutError:
            return False
        self._poke.clear()
        return True

    async def _lease(self, interval: float) -> bool:
        """This process polls the source this round (it holds the lease, or took it)."""
        key = self.keys.plain("watch-lease", self.tenant, self.handle.id)
        ttl = interval * 3
        if await self.cache.add(key, self._owner, ttl) or await self.cache.get(key) == self._owner:
            await self.cache.set(key, self._owner, ttl)
            return True
        return False

    async def _safely(self, step: Callable[[], Awaitable[Any]]) -> None:
        try:
            await step()
        except (UpstreamError, MappingError, StateUnavailable, TimeoutError) as exc:
            log.warning("watch_failed", source=self.handle.id, error=type(exc).__name__)


def freed_by(source: str, resource: dict[str, Any]) -> list[Freed]:
    """The time a changed Slot or Appointment may have freed: a free Slot, or the slots
    (or the time) of a cancelled Appointment."""
    rtype = resource.get("resourceType")
    start = _start(resource.get("start"))
    ident = resource.get("id")
    if start is None or not isinstance(ident, str) or not is_fhir_id(ident):
        return []
    if rtype == "Slot" and resource.get("status") == "free":
        return [Freed(source, start, encode_id(source, "Slot", ident))]
    if rtype == "Appointment" and resource.get("status") in ("cancelled", "entered-in-error"):
        slots = [
            ref["reference"].removeprefix("Slot/")
            for ref in resource.get("slot") or ()
            if isinstance(ref, dict)
            and isinstance(ref.get("reference"), str)
            and ref["reference"].startswith("Slot/")
            and is_fhir_id(ref["reference"].removeprefix("Slot/"))
        ]
        if slots:
            return [Freed(source, start, encode_id(source, "Slot", s)) for s in slots]
        return [Freed(source, start)]
    return []


def _start(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@dataclass(frozen=True)
class ChangeHandler:
    """What a change in an EHR means for the gateway: its slot cache is stale, and any
    time it freed goes to the waitlist."""

    tenant: str
    cache: Cache
    keys: CacheKeys
    waitlist: OfferDesk

    async def changed(self, handle: SourceHandle, resources: list[dict[str, Any]]) -> None:
        await self.backlog(handle)
        for resource in resources:
            for freed in freed_by(handle.id, resource):
                await self.waitlist.freed(freed)

    async def backlog(self, handle: SourceHandle) -> None:
        await self.cache.incr(slots_generation_key(self.keys, self.tenant))
