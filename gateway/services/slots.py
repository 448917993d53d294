"""Free slots across the tenant's EHRs, merged and sorted by start."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from mappers import InvalidId, decode_id
from mappers.model import Coding, RecordRef, Slot

from ..cache import Cache, CacheKeys
from ..schemas import Ref, SlotOut
from ..sources import SourceHandle, TenantSources
from .directory import Directory
from .errors import InvalidRequest, NotFound
from .fanout import SourceStatus, fan_out
from .scheduling import Offer, SlotWindow
from .validation import check_instant, check_text

__all__ = ["SlotQuery", "SlotSearch", "find_slots", "slots_generation_key"]

MAX_SLOTS_PER_SOURCE = 500


DEFAULT_DAYS = 7


@dataclass(frozen=True)
class SlotQuery:
    start: datetime
    # None: DEFAULT_DAYS after start.
    end: datetime | None = None
    service_type: str | None = None
    practitioner: str | None = None
    location: str | None = None
    source: str | None = None

    def validated(self, max_days: int) -> SlotQuery:
        """This query checked, with its end filled in; InvalidRequest otherwise."""
        check_instant("start", self.start)
        check_instant("end", self.end)
        end = self.end or self.start + timedelta(days=DEFAULT_DAYS)
        if end <= self.start:
            raise InvalidRequest("end must be after start")
        if end - self.start > timedelta(days=max_days):
            raise InvalidRequest(f"the date range may span at most {max_days} days")
        check_text("service_type", self.service_type, max_length=64)
        return replace(self, end=end)

    @property
    def until(self) -> datetime:
        """The end, or the default one (``validated`` fills it in)."""
        return self.end or self.start + timedelta(days=DEFAULT_DAYS)

    def actor(self) -> tuple[str, str] | None:
        """(source, "Type/id") of the practitioner or location filter, from its gateway id."""
        for raw, rtype in ((self.practitioner, "Practitioner"), (self.location, "Location")):
            if raw is None:
                continue
            try:
                ref = decode_id(raw, resource_type=rtype)
            except InvalidId:
                raise NotFound(f"no such {rtype.lower()}") from None
            return ref.source, f"{rtype}/{ref.id}"
        return None


def slots_generation_key(keys: CacheKeys, tenant: str) -> str:
    """A counter bumped by every booking or cancellation through the gateway.

    It is part of every slot cache key, so one INCR invalidates all cached slot
    lists of the tenant across gateway processes.
    """
    return keys.plain("slots-gen", tenant, "n")


@dataclass(frozen=True)
class SlotSearch:
    """What slot searches need of a tenant; built once by the composition root."""

    sources: TenantSources
    cache: Cache
    keys: CacheKeys
    directory: Directory
    ttl_seconds: float
    max_days: int
    deadline_seconds: float


async def find_slots(
    ports: SlotSearch, query: SlotQuery, *, fresh: bool = False
) -> tuple[list[SlotOut], list[SourceStatus], bool]:
    """Free slots in range, with who, where and what; returns (slots, per-source status,
    served from cache). ``fresh`` (``Cache-Control: no-cache``) asks the EHRs again."""
    query = query.validated(ports.max_days)
    actor = query.actor()
    sources, cache, keys = ports.sources, ports.cache, ports.keys
    handles = sources.all()
    if query.source is not None:
        handles = [h for h in handles if h.id == query.source]
        if not handles:
            raise NotFound("no such source")
    if actor is not None:
        handles = [h for h in handles if h.id == actor[0]]
        if not handles:
            raise NotFound("no such practitioner or location")
    generation = (await cache.get(slots_generation_key(keys, sources.tenant.id))) or b"0"
    cache_key = keys.key(
        "slots",
        sources.tenant.id,
        generation.decode(),
        json.dumps(asdict(query), default=str, sort_keys=True),
    )
    if ports.ttl_seconds > 0 and not fresh:
        cached = await cache.get(cache_key)
        if cached is not None:
            data = json.loads(cached)
            return (
                [SlotOut.model_validate(s) for s in data["items"]],
                [SourceStatus(**s) for s in data["sources"]],
                True,
            )
    window = SlotWindow(
        start=query.start,
        end=query.until,
        limit=MAX_SLOTS_PER_SOURCE,
        service_type=query.service_type,
        actor=actor[1] if actor else None,
    )

    async def offers_of(handle: SourceHandle) -> list[SlotOut]:
        offers = await handle.scheduler.free_slots(window)
        return await _shown(ports.directory, handle, offers)

    outcomes = await fan_out(handles, lambda h: h.id, offers_of, ports.deadline_seconds)
    slots = sorted((s for o in outcomes if o.value for s in o.value), key=lambda s: (s.start, s.id))
    statuses = [o.status for o in outcomes]
    # Only complete answers are cached: a source that failed must be asked again next time.
    if ports.ttl_seconds > 0 and all(s.status == "ok" for s in statuses):
        payload = {
            "items": [s.model_dump(mode="json") for s in slots],
            "sources": [asdict(s) for s in statuses],
        }
        await cache.set(cache_key, json.dumps(payload).encode(), ports.ttl_seconds)
    return slots, statuses, False


def _service_display(slot: Slot, from_schedule: tuple[Coding, ...]) -> str | None:
    """The words for the slot's visit type: its own, else its Schedule's for the same code."""
    own = next((c.display for c in slot.service_type_codings if c.display), None)
    if own is not None:
        return own
    codes = set(slot.service_types)
    return next((c.display for c in from_schedule if c.display and c.code in codes), None)


async def _shown(directory: Directory, handle: SourceHandle, offers: list[Offer]) -> list[SlotOut]:
    """The offers as a desk shows them: names the source left out come from the directory."""
    refs = [r for o in offers for r in (*o.practitioners, *([o.location] if o.location else []))]
    names = await directory.fill_displays(handle, refs)

    def ref(r: RecordRef) -> Ref:
        return Ref(id=r.id, display=r.display or (names.get(r.id) if r.id else None))

    out: list[SlotOut] = []
    for offer in offers:
        slot = offer.slot
        service = _service_display(slot, offer.schedule_service_types)
        out.append(
            SlotOut(
                **slot.model_dump(),
                practitioners=[ref(r) for r in offer.practitioners],
                location=ref(offer.location) if offer.location else None,
                service_type_display=service,
            )
        )
    return out


async def next_available(
    ports: SlotSearch,
    query: SlotQuery,
    *,
    per_practitioner: int,
    limit: int,
    fresh: bool = False,
) -> tuple[list[SlotOut], list[SourceStatus]]:
    """The earliest free slots of each practitioner from ``query.start``: week by week up
    to the tenant's longest range, at most ``per_practitioner`` each and ``limit`` in all,
    sorted by start. A slot with no practitioner counts under its location."""
    horizon = query.start + timedelta(days=ports.max_days)
    chosen: dict[str, list[SlotOut]] = {}
    statuses: dict[str, SourceStatus] = {}
    start = query.start
    while start < horizon:
        week = replace(query, start=start, end=min(start + timedelta(days=7), horizon))
        slots, week_statuses, _ = await find_slots(ports, week, fresh=fresh)
        for status in week_statuses:
            # A source that failed in any week makes the answer partial.
            if statuses.get(status.source) is None or status.status != "ok":
                statuses[status.source] = status
        for slot in slots:
            who = _whose(slot)
            mine = chosen.setdefault(who, [])
            if len(mine) < per_practitioner:
                mine.append(slot)
        full = chosen and all(len(v) >= per_practitioner for v in chosen.values())
        if sum(len(v) for v in chosen.values()) >= limit and full:
            break
        start = week.until
    found = sorted((s for v in chosen.values() for s in v), key=lambda s: (s.start, s.id))
    return found[:limit], list(statuses.values())


def _whose(slot: SlotOut) -> str:
    for ref in slot.practitioners:
        if ref.id or ref.display:
            return f"p:{ref.id or ref.display}"
    if slot.location is not None:
        return f"l:{slot.location.id or slot.location.display}"
    return f"s:{slot.schedule_id or slot.source.source}"
