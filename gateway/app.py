"""The app factory: ``create_app(settings)`` is the composition root.

Everything with a connection — one pooled httpx client per upstream, Redis,
breakers — is built in the lifespan, never at import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from .audit import AuditSink, FileAuditSink
from .cache import Cache, CacheKeys, MemoryCache, RedisCache
from .connections import build_source_client
from .errors import install_error_handlers
from .metrics import GatewayMetrics
from .middleware import BodyLimit, install_middleware
from .routers import appointments, coverage, health, patients, slots
from .runtime import Runtime
from .security import Authenticator
from .services.coverage_setup import PayerTransportFactory, build_coverage
from .settings import Settings, SourceConfig
from .sources import SourceHandle, TenantSources

__all__ = ["TransportFactory", "create_app"]

# Builds the httpx transport for a source; the sandbox and tests pass ASGI or mock transports.
TransportFactory = Callable[[SourceConfig], httpx.AsyncBaseTransport | None]


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(
    settings: Settings,
    *,
    transport_factory: TransportFactory | None = None,
    cache: Cache | None = None,
    audit: AuditSink | None = None,
    prepare: Callable[[], Awaitable[None]] | None = None,
    eligibility_transport_factory: PayerTransportFactory | None = None,
) -> FastAPI:
    """Build the app; ``prepare`` runs first in the lifespan (the sandbox seeds its EHRs there)."""
    metrics = GatewayMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if prepare is not None:
            await prepare()
        keys = CacheKeys(settings.cache.hash_key.read())
        own_cache: RedisCache | None = None
        the_cache: Cache
        if cache is not None:
            the_cache = cache
        elif settings.cache.redis_url:
            own_cache = RedisCache.from_url(
                settings.cache.redis_url, on_error=lambda op: metrics.cache_errors.labels(op).inc()
            )
            the_cache = own_cache
        else:
            the_cache = MemoryCache()
        own_audit = audit is None
        the_audit: AuditSink = audit or FileAuditSink(settings.audit_path)
        clients: list[httpx.AsyncClient] = []
        tenants: dict[str, TenantSources] = {}
        for tenant in settings.tenants:
            handles: dict[str, SourceHandle] = {}
            for source in tenant.sources:
                transport = transport_factory(source) if transport_factory else None
                http, client = build_source_client(source, metrics, transport)
                clients.append(http)
                handles[source.id] = SourceHandle(config=source, client=client)
            tenants[tenant.id] = TenantSources(tenant=tenant, handles=handles)
        coverage_runtime = build_coverage(
            settings, tenants, the_cache, keys, eligibility_transport_factory
        )
        app.state.runtime = Runtime(
            settings=settings,
            authenticator=Authenticator(settings.api_clients, settings.jwt),
            cache=the_cache,
            keys=keys,
            audit=the_audit,
            metrics=metrics,
            tenants=tenants,
            http_clients=clients,
            sandbox=settings.sandbox,
            coverage=coverage_runtime,
        )
        try:
            yield
        finally:
            await coverage_runtime.aclose()
            for http in clients:
                await http.aclose()
            if own_cache is not None:
                await own_cache.aclose()
            if own_audit and isinstance(the_audit, FileAuditSink):
                the_audit.close()

    app = FastAPI(
        title="frontdesk",
        version="1.0.0",
        summary="One front-desk API over several EHRs and payers",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    install_error_handlers(app)
    install_middleware(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    for module in (health, patients, slots, appointments, coverage):
        app.include_router(module.router)
    return app
