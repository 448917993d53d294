"""The desk's event stream: what desk apps and the console react to without polling.

One stream per tenant in the shared state (a Redis stream), so every gateway replica
publishes to it and serves it, and a client that reconnects (after a network blip or a
gateway restart) resumes from the last id it saw (``Last-Event-ID``). Events carry ids
only (appointment, slot, waitlist entry): no names, birth dates or phone numbers; the
client reads what it shows through the API, under its own scopes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from .logs import get_logger
from .state import SharedState, StateUnavailable

__all__ = [
    "EVENT_ID_PATTERN",
    "EVENT_TYPES",
    "Event",
    "EventLog",
    "EventType",
    "StreamSlots",
    "TenantEvents",
]

log = get_logger(__name__)

EventType = Literal[
    "waitlist.offer",
    "waitlist.offer_expired",
    "waitlist.offer_declined",
    "waitlist.booked",
    "appointment.checked_in",
    "appointment.no_show",
    "appointment.cancelled",
    "conflict.found",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "waitlist.offer",
    "waitlist.offer_expired",
    "waitlist.offer_declined",
    "waitlist.booked",
    "appointment.checked_in",
    "appointment.no_show",
    "appointment.cancelled",
    "conflict.found",
)
# A stream id (milliseconds and a sequence number), or 0: from the oldest kept.
EVENT_ID_PATTERN = r"^(?:0|[0-9]{1,15}-[0-9]{1,10})$"
_EVENT_ID = re.compile(EVENT_ID_PATTERN)
# Events kept per tenant: a client away longer than this resumes from the oldest kept.
_KEEP = 10_000


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    data: dict[str, Any]

    def sse(self) -> bytes:
        """The event in the ``text/event-stream`` wire format."""
        body = json.dumps(self.data, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.type}\ndata: {body}\n\n".encode()


class EventLog:
    def __init__(self, state: SharedState, prefix: str = "fd") -> None:
        self._state = state
        self._prefix = prefix

    def _key(self, tenant: str) -> str:
        return f"{self._prefix}:events:{tenant}"

    async def publish(self, tenant: str, kind: EventType, data: dict[str, Any]) -> str | None:
        """Append an event; its id, or None when the state is away (the event is lost,
        not the action that caused it: the API still answers what happened)."""
        fields = {"type": kind.encode(), "data": json.dumps(data).encode()}
        try:
            return await self._state.xadd(self._key(tenant), fields, _KEEP)
        except StateUnavailable as exc:
            log.warning("event_not_published", kind=kind, error=str(exc))
            return None

    async def read(
        self, tenant: str, after: str, *, block_seconds: float, count: int = 100
    ) -> list[Event]:
        """Events after ``after`` ("0": the oldest kept), waiting up to ``block_seconds``."""
        if not _EVENT_ID.fullmatch(after):
            raise ValueError("not an event id")
        found = await self._state.xread(
            self._key(tenant), after, block_seconds=block_seconds, count=count
        )
        events = []
        for ident, fields in found:
            try:
                data = json.loads(fields.get("data", b"{}"))
            except ValueError:
                data = {}
            events.append(Event(ident, fields.get("type", b"").decode(), data))
        return events

    async def latest(self, tenant: str) -> str:
        """Where a new client starts: after the newest event now ("0": none yet)."""
        return await self._state.xlast(self._key(tenant)) or "0"


@dataclass(frozen=True)
class TenantEvents:
    """One tenant's end of the event log, for a request to publish what it did."""

    log: EventLog
    tenant: str

    async def publish(self, kind: EventType, data: dict[str, Any]) -> str | None:
        return await self.log.publish(self.tenant, kind, data)


class StreamSlots:
    """How many event streams each client holds open in this process, capped: a client
    reconnecting in a loop must not pile up connections (each holds a Redis read)."""

    def __init__(self, per_client: int) -> None:
        self._per_client = per_client
        self._open: dict[str, int] = {}

    def enter(self, client: str) -> bool:
        if self._open.get(client, 0) >= self._per_client:
            return False
        self._open[client] = self._open.get(client, 0) + 1
        return True

    def exit(self, client: str) -> None:
        left = self._open.get(client, 0) - 1
        if left > 0:
            self._open[client] = left
        else:
            self._open.pop(client, None)
