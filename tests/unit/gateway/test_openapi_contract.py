"""Schemathesis against the gateway's own OpenAPI, with every check: the document tells
the truth. No 5xx; every status, content type, header and body the API answers is the one
documented; what the schema allows is accepted and what it forbids refused.

The gateway runs for real (uvicorn on a loopback port) over two in-memory sandbox EHRs
and the payer simulator, so generated requests go through auth, validation, services and
connectors. Rules the schema can't state are taught to the generators in
``tests/support/schemathesis_hooks.py``.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.cache import MemoryCache
from gateway.settings import SourceConfig
from simulators.fhir_server import create_fhir_app
from tests.support.gateway_env import API_KEY, clinic, settings_for
from tests.support.sandbox_env import BASE_A, BASE_B

ROOT = Path(__file__).resolve().parents[3]


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
    # Generous: startup builds two clinics, and a loaded host is slow.
    deadline = time.monotonic() + 60
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the gateway under test never started"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        mp.undo()


def test_schemathesis_with_all_checks_finds_nothing(gateway_url: str, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{gateway_url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {API_KEY}",
        "--max-examples",
        "15",
        "--seed",
        "7",
        "--workers",
        "1",
        "--generation-database",
        "none",
        # An event stream never ends: its contract is tested on its own (test_events).
        "--exclude-operation-id",
        "streamEvents",
        "--report-dir",
        str(tmp_path),
        # Batch verification needs Redis (its queue lives there), which this gateway has
        # not: tests/integration/test_coverage_batch.py checks its answers against the
        # schema on a real Redis.
        "--exclude-path-regex",
        "^/v1/coverage-checks/batch",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.support.schemathesis_hooks"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    tested = re.search(r"Tested: (\d+)", done.stdout)
    assert tested is not None and int(tested.group(1)) >= 19, done.stdout[-3_000:]


def test_every_v1_operation_shows_an_example(gateway_url: str) -> None:
    spec = httpx.get(f"{gateway_url}/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def has_example(operation: dict[str, Any]) -> bool:
        if not operation.get("parameters") and "requestBody" not in operation:
            return True  # nothing to send, nothing to show (GET /v1/waitlist/offers)
        if any("example" in p for p in operation.get("parameters", [])):
            return True
        for content in operation.get("requestBody", {}).get("content", {}).values():
            schema = content.get("schema", {})
            ref = schema.get("$ref", "").rsplit("/", 1)[-1]
            if "example" in content or "examples" in {**schema, **schemas.get(ref, {})}:
                return True
        return False

    missing = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        if path.startswith("/v1/")
        for method, operation in operations.items()
        if not has_example(operation)
    ]
    assert missing == []
