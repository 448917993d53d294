"""A refusal that offers the next slot: when a slot was just taken or is held, the caller
on the phone hears the nearest free times instead of "search again".

Up to three free slots, freshly read from the slot's EHR: first those of the same
schedule and visit type, then the same visit type at the same location, then the same
visit type anywhere in that EHR; each group nearest in time to the slot asked for. Slots
another desk holds are left out: each one listed is bookable as it stands.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors import UpstreamError
from mappers import GatewayId, MappingError, decode_id, encode_id
from mappers.model import Slot

from ..schemas import SlotOut
from ..sources import SourceHandle
from .errors import ServiceError
from .holds import HoldStore
from .slots import SlotQuery, SlotSearch, find_slots

__all__ = ["MAX_ALTERNATIVES", "alternatives_for"]

MAX_ALTERNATIVES = 3
# How far around the slot asked for to look.
_BEFORE = timedelta(hours=2)
_AFTER = timedelta(days=7)


async def alternatives_for(
    search: SlotSearch,
    holds: HoldStore,
    handle: SourceHandle,
    slot: GatewayId,
    *,
    now: datetime,
) -> list[SlotOut]:
    """Nearest free, unheld slots like ``slot`` (see the module docstring); [] when the
    slot can't be read or the EHR doesn't answer: a refusal never fails for want of them."""
    try:
        wanted = await _slot(handle, slot)
        at = wanted.start if wanted is not None else now
        start = max(now, at - _BEFORE)
        query = SlotQuery(
            start=start,
            end=start + _AFTER,
            service_type=wanted.service_types[0] if wanted and wanted.service_types else None,
            source=handle.id,
        )
        found, _, _ = await find_slots(search, query, fresh=True)
    except (UpstreamError, MappingError, ServiceError, TimeoutError):
        return []
    asked = encode_id(slot.source, slot.resource_type, slot.id)
    schedule = wanted.schedule_id if wanted is not None else None
    # Where the slot asked for is: its schedule's location, as its other slots show it.
    place = next(
        (s.location.id for s in found if s.schedule_id == schedule and s.location is not None),
        None,
    )

    def rank(s: SlotOut) -> tuple[int, float]:
        if schedule is not None and s.schedule_id == schedule:
            group = 0
        elif place is not None and s.location is not None and s.location.id == place:
            group = 1
        else:
            group = 2
        return group, abs((s.start - at).total_seconds())

    out: list[SlotOut] = []
    for candidate in sorted((s for s in found if s.id != asked), key=rank):
        if await holds.current(decode_id(candidate.id)) is None:
            out.append(candidate)
        if len(out) == MAX_ALTERNATIVES:
            break
    return out


async def _slot(handle: SourceHandle, ref: GatewayId) -> Slot | None:
    if ref.resource_type != "Slot":
        return None  # a $find proposal: only the EHR knows it, and it is gone
    slot, _ = await handle.read_mapped("Slot", ref.id, Slot, what="slot")
    return slot
