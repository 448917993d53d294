"""The app factory: ``create_app(settings)``.

Nothing is built at import: the lifespan runs the composition root (``bootstrap``) in an
``AsyncExitStack`` and closes what it built, in reverse order, at shutdown.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from .audit import AuditSink
from .bootstrap import Adapters, PayerTransportFactory, TransportFactory, bootstrap
from .cache import Cache
from .client_limit import ClientLimit
from .console.install import install_console
from .errors import install_error_handlers
from .metrics import GatewayMetrics
from .middleware import BodyLimit, install_middleware
from .openapi import install_openapi
from .routers import (
    appointments,
    coverage,
    directory,
    events,
    health,
    hooks,
    money,
    patients,
    slots,
    waitlist,
)
from .settings import Settings

__all__ = ["TransportFactory", "create_app"]


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

    adapters = Adapters(
        transports=transport_factory,
        payer_transports=eligibility_transport_factory,
        cache=cache,
        audit=audit,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if prepare is not None:
            await prepare()
        async with AsyncExitStack() as stack:
            app.state.runtime = await bootstrap(settings, stack, metrics, adapters)
            # Everything built so far (about 100,000 objects: models, schemas, settings)
            # lives as long as the app; frozen, the cyclic GC stops re-scanning it on every
            # full collection (they came often enough to cost a sixth of a cached check).
            gc.freeze()
            try:
                yield
            finally:
                # What this app held becomes collectable again (tests run many apps in one
                # process).
                gc.unfreeze()

    app = FastAPI(
        title="frontdesk",
        version="1.0.0",
        summary="One front-desk API over several EHRs and payers",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    install_error_handlers(app)
    # Each add_middleware wraps what came before: outermost last. Observe logs and counts
    # the client limit's 429s and BodyLimit's 413s too.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ClientLimit)
    install_middleware(app)
    # Routes match in order; the coverage check, the busiest call, is tried first.
    for module in (
        coverage,
        health,
        patients,
        slots,
        appointments,
        directory,
        waitlist,
        events,
        hooks,
        money,
    ):
        app.include_router(module.router)
    install_console(app)
    install_openapi(app)
    return app
