"""Building the person index: read every Patient of each source, link them with Splink,
store the clusters in a new generation and switch searches to it; or, incrementally,
index only what changed since the last run.

``build_index`` is the batch job (``frontdesk index build`` calls it; a worker can too).
Splink runs in a thread (it is CPU-bound and blocking); its scratch data is deleted
when it ends.

One build per tenant at a time, across processes (a cron tick, ``frontdesk index build``
by hand, a second worker): a build holds the store's lease while it works and renews it;
one that finds it held stops with ``BuildRunning`` before reading anything. Two builds
at once would each switch generations, and an incremental one could switch back to a
generation the full one had just dropped: an empty index, so searches miss known people.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from mappers.model import Patient

from ..logs import get_logger
from .features import blocking_keys, row_of
from .harvest import Harvest, harvest
from .index import PersonIndex
from .linkage import link
from .store import Entry, LeaseLost

__all__ = ["BuildReport", "BuildRunning", "build_index"]

log = get_logger(__name__)

# The lease outlives a stalled renewal or two; a build that died frees it after this.
LEASE_SECONDS = 300.0


class BuildRunning(Exception):
    """Another build of this tenant's index holds the lease."""


_TAKEN_OVER = "this build lost the person index's lease (it stalled); another may run"


@dataclass
class BuildReport:
    full: bool
    records: int = 0
    clusters: int = 0
    linked_records: int = 0
    seconds: float = 0.0
    link_seconds: float = 0.0
    methods: dict[str, str] = field(default_factory=dict)
    generation: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def build_index(
    index: PersonIndex,
    *,
    full: bool = False,
    backend: str = "duckdb",
    spark: Any = None,
    lease_seconds: float = LEASE_SECONDS,
) -> BuildReport:
    """A full build (or the first one) relinks everything; otherwise the records changed
    since the last run's watermark of each source are indexed one by one."""
    holder = secrets.token_hex(8)
    if not await index.store.claim_build(index.tenant, holder, lease_seconds):
        raise BuildRunning("a build of this person index is already running")
    renewing = asyncio.create_task(_keep_lease(index, holder, lease_seconds))
    try:
        return await _build(index, holder, full=full, backend=backend, spark=spark)
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)
        try:
            await index.store.end_build(index.tenant, holder)
        except RedisError as exc:  # it lapses by itself; the build's outcome stands
            log.warning(
                "person_index_lease_end_failed", tenant=index.tenant, error=type(exc).__name__
            )


async def _keep_lease(index: PersonIndex, holder: str, seconds: float) -> None:
    """Renew until cancelled or the lease is gone; a Redis that fails for a while is tried
    again (the switch of generations checks the lease in the same step)."""
    while True:
        await asyncio.sleep(seconds / 3)
        try:
            if not await index.store.renew_build(index.tenant, holder, seconds):
                return
        except RedisError as exc:
            log.warning(
                "person_index_lease_renew_failed", tenant=index.tenant, error=type(exc).__name__
            )


async def _build(
    index: PersonIndex, holder: str, *, full: bool, backend: str, spark: Any
) -> BuildReport:
    started = time.perf_counter()
    meta = await index.store.meta(index.tenant)
    live = await index.store.current(index.tenant)
    full = full or not live or "watermarks" not in meta
    watermarks: dict[str, str | None] = dict(meta.get("watermarks", {}))
    until = _now()
    harvests: list[Harvest] = []
    for handle in index.sources.all():
        since = None if full else watermarks.get(handle.id)
        harvests.append(await harvest(handle, since=since, until=until))
    report = BuildReport(full=full, methods={h.source: h.method for h in harvests})
    patients = [p for h in harvests for p in h.patients]
    report.records = len(patients)
    for h in harvests:
        watermarks[h.source] = h.watermark
    about = {
        "model": index.model.version,
        "watermarks": watermarks,
        "built": until,
        "methods": report.methods,
    }
    if full:
        report.generation = await _full(index, holder, patients, about, report, backend, spark)
    else:
        await index.upsert(patients)
        try:
            await index.store.activate(
                index.tenant,
                live[0],
                {**meta, **about, "generation": live[0]},
                holder=holder,
            )
        except LeaseLost:
            raise BuildRunning(_TAKEN_OVER) from None
        report.generation = live[0]
    report.seconds = time.perf_counter() - started
    log.info(
        "person_index_built",
        tenant=index.tenant,
        full=full,
        records=report.records,
        seconds=round(report.seconds, 3),
    )
    return report


async def _full(
    index: PersonIndex,
    holder: str,
    patients: list[Patient],
    about: dict[str, Any],
    report: BuildReport,
    backend: str,
    spark: Any,
) -> str:
    rows = [row_of(p) for p in patients]
    decided = await index.store.all_decisions(index.tenant, [p.id for p in patients])
    different = [(a, b) for a, b, v in decided if v == "different"]
    same = [(a, b) for a, b, v in decided if v == "same"]
    model = index.model
    t0 = time.perf_counter()
    linkage = await asyncio.to_thread(
        link,
        rows,
        model.settings,
        model.policy,
        different=different,
        same=same,
        backend=backend,
        spark=spark,
    )
    report.link_seconds = time.perf_counter() - t0
    best: dict[str, float] = {}
    for e in linkage.edges:
        if linkage.clusters.get(e.left) == linkage.clusters.get(e.right):
            for r in (e.left, e.right):
                best[r] = max(best.get(r, 0.0), e.probability)
    gen = secrets.token_hex(4)
    await index.store.begin(index.tenant, gen)
    entries = [
        Entry(
            row["unique_id"] or "",
            linkage.clusters.get(row["unique_id"] or "", row["unique_id"] or ""),
            tuple(index.hashed(blocking_keys(row))),
            best.get(row["unique_id"] or "", 1.0),
        )
        for row in rows
    ]
    await index.store.put(index.tenant, gen, entries)
    try:
        old = await index.store.activate(
            index.tenant,
            gen,
            {**about, "generation": gen, "records": len(rows)},
            holder=holder,
        )
    except LeaseLost:
        await index.store.drop(index.tenant, gen)
        raise BuildRunning(_TAKEN_OVER) from None
    if old is not None and old != gen:
        await index.store.drop(index.tenant, old)
    sizes: dict[str, int] = {}
    for cluster in linkage.clusters.values():
        sizes[cluster] = sizes.get(cluster, 0) + 1
    report.clusters = len(sizes)
    report.linked_records = sum(n for n in sizes.values() if n > 1)
    return gen
