"""The tenant's directory, as a desk needs it: who can be booked (practitioners, with their
specialties and where they work), where (locations), for what (the visit types the
sources' schedules offer), and the names to show next to a slot or an appointment.

Directory data changes rarely, so answers are cached, each kind for its own time
(``DirectoryTtl``; a complete
answer only: a source that failed is asked again next time); ``fresh`` (the client's
``Cache-Control: no-cache``) asks the EHRs again. Practitioner and location names are
not patient data; cache keys still hash what was searched for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from connectors import UpstreamError
from mappers import MappingError, decode_id, display_name
from mappers.model import Coding, Location, Practitioner, PractitionerRole, RecordRef, Schedule

from ..cache import Cache, CacheKeys
from ..schemas import LocationOut, PractitionerOut, VisitTypeOut
from ..settings import DirectoryTtl
from ..sources import SourceHandle, TenantSources
from .errors import InvalidRequest, NotFound
from .fanout import SourceStatus, fan_out
from .validation import check_text

__all__ = ["Directory", "DirectoryQuery"]

MAX_PER_SOURCE = 100
_NAMED = ("Practitioner", "PractitionerRole", "Location")


@dataclass(frozen=True)
class DirectoryQuery:
    name: str | None = None
    specialty: str | None = None
    source: str | None = None

    def validate(self) -> None:
        check_text("name", self.name, max_length=100)
        check_text("specialty", self.specialty, max_length=100)


class Directory:
    def __init__(
        self,
        sources: TenantSources,
        cache: Cache,
        keys: CacheKeys,
        *,
        ttl: DirectoryTtl,
        deadline_seconds: float,
    ) -> None:
        self._sources = sources
        self._cache = cache
        self._keys = keys
        self._ttl = ttl
        self._deadline = deadline_seconds

    @property
    def tenant(self) -> str:
        return self._sources.tenant.id

    def _handles(self, source: str | None) -> list[SourceHandle]:
        handles = self._sources.all()
        if source is None:
            return handles
        chosen = [h for h in handles if h.id == source]
        if not chosen:
            raise NotFound("no such source")
        return chosen

    async def _cached(self, kind: str, query: dict[str, Any], fresh: bool) -> Any | None:
        if fresh or self._ttl_of(kind) <= 0:
            return None
        raw = await self._cache.get(self._key(kind, query))
        return json.loads(raw) if raw is not None else None

    def _key(self, kind: str, query: dict[str, Any]) -> str:
        return self._keys.key(f"dir-{kind}", self.tenant, json.dumps(query, sort_keys=True))

    async def _store(self, kind: str, query: dict[str, Any], body: Any, complete: bool) -> None:
        ttl = self._ttl_of(kind)
        if complete and ttl > 0:
            await self._cache.set(self._key(kind, query), json.dumps(body).encode(), ttl)

    def _ttl_of(self, kind: str) -> int:
        ttl: int = getattr(self._ttl, kind.replace("-", "_"))
        return ttl

    # --- practitioners ------------------------------------------------------------------

    async def practitioners(
        self, query: DirectoryQuery, *, fresh: bool = False
    ) -> tuple[list[PractitionerOut], list[SourceStatus], bool]:
        """Practitioners by name (any part) and/or specialty, across the tenant's EHRs."""
        query.validate()
        if not (query.name or query.specialty):
            raise InvalidRequest("search practitioners by name, specialty or both")
        shape = asdict(query)
        cached = await self._cached("practitioners", shape, fresh)
        if cached is not None:
            return _unpack(cached, PractitionerOut)

        async def one(handle: SourceHandle) -> list[PractitionerOut]:
            if query.specialty:
                # Specialty lives on PractitionerRole: the roles, with their practitioners.
                found = await handle.search_pages(
                    "PractitionerRole",
                    {
                        # A code, or system|code: a token search.
                        "specialty": query.specialty,
                        "_include": "PractitionerRole:practitioner",
                        "_count": str(MAX_PER_SOURCE),
                    },
                    max_pages=3,
                )
                roles = [r for r in found.matches if isinstance(r, PractitionerRole)]
                people = {
                    p.id: p
                    for p in (found.get(r.practitioner_id, Practitioner) for r in roles)
                    if p is not None
                }
            else:
                found = await handle.search_pages(
                    "Practitioner",
                    {
                        "name": query.name or "",
                        "_revinclude": "PractitionerRole:practitioner",
                        "_count": str(MAX_PER_SOURCE),
                    },
                    max_pages=3,
                )
                people = {p.id: p for p in found.matches if isinstance(p, Practitioner)}
                roles = [r for r in found.included.values() if isinstance(r, PractitionerRole)]
            out = [_practitioner_out(p, roles) for p in people.values()]
            if query.name and query.specialty:
                wanted = query.name.casefold()
                out = [p for p in out if wanted in p.display.casefold()]
            return out[:MAX_PER_SOURCE]

        outcomes = await fan_out(self._handles(query.source), lambda h: h.id, one, self._deadline)
        items = sorted(
            (p for o in outcomes if o.value for p in o.value), key=lambda p: (p.display, p.id)
        )
        statuses = [o.status for o in outcomes]
        await self._store("practitioners", shape, _pack(items, statuses), _complete(statuses))
        return items, statuses, False

    # --- locations ----------------------------------------------------------------------

    async def locations(
        self, query: DirectoryQuery, *, fresh: bool = False
    ) -> tuple[list[LocationOut], list[SourceStatus], bool]:
        """Locations by name or alias (all of them without one), across the tenant's EHRs."""
        query.validate()
        if query.specialty:
            raise InvalidRequest("locations are searched by name")
        shape = asdict(query)
        cached = await self._cached("locations", shape, fresh)
        if cached is not None:
            return _unpack(cached, LocationOut)

        async def one(handle: SourceHandle) -> list[LocationOut]:
            params = {"_count": str(MAX_PER_SOURCE)}
            if query.name:
                params["name"] = query.name
            found = await handle.search_mapped("Location", params, Location, limit=MAX_PER_SOURCE)
            return [_location_out(loc) for loc in found]

        outcomes = await fan_out(self._handles(query.source), lambda h: h.id, one, self._deadline)
        items = sorted(
            (loc for o in outcomes if o.value for loc in o.value),
            key=lambda loc: (loc.name or "", loc.id),
        )
        statuses = [o.status for o in outcomes]
        await self._store("locations", shape, _pack(items, statuses), _complete(statuses))
        return items, statuses, False

    # --- visit types --------------------------------------------------------------------

    async def visit_types(
        self, source: str | None = None, *, fresh: bool = False
    ) -> tuple[list[VisitTypeOut], list[SourceStatus], bool]:
        """The service types the sources' active schedules offer, with their words."""
        shape = {"source": source}
        cached = await self._cached("visit-types", shape, fresh)
        if cached is not None:
            return _unpack(cached, VisitTypeOut)

        async def one(handle: SourceHandle) -> list[Schedule]:
            return await handle.search_mapped(
                "Schedule", {"active": "true", "_count": "200"}, Schedule, limit=1000
            )

        outcomes = await fan_out(self._handles(source), lambda h: h.id, one, self._deadline)
        seen: dict[tuple[str | None, str], VisitTypeOut] = {}
        for outcome in outcomes:
            for schedule in outcome.value or ():
                for coding in schedule.service_type_codings:
                    if not coding.code:
                        continue
                    key = (coding.system, coding.code)
                    entry = seen.setdefault(
                        key,
                        VisitTypeOut(
                            code=coding.code, system=coding.system, display=coding.display
                        ),
                    )
                    if entry.display is None and coding.display:
                        entry.display = coding.display
                    if outcome.status.source not in entry.sources:
                        entry.sources.append(outcome.status.source)
                    entry.schedules += 1
        items = sorted(seen.values(), key=lambda v: ((v.display or v.code).casefold(), v.code))
        statuses = [o.status for o in outcomes]
        await self._store("visit-types", shape, _pack(items, statuses), _complete(statuses))
        return items, statuses, False

    # --- names for slots and appointments -----------------------------------------------

    async def fill_displays(
        self, handle: SourceHandle, refs: Iterable[RecordRef]
    ) -> dict[str, str]:
        """Display names for references of ``handle``'s source that came without one:
        one ``_id`` search per type, each name cached for the directory's TTL."""
        wanted: dict[str, str] = {}  # id -> type; a day's slots name one clinic many times
        for ref in refs:
            if ref.id is not None and not ref.display and ref.resource_type in _NAMED:
                wanted.setdefault(ref.id, ref.resource_type)
        ids = list(wanted)
        cached: list[bytes | None] = [None] * len(ids)
        if self._ttl.names > 0 and ids:
            cached = await self._cache.get_many([self._name_key(i) for i in ids])
        missing: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        for gateway_id, raw in zip(ids, cached, strict=True):
            if raw is not None:
                names[gateway_id] = raw.decode()
            else:
                missing.setdefault(wanted[gateway_id], []).append(gateway_id)
        for rtype, ids in missing.items():
            try:
                found = await handle.search_pages(
                    rtype,
                    {"_id": ",".join(sorted({_upstream(i) for i in ids})), "_count": "100"},
                    max_pages=2,
                )
            except (UpstreamError, MappingError):
                # Names are a nicety: the slots and appointments still answer without them.
                continue
            for record in found.matches:
                name = _display_of(record)
                if name and hasattr(record, "id"):
                    names[record.id] = name
                    if self._ttl.names > 0:
                        await self._cache.set(
                            self._name_key(record.id), name.encode(), self._ttl.names
                        )
        return names

    def _name_key(self, gateway_id: str) -> str:
        return self._keys.key("dir-name", self.tenant, gateway_id)


