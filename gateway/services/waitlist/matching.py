"""Who a freed slot goes to: the waitlisted patients it fits, in the order they are
offered it. Pure: no I/O, so the rules are tested as a table."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo

from ...schemas import SlotOut
from .entries import PRIORITY_RANK, WaitlistEntry

__all__ = ["fits", "in_line"]


def fits(entry: WaitlistEntry, slot: SlotOut, *, now: datetime, zone: tzinfo) -> str | None:
    """None when ``slot`` suits ``entry``; otherwise why not (for tests and logs)."""
    if entry.offer_slot_id is not None:
        return "has an open offer"
    if slot.id in entry.passed:
        return "let this slot pass"
    codes = set(slot.service_types) | {c.code for c in slot.service_type_codings if c.code}
    if entry.service_type not in codes:
        return "another visit type"
    if entry.practitioner_id is not None and entry.practitioner_id not in {
        p.id for p in slot.practitioners
    }:
        return "another practitioner"
    if entry.location_id is not None and (
        slot.location is None or slot.location.id != entry.location_id
    ):
        return "another location"
    day = slot.start.astimezone(zone).date()
    if not entry.earliest <= day <= entry.latest:
        return "outside the days asked for"
    if slot.start < now + timedelta(hours=entry.min_notice_hours):
        return "too soon"
    return None


def in_line(
    entries: Iterable[WaitlistEntry], slot: SlotOut, *, now: datetime, zone: tzinfo
) -> list[WaitlistEntry]:
    """The entries ``slot`` fits, by priority, then longest waiting first."""
    fitting = [e for e in entries if fits(e, slot, now=now, zone=zone) is None]
    return sorted(fitting, key=lambda e: (PRIORITY_RANK[e.priority], e.created_at, e.id))
