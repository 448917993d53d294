"""The ``Scheduler`` seam: how one EHR offers free time, books it and cancels it.

Two implementations, chosen once per source from its vendor profile
(``connectors.BookingStyle``): ``SlotCreateScheduler`` (search free Slots, create an
Appointment; HAPI, generic R4, Oracle Health) and ``FindBookScheduler`` (Argonaut
``$find``/``$book``; Epic). The booking service above them keeps what is the same for
every EHR: idempotency, the per-slot lock and the reschedule saga.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from mappers import GatewayId
from mappers.model import Appointment, Coding, RecordRef, Slot

__all__ = ["BookingDetails", "Offer", "Scheduler", "SlotWindow"]


@dataclass(frozen=True)
class SlotWindow:
    """Free time wanted from one source: ``[start, end)``, optional filters, a cap."""

    start: datetime
    end: datetime
    limit: int
    service_type: str | None = None
    # "Practitioner/<upstream id>" or "Location/<upstream id>" of this source, or None.
    actor: str | None = None


@dataclass(frozen=True)
class Offer:
    """A free slot and who and where it is with, as far as the source said: the
    practitioners and the location of its Schedule (or of a `$find` proposal), with the
    upstream's display when it gave one."""

    slot: Slot
    practitioners: tuple[RecordRef, ...] = ()
    location: RecordRef | None = None
    # The Schedule's service types, whose words a slot that gives only codes lacks.
    schedule_service_types: tuple[Coding, ...] = ()


@dataclass(frozen=True)
class BookingDetails:
    """Who a booking is for, and what identifies it upstream."""

    # The Patient's upstream id in the slot's EHR.
    patient: str
    # SHA-256 of (client, Idempotency-Key): the booking identifier is derived from it, so a
    # retried create finds the first one and the client's key never reaches the EHR.
    idempotency_digest: str
    reason: str | None = None
    comment: str | None = None
    # Upstream id of an appointment this booking replaces; sent only where ``can_rebook``.
    replaces: str | None = None
    # Overbooking on purpose: how many extra bookings the slot may take (None: it must be
    # free, as always).
    overbook_limit: int | None = None


class Scheduler(Protocol):
    """One source's booking route. Raises service errors (``SlotTaken``,
    ``SlotUnavailable`` ...) for refusals and ``connectors.UpstreamError`` for the rest."""

    # Resource types a gateway slot id of this source may name ("Slot", or $find proposals).
    slot_types: frozenset[str]
    # Whether ``book`` can cancel the appointment it replaces in the same call.
    can_rebook: bool

    async def free_slots(self, window: SlotWindow) -> list[Offer]:
        """Free, bookable slots starting in the window, in the source's order."""
        ...

    async def slot_time(self, slot: GatewayId) -> tuple[datetime, datetime] | None:
        """When ``slot`` is, as the EHR says now; None when it can't tell."""
        ...

    async def hold(self, slot: GatewayId, minutes: int) -> str | None:
        """Check ``slot`` can be held and, where the EHR holds too (Argonaut ``$hold``),
        hold it there; the upstream hold's id (a pending Appointment), or None."""
        ...

    async def release(self, upstream: str) -> None:
        """End an upstream hold nobody booked (the id ``hold`` gave), so the EHR offers
        the time again now rather than when its own hold lapses. Best effort: a failure
        is logged, never raised (the EHR's hold lapses by itself)."""
        ...

    async def book(self, slot: GatewayId, details: BookingDetails) -> Appointment:
        """Book ``slot`` (a gateway id of this source) for ``details.patient``."""
        ...

    async def set_status(
        self, upstream_id: str, current: dict[str, Any], target: str
    ) -> dict[str, Any]:
        """Move the appointment read as ``current`` to ``target`` (guarded by its version);
        the updated Appointment JSON. ``PreconditionFailed`` when it changed meanwhile."""
        ...

    async def cancel(
        self, upstream_id: str, current: dict[str, Any], reason: str
    ) -> dict[str, Any]:
        """Cancel the appointment read as ``current`` (guarded by its version) and free
        what it held; the updated Appointment JSON. ``PreconditionFailed`` when it changed."""
        ...
