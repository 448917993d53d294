"""200 conditional creates through injected faults into the real HAPI: none lost, none
doubled, every call within its deadline."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from connectors import HAPI, FhirClient, Policy
from tests.reliability.fault_transport import FaultPlan, FaultTransport

pytestmark = pytest.mark.hapi

CREATES = 200
WORKERS = 10
POLICY = Policy(
    connect_timeout=2.0,
    read_timeout=5.0,
    deadline=12.0,
    max_attempts=10,
    backoff_initial=0.05,
    backoff_max=1.0,
    # The fault plan fails ~30% of attempts on purpose; a breaker tuned for production
    # would (rightly) open and turn this into a test of fail-fast instead.
    breaker_consecutive_failures=1000,
    breaker_min_calls=1000,
    breaker_window=1000,
    max_concurrency=WORKERS,
)


async def test_conditional_creates_survive_faults(hapi_base_urls: tuple[str, str]) -> None:
    system = f"urn:uuid:{uuid.uuid4()}"
    faults = FaultTransport(httpx.AsyncHTTPTransport(), FaultPlan(), seed=20251126)
    durations: list[float] = []
    errors: list[BaseException] = []

    async with httpx.AsyncClient(transport=faults) as http:
        client = FhirClient(
            hapi_base_urls[0], http=http, source="ehr-a", profile=HAPI, policy=POLICY
        )
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(CREATES):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                resource = {
                    "resourceType": "Patient",
                    "identifier": [{"system": system, "value": str(i)}],
                }
                started = time.monotonic()
                try:
                    await client.create(resource, if_none_exist={"identifier": f"{system}|{i}"})
                except Exception as exc:  # noqa: BLE001 - collected and asserted below
                    errors.append(exc)
                finally:
                    durations.append(time.monotonic() - started)

        await asyncio.gather(*(worker() for _ in range(WORKERS)))
        stats = client.health().stats

    # Count what HAPI holds, on a clean (fault-free) client.
    async with httpx.AsyncClient(timeout=30) as http:
        clean = FhirClient(hapi_base_urls[0], http=http, profile=HAPI)
        found = [
            r async for r in clean.search("Patient", {"identifier": f"{system}|", "_count": 200})
        ]
    values = [r["identifier"][0]["value"] for r in found]

    figures = {
        "calls": stats.calls,
        "attempts": stats.attempts,
        "retries": stats.retries,
        "failed_calls": len(errors),
        "faults_injected": dict(faults.injected),
        "resources_in_hapi": len(found),
        "duplicates": len(values) - len(set(values)),
        "lost": CREATES - len(set(values)),
        "max_call_seconds": round(max(durations), 3),
        "deadline_seconds": POLICY.deadline,
    }
    print("\nconnector fault figures:", json.dumps(figures))
    _write_report(figures)

    assert errors == []
    assert stats.calls == CREATES
    assert stats.retries > 0
    assert sum(faults.injected.values()) > 0
    assert sorted(values, key=int) == [str(i) for i in range(CREATES)]  # none lost, none doubled
    assert max(durations) <= POLICY.deadline + 0.5


def _write_report(figures: dict[str, object]) -> None:
    reports = Path("reports")
    reports.mkdir(exist_ok=True)
    (reports / "connectors-faults.json").write_text(json.dumps(figures, indent=2))


async def test_slow_upstream_is_cut_at_the_deadline(hapi_base_urls: tuple[str, str]) -> None:
    """Latency longer than the deadline: each read ends on time, as a timeout, never late."""
    plan = FaultPlan(
        latency=1.0,
        max_latency=3.0,
        reset_before_send=0,
        reset_after_send=0,
        burst_503=0,
        truncated_body=0,
    )
    faults = FaultTransport(httpx.AsyncHTTPTransport(), plan, seed=3)
    deadline = 0.5
    outcomes: list[tuple[str, float]] = []
    async with httpx.AsyncClient(transport=faults) as http:
        client = FhirClient(hapi_base_urls[0], http=http, policy=POLICY.with_(deadline=deadline))

        async def one() -> None:
            started = time.monotonic()
            try:
                await client.search_page("Patient", {"_count": 1})
                outcome = "ok"
            except Exception as exc:  # noqa: BLE001 - the kind is asserted below
                outcome = type(exc).__name__
            outcomes.append((outcome, time.monotonic() - started))

        await asyncio.gather(*(one() for _ in range(10)))
    assert {kind for kind, _ in outcomes} <= {"ok", "UpstreamTimeout"}
    assert any(kind == "UpstreamTimeout" for kind, _ in outcomes)
    # On time, give or take a busy event loop; well short of the injected delays.
    assert max(took for _, took in outcomes) <= deadline + 0.5
