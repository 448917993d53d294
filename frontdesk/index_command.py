"""``frontdesk index``: build the person index, train its model.

    frontdesk index build --config frontdesk.yaml [--tenant T] [--full] [--backend spark]
    frontdesk index train --config frontdesk.yaml --out DIR [--tenant T]
    frontdesk index train --synthetic --out DIR     (the shipped default model)

``run_build`` is one build in this process; ``queue_build`` (``--queue``) hands it to the
batch workers, which also build on ``identity.build_cron`` (``gateway.identity.build_job``).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from gateway.bootstrap import Adapters, bootstrap
from gateway.identity.build import BuildReport, build_index
from gateway.identity.build_job import enqueue_index_build
from gateway.identity.features import row_of
from gateway.identity.harvest import harvest
from gateway.identity.linkage import train
from gateway.metrics import GatewayMetrics
from gateway.runtime import Runtime
from gateway.settings import Settings

__all__ = ["queue_build", "run_build", "run_train", "synthetic_rows", "train_synthetic"]


async def run_build(
    runtime: Runtime, tenant: str, *, full: bool = False, backend: str = "duckdb", spark: Any = None
) -> BuildReport:
    """One build of ``tenant``'s person index (a job's whole work)."""
    index = runtime.identity.get(tenant)
    if index is None:
        raise ValueError(f"no person index for tenant {tenant!r} (identity.enabled is off?)")
    return await build_index(index, full=full, backend=backend, spark=spark)


async def queue_build(runtime: Runtime, *, tenant: str | None = None, full: bool = False) -> bool:
    """Put a build on the batch queue for the workers; False when one is already there."""
    batch = runtime.coverage.batch
    if batch is None:
        raise ValueError("no batch queue (cache.redis_url is not set)")
    return await enqueue_index_build(batch.queue, tenant=tenant, full=full) is not None


async def with_runtime(settings: Settings, work: Any, adapters: Adapters | None = None) -> Any:
    async with AsyncExitStack() as stack:
        runtime = await bootstrap(settings, stack, GatewayMetrics(), adapters or Adapters())
        return await work(runtime)


async def run_train(runtime: Runtime, tenant: str, out: Path) -> int:
    """Estimate a model from every Patient of the tenant's EHRs, unlabelled; returns the
    number of records it learnt from."""
    from datetime import UTC, datetime

    index = runtime.identity[tenant]
    until = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    rows = []
    for handle in index.sources.all():
        found = await harvest(handle, since=None, until=until)
        rows += [row_of(p) for p in found.patients]
    await asyncio.to_thread(train, rows, out)
    return len(rows)


def synthetic_rows(people: int = 3000) -> list[dict[str, str | None]]:
    from mappers import from_fhir
    from mappers.model import Patient
    from simulators.seed.corruption import corrupted_pair

    pair = corrupted_pair(people)
    return [row_of(from_fhir(r, source="ehr-a", expect=Patient)) for r in pair.ehr_a] + [
        row_of(from_fhir(r, source="ehr-b", expect=Patient)) for r in pair.ehr_b
    ]


def train_synthetic(out: Path, people: int = 3000) -> int:
    rows = synthetic_rows(people)
    train(rows, out)
    return len(rows)
