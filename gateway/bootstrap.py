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
import dataclasses
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from saq import Worker

from connectors import CircuitBreaker

from .audit import AuditSink, FileAuditSink
from .batch_queue import BatchQueue, BatchStore
from .cache import Cache, CacheKeys, MemoryCache, RedisCache
from .client_limit import ClientSlots
from .connections import payer_port, source_client
from .console.runtime import build_console
from .context import note_index_read
from .events import EventLog, StreamSlots
from .identity.index import PersonIndex
from .identity.model import DEFAULT_MODEL_DIR, MatchModel
from .identity.store import IndexStore, MemoryIndexStore, RedisIndexStore
from .logs import get_logger
from .metrics import GatewayMetrics
from .pacing import PacedPayer, Pacer, close_storage, limiter_storage, rate_item
from .redis_conn import connect_cluster, parse_redis_url, redis_client
from .runtime import BatchRuntime, CoverageRuntime, Runtime
from .sealing import Sealer, derive_key
from .security import Authenticator
from .services.booking import BookingPorts
from .services.business_days import BusinessCalendar
from .services.coverage import CoverageDesk
from .services.directory import Directory
from .services.eligibility_cache import EligibilityStore, SingleFlight, TtlPolicy
from .services.gfe_store import GfeStore, MemoryGfeStore, RedisGfeStore
from .services.holds import HoldStore
from .services.money_desk import MoneyDesk
from .services.patient_records import RecordPorts
from .services.payers import PayerPort
from .services.prices import build_price_book
from .services.scheduling import ProposalStore, scheduler_for
from .services.slots import SlotSearch
from .services.waitlist import EntryStore, OfferDesk
from .services.watch import (
    ChangeFeed,
    ChangeHandler,
    RestHooks,
    SourceWatch,
    hook_token,
    watch_mode,
)
from .settings import PayerConfig, Settings, SourceConfig, TenantConfig
from .sources import SourceHandle, TenantSources
from .state import MemoryState, RedisState, SharedState

__all__ = ["Adapters", "PayerTransportFactory", "TransportFactory", "bootstrap"]

log = get_logger(__name__)

# Builds the httpx transport for a source; the sandbox and tests pass ASGI or mock transports.
TransportFactory = Callable[[SourceConfig], httpx.AsyncBaseTransport | None]
# Builds the httpx transport for a payer; tests pass an ASGI transport to the payer simulator.
PayerTransportFactory = Callable[[PayerConfig], httpx.AsyncBaseTransport | None]
# How long shutdown waits for in-process batch workers to hand their items back.
_WORKER_STOP_SECONDS = 5.0
# The batch queue's connection blocks up to a second waiting for work: its socket waits
# longer than that, unlike the cache's, whose commands never block.
_QUEUE_SOCKET_SECONDS = 10.0
# Event streams one client may hold open in one process.
_STREAMS_PER_CLIENT = 8


@dataclass(frozen=True)
class Adapters:
    """What a caller may supply instead of the real thing (None: build it from settings)."""

    transports: TransportFactory | None = None
    payer_transports: PayerTransportFactory | None = None
    cache: Cache | None = None
    audit: AuditSink | None = None
    state: SharedState | None = None


async def bootstrap(
    settings: Settings,
    stack: AsyncExitStack,
    metrics: GatewayMetrics,
    adapters: Adapters = Adapters(),
) -> Runtime:
    keys = CacheKeys(settings.cache.hash_key.read())
    cache = _cache(settings, stack, metrics, adapters)
    if isinstance(cache, RedisCache):
        await connect_cluster(cache.client)
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
    sealer = _sealer(settings)
    state = _state(settings, stack, adapters)
    events = EventLog(state)
    entries = EntryStore(state, sealer, keys)
    holds = {tenant_id: HoldStore(cache, keys, tenant_id) for tenant_id in tenants}
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
    waitlists = {
        tenant_id: OfferDesk(
            sources=sources,
            slots=slots[tenant_id],
            holds=holds[tenant_id],
            entries=entries,
            state=state,
            sealer=sealer,
            events=events,
            offer_seconds=settings.waitlist.offer_seconds,
            deadline_seconds=settings.source_deadline_seconds,
        )
        for tenant_id, sources in tenants.items()
    }
    booking = {
        tenant_id: BookingPorts(
            sources=sources,
            cache=cache,
            keys=keys,
            holds=holds[tenant_id],
            slots=slots[tenant_id],
            idempotency_ttl_seconds=settings.cache.idempotency_ttl_seconds,
            deadline_seconds=settings.source_deadline_seconds,
            on_outcome=lambda source, outcome: metrics.bookings.labels(source, outcome).inc(),
            index=identity.get(tenant_id),
            listener=waitlists[tenant_id],
        )
        for tenant_id, sources in tenants.items()
    }
    coverage = _coverage(settings, stack, tenants, cache, keys, sealer, adapters, identity)
    if coverage.batch is not None:
        await connect_cluster(coverage.batch.queue.redis)
    watches = _watch(settings, stack, tenants, cache, keys, state, waitlists)
    money = _money(settings, stack, tenants, coverage, keys, sealer, metrics)
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
        events=events,
        event_streams=StreamSlots(per_client=_STREAMS_PER_CLIENT),
        waitlists=waitlists,
        watches=watches,
        client_slots=ClientSlots(
            default_limit=settings.client_max_concurrent_requests,
            limits={
                f"{c.tenant}/{c.id}": c.max_concurrent_requests
                for c in settings.api_clients
                if c.max_concurrent_requests is not None
            },
        ),
        identity=identity,
        money=money,
        console=build_console(settings, cache, keys),
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


