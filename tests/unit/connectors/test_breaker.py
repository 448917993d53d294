"""Circuit breaker transitions (fake clock) and the per-source concurrency cap."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connectors import BreakerState, CircuitBreaker, CircuitOpen, ConcurrencyLimit, Policy, Rejected
from tests.unit.connectors.fakes import FakeClock, Script, fhir, make_client, patient

POLICY = Policy(
    breaker_consecutive_failures=3,
    breaker_failure_ratio=0.5,
    breaker_window=10,
    breaker_min_calls=6,
    breaker_open_seconds=30.0,
)


def test_opens_after_consecutive_failures(clock: FakeClock) -> None:
    breaker = CircuitBreaker(POLICY, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.snapshot().state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.snapshot().state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.snapshot().rejected == 1


def test_opens_on_failure_ratio_over_the_window(clock: FakeClock) -> None:
    breaker = CircuitBreaker(POLICY, clock=clock)
    # Alternating outcomes never reach 3 in a row, but half of the window fails.
    for _ in range(2):
        breaker.record_failure()
        breaker.record_success()
    assert breaker.snapshot().state is BreakerState.CLOSED  # 4 calls < min_calls
    breaker.record_failure()
    breaker.record_success()
    assert (
        breaker.snapshot().state is BreakerState.CLOSED
    )  # the ratio is judged when a failure lands
    breaker.record_failure()
    assert breaker.snapshot().state is BreakerState.OPEN
    assert breaker.snapshot().times_opened == 1


def test_half_open_admits_one_probe_and_closes_on_success(clock: FakeClock) -> None:
    breaker = CircuitBreaker(POLICY, clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(29.9)
    assert not breaker.allow()
    clock.advance(0.2)
    assert breaker.snapshot().state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else waits for the probe
    breaker.record_success()
    assert breaker.snapshot().state is BreakerState.CLOSED
    assert breaker.allow()
    assert breaker.snapshot().consecutive_failures == 0


def test_failed_probe_reopens(clock: FakeClock) -> None:
    breaker = CircuitBreaker(POLICY, clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.snapshot().state is BreakerState.OPEN
    clock.advance(10)
    assert not breaker.allow()
    assert breaker.snapshot().times_opened == 2


async def test_client_fails_fast_while_open_then_probes(clock: FakeClock) -> None:
    script = Script(fhir(503), fhir(503), fhir(503), fhir(200, patient()))
    client = make_client(script, clock=clock, policy=POLICY.with_(max_attempts=1))
    for _ in range(3):
        with pytest.raises(Exception, match="service unavailable"):
            await client.read("Patient", "p1")
    with pytest.raises(CircuitOpen) as caught:
        await client.read("Patient", "p1")
    assert caught.value.request_sent is False
    assert len(script.requests) == 3  # nothing sent while open
    assert client.health().breaker.state is BreakerState.OPEN
    clock.advance(30)
    assert (await client.read("Patient", "p1"))["id"] == "p1"
    assert client.health().breaker.state is BreakerState.CLOSED


async def test_client_errors_do_not_trip_the_breaker(clock: FakeClock) -> None:
    client = make_client(Script(fhir(400)), clock=clock, policy=POLICY)
    for _ in range(5):
        with pytest.raises(Rejected):
            await client.read("Patient", "p1")
    assert client.health().breaker.state is BreakerState.CLOSED


async def test_concurrency_is_capped_per_source() -> None:
    in_flight = 0
    peak = 0
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return fhir(200, patient())

    client = make_client(handler, policy=Policy(max_concurrency=3))
    tasks = [asyncio.create_task(client.read("Patient", str(i))) for i in range(12)]
    for _ in range(20):
        await asyncio.sleep(0)
    health = client.health()
    assert health.concurrency.in_flight == 3
    assert health.concurrency.waiting == 9
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 3
    assert client.health().concurrency.in_flight == 0


async def test_limit_gives_up_when_no_place_frees_in_time() -> None:
    limit = ConcurrencyLimit(1)
    assert await limit.acquire(1.0)
    assert not await limit.acquire(0.01)
    limit.release()
    assert await limit.acquire(0.01)


def test_cancelled_probe_frees_the_half_open_slot(clock: FakeClock) -> None:
    breaker = CircuitBreaker(POLICY, clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30)
    assert breaker.allow()
    breaker.record_abandoned()
    assert breaker.allow()  # a new probe may go


async def test_cancelled_request_does_not_wedge_the_breaker(clock: FakeClock) -> None:
    started = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    breaker = CircuitBreaker(POLICY, clock=clock)  # shared, as the gateway would share it
    client = make_client(hang, clock=clock, policy=POLICY.with_(max_attempts=1), breaker=breaker)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30)
    task = asyncio.create_task(client.read("Patient", "p1"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.allow()
