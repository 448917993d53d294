"""The composition root: every client, cache, breaker, scheduler, coverage desk and booking
port of the gateway is built here, once, and nowhere else.

``bootstrap`` enters each thing that must be closed into the caller's ``AsyncExitStack``
as soon as it exists, so the app's lifespan closes them in reverse order (batch workers
first, then the payer and EHR clients, then Redis and the audit file), and a failure
halfway through closes what was already built. Tests and the sandbox hand in
``Adapters`` (ASGI transports, a memory cache, an audit sink) instead of patching.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx

from .audit import AuditSink, FileAuditSink
from .cache import Cache, CacheKeys, MemoryCache, RedisCache
from .client_limit import ClientSlots
from .connections import payer_port, source_client
from .context import note_index_read
from .identity.index import PersonIndex
from .identity.model import DEFAULT_MODEL_DIR, MatchModel
from .identity.store import IndexStore, MemoryIndexStore, RedisIndexStore
from .jobs import JobQueue, JobWorker
from .logs import get_logger
from .metrics import GatewayMetrics
from .runtime import CoverageRuntime, Runtime
from .sealing import Sealer, derive_key
from .security import Authenticator
from .services.booking import BookingPorts
from .services.coverage import CoverageDesk
from .services.coverage_batch import batch_handler
from .services.directory import Directory
from .services.eligibility_cache import EligibilityStore, SingleFlight, TtlPolicy
from .services.holds import HoldStore
from .services.patient_records import RecordPorts
from .services.payers import PayerPort
from .services.scheduling import ProposalStore, scheduler_for
from .services.slots import SlotSearch
from .settings import PayerConfig, Settings, SourceConfig, TenantConfig
from .sources import SourceHandle, TenantSources

__all__ = ["Adapters", "PayerTransportFactory", "TransportFactory", "bootstrap"]

log = get_logger(__name__)

# Builds the httpx transport for a source; the sandbox and tests pass ASGI or mock transports.
TransportFactory = Callable[[SourceConfig], httpx.AsyncBaseTransport | None]
# Builds the httpx transport for a payer; tests pass an ASGI transport to the payer simulator.
PayerTransportFactory = Callable[[PayerConfig], httpx.AsyncBaseTransport | None]
# How long shutdown waits for batch workers stuck in an upstream call.
_WORKER_STOP_SECONDS = 5.0


@dataclass(frozen=True)
class Adapters:
    """What a caller may supply instead of the real thing (None: build it from settings)."""

    transports: TransportFactory | None = None
    payer_transports: PayerTransportFactory | None = None
    cache: Cache | None = None
    audit: AuditSink | None = None


async def bootstrap(
    settings: Settings,
    stack: AsyncExitStack,
    metrics: GatewayMetrics,
    adapters: Adapters = Adapters(),
) -> Runtime:
    keys = CacheKeys(settings.cache.hash_key.read())
    cache = _cache(settings, stack, metrics, adapters)
    audit = _audit(settings, stack, adapters)
    tenants = {
        t.id: _tenant_sources(t, stack, metrics, cache, keys, adapters) for t in settings.tenants
    }
    identity = _identity(settings, stack, metrics, cache, keys, tenants)
    directory = {
        tenant_id: Directory(
            sources,
            cache,
            keys,
            ttl=settings.cache.directory_ttl,
            deadline_seconds=settings.source_deadline_seconds,
        )
        for tenant_id, sources in tenants.items()
    }
    slots = {
        tenant_id: SlotSearch(
            sources=sources,
            cache=cache,
            keys=keys,
            directory=directory[tenant_id],
            ttl_seconds=settings.cache.slots_ttl_seconds,
            max_days=settings.max_date_range_days,
            deadline_seconds=settings.source_deadline_seconds,
        )
        for tenant_id, sources in tenants.items()
    }
    booking = {
        tenant_id: BookingPorts(
            sources=sources,
            cache=cache,
            keys=keys,
            holds=HoldStore(cache, keys, tenant_id),
            slots=slots[tenant_id],
            idempotency_ttl_seconds=settings.cache.idempotency_ttl_seconds,
            deadline_seconds=settings.source_deadline_seconds,
            on_outcome=lambda source, outcome: metrics.bookings.labels(source, outcome).inc(),
            index=identity.get(tenant_id),
        )
        for tenant_id, sources in tenants.items()
    }
    coverage = _coverage(settings, stack, tenants, cache, keys, adapters)
    return Runtime(
        settings=settings,
        authenticator=Authenticator(settings.api_clients, settings.jwt),
        cache=cache,
        keys=keys,
        audit=audit,
        metrics=metrics,
        tenants=tenants,
        booking=booking,
        directory=directory,
        records={
            tenant_id: RecordPorts(
                sources=sources,
                store=coverage.store,
                deadline_seconds=settings.source_deadline_seconds,
                index=identity.get(tenant_id),
            )
            for tenant_id, sources in tenants.items()
        },
        slots=slots,
        coverage=coverage,
        client_slots=ClientSlots(
            default_limit=settings.client_max_concurrent_requests,
            limits={
                f"{c.tenant}/{c.id}": c.max_concurrent_requests
                for c in settings.api_clients
                if c.max_concurrent_requests is not None
            },
        ),
        identity=identity,
    )


def _cache(
    settings: Settings, stack: AsyncExitStack, metrics: GatewayMetrics, adapters: Adapters
) -> Cache:
    if adapters.cache is not None:
        return adapters.cache
    if not settings.cache.redis_url:
        return MemoryCache()
    redis = RedisCache.from_url(
        settings.cache.redis_url, on_error=lambda op: metrics.cache_errors.labels(op).inc()
    )
    stack.push_async_callback(redis.aclose)
    return redis


def _identity(
    settings: Settings,
    stack: AsyncExitStack,
    metrics: GatewayMetrics,
    cache: Cache,
    keys: CacheKeys,
    tenants: dict[str, TenantSources],
) -> dict[str, PersonIndex]:
    """The person index of each tenant: in Redis beside the cache (memory in the sandbox),
    scored with one model for all."""
    config = settings.identity
    if not config.enabled:
        return {}
    model = MatchModel.load(config.model_dir or DEFAULT_MODEL_DIR)
    store: IndexStore
    if isinstance(cache, RedisCache):
        store = RedisIndexStore(
            cache.client, keys, on_error=lambda op: metrics.cache_errors.labels(f"index_{op}").inc()
        )
    else:
        store = MemoryIndexStore()
    out: dict[str, PersonIndex] = {}
    for tenant_id, sources in tenants.items():
        index = PersonIndex(
            tenant=tenant_id,
            sources=sources,
            store=store,
            keys=keys,
            model=model,
            deadline_seconds=settings.source_deadline_seconds,
            max_candidates=config.max_candidates,
            on_read=note_index_read,
        )
        stack.push_async_callback(index.aclose)
        out[tenant_id] = index
    return out


def _audit(settings: Settings, stack: AsyncExitStack, adapters: Adapters) -> AuditSink:
    if adapters.audit is not None:
        return adapters.audit
    sink = FileAuditSink(settings.audit_path)
    stack.callback(sink.close)
    return sink


def _tenant_sources(
    tenant: TenantConfig,
    stack: AsyncExitStack,
    metrics: GatewayMetrics,
    cache: Cache,
    keys: CacheKeys,
    adapters: Adapters,
) -> TenantSources:
    proposals = ProposalStore(cache, keys, tenant.id)
    handles: dict[str, SourceHandle] = {}
    for source in tenant.sources:
        transport = adapters.transports(source) if adapters.transports else None
        http, client = source_client(source, metrics, transport)
        stack.push_async_callback(http.aclose)
        handles[source.id] = SourceHandle(
            config=source, client=client, scheduler=scheduler_for(client, source.id, proposals)
        )
    return TenantSources(tenant=tenant, handles=handles)


def _coverage(
    settings: Settings,
    stack: AsyncExitStack,
    tenants: dict[str, TenantSources],
    cache: Cache,
    keys: CacheKeys,
    adapters: Adapters,
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
        _sealer(settings),
    )
    budget = settings.coverage_budget_seconds
    # One flight table per process: in-process waiters share a task, others poll the lock.
    flights = SingleFlight(store, lock_ttl=budget + 5)
    desks: dict[str, CoverageDesk] = {}
    for tenant in settings.tenants:
        ports: dict[str, PayerPort] = {}
        for payer in tenant.payers:
            transport = adapters.payer_transports(payer) if adapters.payer_transports else None
            built = payer_port(payer, transport=transport, budget_seconds=budget)
            if built is None:
                continue
            http, port = built
            stack.push_async_callback(http.aclose)
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
    if workers:
        stack.push_async_callback(_stop_workers, workers)
    return CoverageRuntime(desks=desks, store=store, queue=queue)


def _sealer(settings: Settings) -> Sealer:
    ring = settings.cache.encryption_keys
    if ring:
        return Sealer([(k.id, derive_key(k.secret.read(), purpose="cache")) for k in ring])
    # No ring configured: one key derived from the cache-key secret (a different purpose,
    # so the two keys are unrelated); rotation then means changing that secret.
    return Sealer([("hk", derive_key(settings.cache.hash_key.read(), purpose="cache"))])


async def _stop_workers(workers: list[asyncio.Task[None]]) -> None:
    for task in workers:
        task.cancel()
    # Bounded: shutdown must never hang on a worker stuck in an upstream call.
    await asyncio.wait(workers, timeout=_WORKER_STOP_SECONDS)
    for task in workers:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("batch_worker_failed", error=type(task.exception()).__name__)