def _state(settings: Settings, stack: AsyncExitStack, adapters: Adapters) -> SharedState:
    if adapters.state is not None:
        return adapters.state
    if not settings.cache.redis_url:
        return MemoryState()
    state = RedisState.from_url(settings.cache.redis_url)
    stack.push_async_callback(state.aclose)
    return state


def _watch(
    settings: Settings,
    stack: AsyncExitStack,
    tenants: dict[str, TenantSources],
    cache: Cache,
    keys: CacheKeys,
    state: SharedState,
    waitlists: dict[str, OfferDesk],
) -> dict[tuple[str, str], SourceWatch]:
    """A watcher per source (changes made in the EHR itself) and a sweeper per tenant
    (offers whose window ended), running as long as the app."""
    hooks = settings.hooks
    secret = hooks.secret.read() if hooks.secret is not None else None
    base = str(hooks.public_base_url).rstrip("/") if hooks.public_base_url else None
    watches: dict[tuple[str, str], SourceWatch] = {}
    for tenant_id, sources in tenants.items():
        handler = ChangeHandler(tenant_id, cache, keys, waitlists[tenant_id])
        for handle in sources.all():
            mode = watch_mode(
                handle.config, handle.client.profile.watch, hooks=bool(base and secret)
            )
            rest_hooks = (
                RestHooks(
                    handle,
                    endpoint=f"{base}/v1/hooks/{tenant_id}/{handle.id}",
                    secret=hook_token(secret, tenant_id, handle.id),
                )
                if mode == "subscription" and base and secret
                else None
            )
            watches[(tenant_id, handle.id)] = SourceWatch(
                tenant=tenant_id,
                handle=handle,
                feed=ChangeFeed(tenant_id, handle, state, handler.changed, handler.backlog),
                cache=cache,
                keys=keys,
                mode=mode,
                interval_seconds=handle.config.watch_interval_seconds,
                hooks=rest_hooks,
            )
    loop = asyncio.get_running_loop()
    tasks = [
        loop.create_task(w.run(), name=f"watch-{t}-{s}")
        for (t, s), w in watches.items()
        if w.mode != "off"
    ]
    tasks += [
        loop.create_task(desk.sweep_forever(settings.waitlist.sweep_seconds), name=f"sweep-{t}")
        for t, desk in waitlists.items()
    ]

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=_WORKER_STOP_SECONDS)
        for watch in watches.values():
            await watch.stop()
        for desk in waitlists.values():
            await asyncio.wait_for(desk.drain(), timeout=_WORKER_STOP_SECONDS)

    stack.push_async_callback(stop)
    return watches


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
    sealer: Sealer,
    adapters: Adapters,
    indexes: dict[str, PersonIndex],
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
        sealer,
    )
    budget = settings.coverage_budget_seconds
    # One flight table per process: in-process waiters share a task, others poll the lock.
    flights = SingleFlight(store, lock_ttl=budget + 5)
    pacers = _pacers(settings, stack)
    desks: dict[str, CoverageDesk] = {}
    batch_desks: dict[str, CoverageDesk] = {}
    breakers: dict[str, dict[str, CircuitBreaker]] = {}
    for tenant in settings.tenants:
        realtime: dict[str, PayerPort] = {}
        batch: dict[str, PayerPort] = {}
        breakers[tenant.id] = {}
        for payer in tenant.payers:
            transport = adapters.payer_transports(payer) if adapters.payer_transports else None
            built = payer_port(payer, transport=transport, budget_seconds=budget)
            if built is None:
                continue
            http, port, breakers[tenant.id][payer.id] = built
            stack.push_async_callback(http.aclose)
            pacer = pacers.get(payer.id)
            realtime[payer.id] = PacedPayer(port, pacer, "realtime") if pacer else port
            batch[payer.id] = PacedPayer(port, pacer, "batch") if pacer else port
        desks[tenant.id] = CoverageDesk(
            tenant=tenant,
            sources=tenants[tenant.id],
            payers=realtime,
            store=store,
            flights=flights,
            budget_seconds=budget,
            source_deadline_seconds=settings.source_deadline_seconds,
        )
        batch_desks[tenant.id] = dataclasses.replace(desks[tenant.id], payers=batch)
    return CoverageRuntime(
        desks=desks,
        store=store,
        batch=_batch(settings, stack, batch_desks, indexes),
        payer_breakers=breakers,
    )


