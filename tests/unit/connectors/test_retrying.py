"""Retry counts, backoff bounds, Retry-After and deadlines, on a fake clock (no real sleeps)."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from connectors import NotFound, Policy, Rejected, Unavailable, UpstreamTimeout
from tests.unit.connectors.fakes import FAST, FakeClock, Script, fhir, make_client, patient


async def test_get_retried_until_success(clock: FakeClock) -> None:
    script = Script(fhir(503), fhir(502), fhir(200, patient()))
    client = make_client(script, clock=clock)
    assert (await client.read("Patient", "p1"))["id"] == "p1"
    assert len(script.requests) == 3
    assert client.health().stats.retries == 2


async def test_attempts_are_capped(clock: FakeClock) -> None:
    script = Script(fhir(503))
    client = make_client(script, clock=clock)
    with pytest.raises(Unavailable):
        await client.read("Patient", "p1")
    assert len(script.requests) == FAST.max_attempts
    assert len(clock.sleeps) == FAST.max_attempts - 1


async def test_backoff_is_full_jitter_within_exponential_bounds(clock: FakeClock) -> None:
    policy = Policy(
        max_attempts=8,
        backoff_initial=0.5,
        backoff_max=4.0,
        deadline=1000.0,
        breaker_consecutive_failures=100,
    )
    samples: list[list[float]] = []
    for _ in range(30):
        clock.sleeps.clear()
        client = make_client(Script(httpx.ConnectError("refused")), clock=clock, policy=policy)
        with pytest.raises(Unavailable):
            await client.read("Patient", "p1")
        samples.append(list(clock.sleeps))
    for sleeps in samples:
        assert len(sleeps) == 7
        for n, slept in enumerate(sleeps, start=1):
            assert 0.0 <= slept <= min(4.0, 0.5 * 2 ** (n - 1))
    # Full jitter: the waits are spread, not a fixed ladder.
    assert len({round(s[3], 6) for s in samples}) > 1


async def test_retry_after_seconds_is_honoured(clock: FakeClock) -> None:
    script = Script(fhir(429, headers={"Retry-After": "3"}), fhir(200, patient()))
    client = make_client(script, clock=clock)
    await client.read("Patient", "p1")
    assert clock.sleeps == [3.0]


async def test_retry_after_http_date_is_honoured(clock: FakeClock) -> None:
    when = email.utils.formatdate(clock.wall() + 5, usegmt=True)
    script = Script(fhir(503, headers={"Retry-After": when}), fhir(200, patient()))
    client = make_client(script, clock=clock)
    await client.read("Patient", "p1")
    assert clock.sleeps == [pytest.approx(5.0, abs=1.0)]


async def test_retry_after_beyond_the_deadline_fails_now(clock: FakeClock) -> None:
    script = Script(fhir(503, headers={"Retry-After": "120"}), fhir(200, patient()))
    client = make_client(script, clock=clock, policy=FAST.with_(deadline=10.0))
    with pytest.raises(Unavailable) as caught:
        await client.read("Patient", "p1")
    assert caught.value.retry_after == 120.0
    assert clock.sleeps == []
    assert len(script.requests) == 1


async def test_no_sleep_crosses_the_deadline(clock: FakeClock) -> None:
    policy = Policy(max_attempts=50, backoff_initial=1.0, backoff_max=8.0, deadline=10.0)
    client = make_client(Script(fhir(503)), clock=clock, policy=policy)
    start = clock.now
    with pytest.raises(Unavailable):
        await client.read("Patient", "p1")
    assert clock.now - start < 10.0


@pytest.mark.parametrize(
    "failure", [fhir(503), httpx.ReadTimeout("slow"), httpx.ReadError("reset")]
)
async def test_unconditional_post_is_not_retried_once_sent(
    clock: FakeClock, failure: object
) -> None:
    script = Script(failure, fhir(201, patient()))  # type: ignore[arg-type]
    client = make_client(script, clock=clock)
    with pytest.raises((Unavailable, UpstreamTimeout)):
        await client.create(patient())
    assert len(script.requests) == 1


async def test_unconditional_post_is_retried_after_connect_error(clock: FakeClock) -> None:
    script = Script(httpx.ConnectError("refused"), fhir(201, patient()))
    client = make_client(script, clock=clock)
    await client.create(patient())
    assert len(script.requests) == 2


async def test_conditional_create_is_retried_after_reset(clock: FakeClock) -> None:
    script = Script(httpx.ReadError("reset"), fhir(200, patient()))
    client = make_client(script, clock=clock)
    await client.create(patient(), if_none_exist={"identifier": "urn:x|1"})
    assert len(script.requests) == 2
    assert all(r.headers["If-None-Exist"] == "identifier=urn%3Ax%7C1" for r in script.requests)


async def test_put_with_if_match_is_retried_but_plain_put_is_not(clock: FakeClock) -> None:
    guarded = Script(fhir(503), fhir(200, patient()))
    await make_client(guarded, clock=clock).update(patient(), if_match="3")
    assert len(guarded.requests) == 2
    assert guarded.requests[0].headers["If-Match"] == 'W/"3"'

    plain = Script(fhir(503), fhir(200, patient()))
    with pytest.raises(Unavailable):
        await make_client(plain, clock=clock).update(patient())
    assert len(plain.requests) == 1


async def test_delete_is_retried(clock: FakeClock) -> None:
    script = Script(httpx.ReadTimeout("slow"), httpx.Response(204))
    await make_client(script, clock=clock).delete("Patient", "p1")
    assert len(script.requests) == 2


@pytest.mark.parametrize(("status", "cls"), [(400, Rejected), (404, NotFound)])
async def test_client_errors_are_never_retried(clock: FakeClock, status: int, cls: type) -> None:
    script = Script(fhir(status), fhir(200, patient()))
    with pytest.raises(cls):
        await make_client(script, clock=clock).read("Patient", "p1")
    assert len(script.requests) == 1


async def test_idempotent_operation_is_retried(clock: FakeClock) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset"}
    script = Script(fhir(503), fhir(200, bundle))
    client = make_client(script, clock=clock)
    await client.operation(
        "$find",
        resource_type="Appointment",
        parameters={"resourceType": "Parameters"},
        idempotent=True,
    )
    assert len(script.requests) == 2
    booking = Script(fhir(503), fhir(200, bundle))
    with pytest.raises(Unavailable):
        await make_client(booking, clock=clock).operation("$book", resource_type="Appointment")
    assert len(booking.requests) == 1
