"""A gateway wired to two in-memory sandbox EHRs, for API tests without servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.cache import MemoryCache
from gateway.runtime import Runtime
from gateway.settings import Settings, SourceConfig
from simulators.fhir_server import create_fhir_app
from simulators.sandbox import Sandbox
from tests.support.asgi import running
from tests.support.gateway_env import settings_for

BASE_A = "http://ehr-a.sandbox/fhir"
BASE_B = "http://ehr-b.sandbox/fhir"


def sandbox_app(sandbox: Sandbox, settings: Settings | None = None) -> FastAPI:
    """The gateway as `frontdesk serve` runs the sandbox (its EHRs, payer and seed), with
    ``settings`` in place of the sandbox's own when a test changes some."""
    return create_app(
        settings or sandbox.settings,
        transport_factory=sandbox.transport_factory,
        eligibility_transport_factory=sandbox.payer_transport_factory,
        prepare=sandbox.prepare,
    )


@dataclass
class SandboxGateway:
    api: httpx.AsyncClient
    ehrs: dict[str, Starlette]
    audit: MemoryAuditSink
    cache: MemoryCache
    app: FastAPI

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def transport(self, source: str) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self.ehrs[source])


@asynccontextmanager
async def sandbox_gateway(
    *, base_url: str = "http://gateway.test", **settings: Any
) -> AsyncIterator[SandboxGateway]:
    ehr_a, ehr_b = create_fhir_app(name="ehr-a"), create_fhir_app(name="ehr-b")
    by_host = {"ehr-a.sandbox": ehr_a, "ehr-b.sandbox": ehr_b}

    def transport_factory(source: SourceConfig) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=by_host[source.base_url.host or ""])

    audit, cache = MemoryAuditSink(), MemoryCache()
    app = create_app(
        settings_for(BASE_A, BASE_B, None, **settings),
        transport_factory=transport_factory,
        cache=cache,
        audit=audit,
    )
    async with running(app, base_url) as api:
        yield SandboxGateway(api, {"ehr-a": ehr_a, "ehr-b": ehr_b}, audit, cache, app)
