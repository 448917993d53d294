"""The person index as the services use it: candidates by blocking keys, a record's
linked records, people's decisions, and keeping the index current as records change.

Candidates are ids only; the records themselves are read live from their EHRs (one
``Patient?_id=a,b,c`` search per source) and scored in process with the model, so the
index holds no demographics and what the desk sees is what the EHR holds now.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from mappers import GatewayId, InvalidId, decode_id
from mappers.model import Patient, SourceRef

from ..cache import CacheKeys
from ..logs import get_logger
from ..services.fanout import SourceStatus, fan_out
from ..sources import SourceHandle, TenantSources
from ..timestamps import utc_now_iso
from .features import Row, blocking_keys, row_of
from .grouping import Decisions
from .model import MatchModel
from .store import Entry, IndexStore

__all__ = ["IndexRead", "PersonIndex"]

log = get_logger(__name__)

# At most this many records read live for one search (the most keys agreeing first).
MAX_CANDIDATES = 40
_READ_CHUNK = 40
_OBSERVE_QUEUE = 1000
_METHODS_TTL = 60.0
# Queued to make the worker re-read which sources are observe-only.
_REFRESH = Patient(id="-", source=SourceRef(source="-", resource_type="Patient", id="-"))


@dataclass
class IndexRead:
    """What the index added to one request: records read live, and which sources said no."""

    records: list[Patient] = field(default_factory=list)
    statuses: list[SourceStatus] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.records]


class PersonIndex:
    def __init__(
        self,
        *,
        tenant: str,
        sources: TenantSources,
        store: IndexStore,
        keys: CacheKeys,
        model: MatchModel,
        deadline_seconds: float,
        max_candidates: int = MAX_CANDIDATES,
        on_read: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.tenant = tenant
        self.sources = sources
        self.store = store
        self.model = model
        self._keys = keys
        self._deadline = deadline_seconds
        self._max = max_candidates
        self._on_read = on_read
        self._queue: asyncio.Queue[Patient] | None = None
        self._worker: asyncio.Task[None] | None = None
        # Sources the last build could not read (neither $export nor search): their part
        # of the index grows from what the gateway sees. Re-read from the build's notes.
        self._observe_only: frozenset[str] = frozenset()
        self._methods_read_at = -1e9

    # --- keys ---------------------------------------------------------------------------

    def hashed(self, keys: Iterable[tuple[str, str]]) -> list[str]:
        return [self._keys.digest("person-index", self.tenant, kind, value) for kind, value in keys]

    # --- reading ------------------------------------------------------------------------

    async def candidate_ids(
        self, keys: Sequence[tuple[str, str]], *, exclude: Iterable[str] = ()
    ) -> list[str]:
        """Record ids sharing blocking keys with ``keys``, most keys agreeing first, with
        the other records of their person clusters."""
        gens = await self.store.current(self.tenant)
        if not gens or not keys:
            return []
        gen = gens[0]
        hits: Counter[str] = Counter()
        for members in await self.store.records_for(self.tenant, gen, self.hashed(keys)):
            hits.update(members)
        skip = set(exclude)
        ranked = [
            i for i, _ in sorted(hits.items(), key=lambda kv: (-kv[1], kv[0])) if i not in skip
        ]
        top = ranked[: self._max]
        mates = await self.linked_ids(top, gen=gen)
        out = list(dict.fromkeys([*top, *(m for m in mates if m not in skip)]))
        return out[: self._max]

    async def linked_ids(self, ids: Sequence[str], *, gen: str | None = None) -> list[str]:
        """The other records of the person clusters ``ids`` belong to."""
        if gen is None:
            gens = await self.store.current(self.tenant)
            if not gens:
                return []
            gen = gens[0]
        clusters = await self.store.clusters_of(self.tenant, gen, list(ids))
        members = await self.store.members(self.tenant, gen, sorted(set(clusters.values())))
        known = set(ids)
        return [m for found in members.values() for m in sorted(found) if m not in known]

    async def read(self, ids: Sequence[str]) -> IndexRead:
        """The records ``ids`` name, read live from their EHRs (a vanished one is skipped)."""
        by_source: dict[str, list[GatewayId]] = {}
        for record_id in ids:
            try:
                ref = decode_id(record_id)
            except InvalidId:
                continue
            if ref.resource_type == "Patient" and self.sources.get(ref.source) is not None:
                by_source.setdefault(ref.source, []).append(ref)
        if not by_source:
            return IndexRead()
        handles = [h for h in self.sources.all() if h.id in by_source]

        async def one(handle: SourceHandle) -> list[Patient]:
            refs = by_source[handle.id]
            out: list[Patient] = []
            for start in range(0, len(refs), _READ_CHUNK):
                chunk = refs[start : start + _READ_CHUNK]
                out += await handle.search_mapped(
                    "Patient",
                    {"_id": ",".join(r.id for r in chunk), "_count": str(len(chunk))},
                    Patient,
                    limit=len(chunk),
                )
            return out

        outcomes = await fan_out(handles, lambda h: h.id, one, self._deadline)
        read = IndexRead(
            records=[p for o in outcomes if o.value for p in o.value],
            statuses=[o.status for o in outcomes],
        )
        if read.records and self._on_read is not None:
            self._on_read(read.ids)
        return read

    async def candidates(
        self, keys: Sequence[tuple[str, str]], *, exclude: Iterable[str] = ()
    ) -> IndexRead:
        ids = await self.candidate_ids(keys, exclude=exclude)
        return await self.read(ids) if ids else IndexRead()

    async def decisions(self, ids: Sequence[str]) -> Decisions:
        found = await self.store.decisions(self.tenant, list(ids))
        wanted = set(ids)
        return {
            frozenset((a, b)): str(d["verdict"])
            for a, others in found.items()
            for b, d in others.items()
            if b in wanted
        }

    async def decide(
        self, a: str, b: str, verdict: str, *, by: str, reason: str | None
    ) -> dict[str, Any]:
        decision = {"verdict": verdict, "by": by, "at": utc_now_iso(), "reason": reason}
        await self.store.decide(self.tenant, a, b, decision)
        if verdict == "different":
            await self._separate(a, b)
        else:
            await self._join(a, b)
        return decision

    # --- keeping it current -------------------------------------------------------------

    async def upsert(self, records: Sequence[Patient]) -> None:
        """Index ``records`` at once (a registration, a correction, a changed record): in
        the person cluster of the best-scoring candidate at or above the link threshold,
        or a cluster of their own."""
        try:
            await self._upsert(records)
        except RedisError as exc:
            # Redis away: the next build (or sighting) indexes these records.
            log.warning("person_index_upsert_failed", error=type(exc).__name__)

    async def _upsert(self, records: Sequence[Patient]) -> None:
        gens = await self.store.current(self.tenant)
        if not gens:
            gens = [await self._first_generation()]
        for record in records:
            row = row_of(record)
            keys = blocking_keys(row)
            found = await self.candidates(keys, exclude=[record.id])
            decisions = await self.decisions([record.id, *found.ids])
            best: tuple[float, str] | None = None
            for other in found.records:
                if decisions.get(frozenset((record.id, other.id))) == "different":
                    continue
                match = self.model.score(row, row_of(other))
                if match.probability >= self.model.policy.link_probability and (
                    best is None or match.probability > best[0]
                ):
                    best = (match.probability, other.id)
            for gen in gens:
                cluster = record.id
                if best is not None:
                    clusters = await self.store.clusters_of(self.tenant, gen, [best[1]])
                    cluster = clusters.get(best[1], best[1])
                await self.store.remove(self.tenant, gen, record.id)
                await self.store.put(
                    self.tenant,
                    gen,
                    [Entry(record.id, cluster, tuple(self.hashed(keys)), best[0] if best else 1.0)],
                )

    def observe(self, records: Iterable[Patient]) -> None:
        """Records the gateway saw (search results, reads): indexed in the background,
        for EHRs that allow neither export nor an unfiltered search. Never blocks; when
        the queue is full the rest wait for the next sighting."""
        loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue(_OBSERVE_QUEUE)
            self._worker = loop.create_task(self._drain(), name="person-index-observe")
        if loop.time() - self._methods_read_at > _METHODS_TTL:
            self._methods_read_at = loop.time()
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(_REFRESH)
        for record in records:
            if record.source.source not in self._observe_only:
                continue
            try:
                self._queue.put_nowait(record)
            except asyncio.QueueFull:
                return

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            record = await self._queue.get()
            if record is _REFRESH:
                meta = await self.store.meta(self.tenant)
                methods = meta.get("methods", {})
                self._observe_only = frozenset(s for s, m in methods.items() if m == "observe")
                continue
            try:
                gens = await self.store.current(self.tenant)
                if not gens or await self.store.keys_of(self.tenant, gens[0], record.id) is None:
                    await self.upsert([record])
            except Exception as exc:  # noqa: BLE001 - a sighting must never take the worker down
                log.warning("person_index_observe_failed", error=type(exc).__name__)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            # Bounded: shutdown never waits long on a sighting in flight.
            await asyncio.wait({self._worker}, timeout=2)

    async def _first_generation(self) -> str:
        gen = secrets.token_hex(4)
        await self.store.activate(self.tenant, gen, {"generation": gen, "created": utc_now_iso()})
        return gen

    async def _separate(self, a: str, b: str) -> None:
        """ "Not the same person": ``b`` leaves ``a``'s cluster at once (a build later
        redoes the clusters with the decision)."""
        for gen in await self.store.current(self.tenant):
            clusters = await self.store.clusters_of(self.tenant, gen, [a, b])
            if clusters.get(a) is None or clusters.get(a) != clusters.get(b):
                continue
            keys = await self.store.keys_of(self.tenant, gen, b) or []
            await self.store.remove(self.tenant, gen, b)
            await self.store.put(self.tenant, gen, [Entry(b, b, tuple(keys))])

    async def _join(self, a: str, b: str) -> None:
        for gen in await self.store.current(self.tenant):
            clusters = await self.store.clusters_of(self.tenant, gen, [a, b])
            keys = await self.store.keys_of(self.tenant, gen, b) or []
            await self.store.remove(self.tenant, gen, b)
            await self.store.put(self.tenant, gen, [Entry(b, clusters.get(a, a), tuple(keys), 1.0)])

    def row(self, record: Patient) -> Row:
        return row_of(record)
