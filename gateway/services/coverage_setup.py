"""Build the coverage check's ports for every tenant: called once from the app's lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from ..cache import Cache, CacheKeys
from ..jobs import JobQueue, JobWorker
from ..logs import get_logger
from ..settings import PayerConfig, Settings
from ..sources import TenantSources
from .coverage import CoverageDesk
from .coverage_batch import batch_handler
from .eligibility_cache import EligibilityStore, SingleFlight, TtlPolicy
from .payers import PayerPort, build_payer

log = get_logger(__name__)

__all__ = ["CoverageRuntime", "PayerTransportFactory", "build_coverage"]

# Builds the httpx transport for a payer; tests pass an ASGI transport to the payer simulator.
PayerTransportFactory = Callable[[PayerConfig], httpx.AsyncBaseTransport | None]


@dataclass
class CoverageRuntime:
    desks: dict[str, CoverageDesk]
    store: EligibilityStore
    queue: JobQueue
    http_clients: list[httpx.AsyncClient] = field(default_factory=list)
    workers: list[asyncio.Task[None]] = field(default_factory=list)

    async def aclose(self) -> None:
        for task in self.workers:
            task.cancel()
        if self.workers:
            # Bounded: shutdown must never hang on a worker stuck in an upstream call.
            await asyncio.wait(self.workers, timeout=5)
        for task in self.workers:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("batch_worker_failed", error=type(task.exception()).__name__)
        for http in self.http_clients:
            await http.aclose()


def build_coverage(
    settings: Settings,
    tenants: dict[str, TenantSources],
    cache: Cache,
    keys: CacheKeys,
    transport_factory: PayerTransportFactory | None = None,
) -> CoverageRuntime:
    config = settings.cache
    store = EligibilityStore(
        cache,
        keys,
        TtlPolicy(
            active=config.eligibility_active_ttl_seconds,
            inactive=config.eligibility_inactive_ttl_seconds,
            data_error=config.eligibility_data_error_ttl_seconds,
            last_good=config.eligibility_stale_ttl_seconds,
        ),
    )
    budget = settings.coverage_budget_seconds
    # One flight table per process: in-process waiters share a task, others poll the lock.
    flights = SingleFlight(store, lock_ttl=budget + 5)
    clients: list[httpx.AsyncClient] = []
    desks: dict[str, CoverageDesk] = {}
    for tenant in settings.tenants:
        ports: dict[str, PayerPort] = {}
        for payer in tenant.payers:
            if payer.transport == "none":
                continue
            transport = transport_factory(payer) if transport_factory else None
            http, port = build_payer(payer, transport=transport, budget_seconds=budget)
            clients.append(http)
            if port is not None:
                ports[payer.id] = port
        desks[tenant.id] = CoverageDesk(
            tenant=tenant,
            sources=tenants[tenant.id],
            payers=ports,
            store=store,
            flights=flights,
            budget_seconds=budget,
            source_deadline_seconds=settings.source_deadline_seconds,
        )
    queue = JobQueue(cache)
    handler = batch_handler(desks, per_payer=settings.coverage_batch_per_payer)
    # Called from the lifespan, so a loop is running: the workers live as long as the app.
    loop = asyncio.get_running_loop()
    workers = [
        loop.create_task(JobWorker(queue, handler).run_forever(), name=f"coverage-batch-{i}")
        for i in range(settings.coverage_batch_workers)
    ]
    return CoverageRuntime(
        desks=desks, store=store, queue=queue, http_clients=clients, workers=workers
    )
