"""The app factory: ``create_app(settings)`` is the composition root.

Everything with a connection — one pooled httpx client per upstream, Redis,
breakers — is built in the lifespan, never at import.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

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
        # Everything built so far (about 100,000 objects: models, schemas, settings) lives
        # as long as the app; frozen, the cyclic GC stops re-scanning it on every full
        # collection (70 ms each here; they came often enough to cost a sixth of a cached
        # check). A collection right after startup finds no garbage to keep by mistake.
        gc.freeze()
        try:
            yield
        finally:
            # What this app held becomes collectable again (tests run many apps in one process).
            gc.unfreeze()
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
    # Added last, Observe is outermost: it logs and counts BodyLimit's 413s too.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    install_middleware(app)
    # Routes match in order; the coverage check, the busiest call, is tried first.
    for module in (coverage, health, patients, slots, appointments):
        app.include_router(module.router)
    _document_bearer_auth(app)
    return app


def _document_bearer_auth(app: FastAPI) -> None:
    """Say in the OpenAPI document that every /v1 operation takes a bearer credential.

    The caller is read from the Authorization header by ``deps.authenticate`` rather than
    through a security dependency, so the scheme is added to the document here.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key issued to the client, or an OAuth2 JWT.",
            }
        }
        for path, operations in schema.get("paths", {}).items():
            if path.startswith("/v1/"):
                for operation in operations.values():
                    operation["security"] = [{"bearer": []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