def _upstream(gateway_id: str) -> str:
    return decode_id(gateway_id).id


def _display_of(record: object) -> str | None:
    if isinstance(record, Practitioner) and record.name is not None:
        return display_name(record.name, with_prefix=True) or None
    if isinstance(record, Location):
        return record.name
    if isinstance(record, PractitionerRole):
        return record.practitioner_display
    return None


def _practitioner_out(person: Practitioner, roles: Sequence[PractitionerRole]) -> PractitionerOut:
    mine = [r for r in roles if r.practitioner_id == person.id and r.active is not False]
    specialties: list[Coding] = []
    locations: list[str] = []
    for role in mine:
        for coding in role.specialties:
            if coding not in specialties:
                specialties.append(coding)
        for loc in role.location_ids:
            if loc not in locations:
                locations.append(loc)
    return PractitionerOut(
        id=person.id,
        source=person.source.source,
        display=display_name(person.name, with_prefix=True) if person.name else "",
        name=person.name,
        npi=person.npi,
        active=person.active,
        specialties=specialties,
        location_ids=locations,
        role_ids=[r.id for r in mine],
    )


def _location_out(location: Location) -> LocationOut:
    return LocationOut(
        id=location.id,
        source=location.source.source,
        name=location.name,
        aliases=location.aliases,
        status=location.status,
        address=location.address,
        phones=location.phones,
    )


def _complete(statuses: list[SourceStatus]) -> bool:
    return all(s.status == "ok" for s in statuses)


def _pack(items: Sequence[Any], statuses: list[SourceStatus]) -> dict[str, Any]:
    return {
        "items": [i.model_dump(mode="json") for i in items],
        "sources": [asdict(s) for s in statuses],
    }


def _unpack(data: dict[str, Any], model: Any) -> tuple[list[Any], list[SourceStatus], bool]:
    return (
        [model.model_validate(i) for i in data["items"]],
        [SourceStatus(**s) for s in data["sources"]],
        True,
    )