def _pacers(settings: Settings, stack: AsyncExitStack) -> dict[str, Pacer]:
    """A shared window per payer with a ``rate_limit`` (``gateway.pacing``)."""
    paced = [p for t in settings.tenants for p in t.payers if p.rate_limit]
    if not paced:
        return {}
    url = settings.cache.redis_url
    storage = limiter_storage(parse_redis_url(url) if url else None)
    stack.push_async_callback(close_storage, storage)
    return {
        p.id: Pacer(storage, rate_item(p.rate_limit or ""), p.id, batch_share=p.batch_share)
        for p in paced
    }


def _batch(
    settings: Settings,
    stack: AsyncExitStack,
    desks: dict[str, CoverageDesk],
    indexes: dict[str, PersonIndex],
) -> BatchRuntime | None:
    """The batch queue on the configured Redis (none without one), and the in-process
    workers ``coverage_batch_workers`` asks for."""
    url = settings.cache.redis_url
    if not url:
        return None
    client = redis_client(
        parse_redis_url(url),
        socket_connect_timeout=2.0,
        socket_timeout=_QUEUE_SOCKET_SECONDS,
        health_check_interval=5,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    stack.push_async_callback(client.aclose)
    queue = BatchQueue(client, BatchStore(client, _sealer(settings)))
    stack.push_async_callback(queue.close)
    batch = BatchRuntime(
        queue=queue,
        desks=desks,
        tries=settings.coverage_batch_tries,
        heartbeat=settings.coverage_batch_heartbeat_seconds,
        concurrency=settings.coverage_batch_concurrency,
        indexes=indexes,
        index_cron=settings.identity.build_cron,
    )
    workers = [batch.worker(f"-{i}") for i in range(settings.coverage_batch_workers)]
    if workers:
        # Called from the lifespan, so a loop is running: the workers live as long as the app.
        loop = asyncio.get_running_loop()
        tasks = [
            loop.create_task(w.start(), name=f"coverage-batch-{i}") for i, w in enumerate(workers)
        ]
        stack.push_async_callback(_stop_workers, workers, tasks)
    return batch


def _money(
    settings: Settings,
    stack: AsyncExitStack,
    tenants: dict[str, TenantSources],
    coverage: CoverageRuntime,
    keys: CacheKeys,
    sealer: Sealer,
    metrics: GatewayMetrics,
) -> dict[str, MoneyDesk]:
    """Each tenant's prices (read now: a price file that doesn't load stops the start,
    naming its row) and the good-faith estimates, in Redis when there is one."""
    gfes: GfeStore
    if settings.cache.redis_url:
        redis = redis_client(
            parse_redis_url(settings.cache.redis_url),
            socket_connect_timeout=0.5,
            socket_timeout=2.0,
        )
        stack.push_async_callback(redis.aclose)
        gfes = RedisGfeStore(redis, keys, sealer)
    else:
        gfes = MemoryGfeStore()
    return {
        tenant.id: MoneyDesk(
            tenant=tenant,
            sources=tenants[tenant.id],
            coverage=coverage.desks[tenant.id],
            store=coverage.store,
            book=build_price_book(tenant.billing, tenant.payers),
            gfes=gfes,
            calendar=BusinessCalendar(tenant.billing.business_days, tenant.billing.holidays),
            deadline_seconds=settings.source_deadline_seconds,
            on_gfe=lambda outcome: metrics.gfe_bookings.labels(outcome).inc(),
        )
        for tenant in settings.tenants
    }


def _sealer(settings: Settings) -> Sealer:
    ring = settings.cache.encryption_keys
    if ring:
        return Sealer([(k.id, derive_key(k.secret.read(), purpose="cache")) for k in ring])
    # No ring configured: one key derived from the cache-key secret (a different purpose,
    # so the two keys are unrelated); rotation then means changing that secret.
    return Sealer([("hk", derive_key(settings.cache.hash_key.read(), purpose="cache"))])


async def _stop_workers(workers: list[Worker[Any]], tasks: list[asyncio.Task[None]]) -> None:
    # saq cancels what is running and puts those items back on the queue for another try.
    await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
    # Bounded: shutdown must never hang on a worker stuck in an upstream call.
    await asyncio.wait(tasks, timeout=_WORKER_STOP_SECONDS)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("batch_worker_failed", error=type(task.exception()).__name__)
