"""Schemathesis against the gateway's own OpenAPI: nothing a client sends gives a 5xx.

The gateway runs for real (uvicorn on a loopback port) over two in-memory sandbox
EHRs, so generated requests go through auth, validation, services and connectors.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.cache import MemoryCache
from gateway.settings import SourceConfig
from simulators.fhir_server import create_fhir_app
from tests.support.gateway_env import API_KEY, clinic, settings_for
from tests.support.sandbox_env import BASE_A, BASE_B


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    mp = pytest.MonkeyPatch()
    mp.setenv("FRONTDESK_HASH_KEY", "fuzz-secret")
    ehrs = {
        "ehr-a.sandbox": create_fhir_app(name="ehr-a"),
        "ehr-b.sandbox": create_fhir_app(name="ehr-b"),
    }

    def transport_factory(source: SourceConfig) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=ehrs[source.base_url.host or ""])

    async def prepare() -> None:
        await clinic(BASE_A, transport=httpx.ASGITransport(app=ehrs["ehr-a.sandbox"]), slots=2)
        await clinic(BASE_B, transport=httpx.ASGITransport(app=ehrs["ehr-b.sandbox"]), slots=2)

    app = create_app(
        settings_for(BASE_A, BASE_B, None),
        transport_factory=transport_factory,
        cache=MemoryCache(),
        audit=MemoryAuditSink(),
        prepare=prepare,
    )
    port = _port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        mp.undo()


def test_no_request_yields_a_server_error(gateway_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{gateway_url}/openapi.json")
    headers = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "fuzz"}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 8
    calls = 0
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            nonlocal calls
            calls += 1
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        check()
    assert calls >= 100
