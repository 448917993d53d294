from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette

from mappers.x12 import build_270, parse_271
from simulators.payer import create_payer_app, simulator_control

from .conftest import NOW, FakeSleep, inquiry, scenario_table

X12 = {"Content-Type": "application/edi-x12"}


async def post_270(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/x12/270", content=build_270(inquiry()), headers=X12)


async def test_latency_uses_the_injected_sleep(
    app: Starlette, client: httpx.AsyncClient, fake_sleep: FakeSleep
) -> None:
    simulator_control(app).latency = 2.5

    response = await post_270(client)

    assert response.status_code == 200
    assert fake_sleep.calls == [2.5]


async def test_down_mode_answers_503_with_retry_after(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    control = simulator_control(app)
    control.down = True
    control.retry_after = 7

    response = await post_270(client)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    control.down = False
    assert (await post_270(client)).status_code == 200


async def test_throttled_mode_answers_429_at_once(
    app: Starlette, client: httpx.AsyncClient, fake_sleep: FakeSleep
) -> None:
    control = simulator_control(app)
    control.throttled = True
    control.latency = 5.0

    response = await client.post("/fhir/CoverageEligibilityRequest/$submit", json={})

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["issue"][0]["code"] == "throttled"
    assert fake_sleep.calls == []  # refused before any payer latency


async def test_rate_limit_every_nth_request(fake_sleep: FakeSleep) -> None:
    app = create_payer_app(scenario_table(), rate_limit_every=3, sleep=fake_sleep)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://payer.test"
    ) as client:
        statuses = [(await post_270(client)).status_code for _ in range(6)]

    assert statuses == [200, 200, 429, 200, 200, 429]


async def test_drop_mode_breaks_the_connection(app: Starlette, client: httpx.AsyncClient) -> None:
    simulator_control(app).drop = True

    with pytest.raises(httpx.RemoteProtocolError):
        await post_270(client)


async def test_aaa42_mode_answers_a_271_with_payer_unable_to_respond(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    simulator_control(app).aaa42 = True

    response = await post_270(client)

    assert response.status_code == 200
    assert "AAA*Y**42*R~" in response.text
    result = parse_271(response.text)[0]
    assert [(e.code, e.loop) for e in result.errors] == [("42", "payer")]


async def test_failure_rate_is_reproducible_with_a_seed() -> None:
    async def statuses(seed: int) -> list[int]:
        app = create_payer_app(scenario_table(), failure_rate=0.5, seed=seed)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://payer.test"
        ) as client:
            return [(await post_270(client)).status_code for _ in range(20)]

    first, again = await statuses(3), await statuses(3)

    assert first == again
    assert {200, 503} == set(first)


async def test_counter_sees_every_concurrent_request(app: Starlette) -> None:
    control = simulator_control(app)
    control.latency = 0.01
    control.sleep = asyncio.sleep
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://payer.test"
    ) as client:
        await asyncio.gather(*(post_270(client) for _ in range(10)))
        stats = (await client.get("/_sim/stats")).json()

    assert control.requests == 10
    assert stats["requests"] == 10
    assert stats["by_route"] == {"x12": 10}


async def test_health_and_stats_are_not_counted(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    assert (await client.get("/_sim/stats")).json()["requests"] == 0


async def test_control_endpoint_flips_knobs_and_resets(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    changed = await client.post("/_sim/control", json={"down": True, "retry_after": 3})
    assert changed.status_code == 200
    assert (await post_270(client)).status_code == 503

    bad = await client.post("/_sim/control", json={"down": "yes"})
    assert bad.status_code == 400
    assert (await client.post("/_sim/control", json={"nope": 1})).status_code == 400

    reset = await client.post("/_sim/reset")
    assert reset.json()["requests"] == 0
    assert simulator_control(app).down is False
    assert (await post_270(client)).status_code == 200


async def test_clock_stamps_the_271(client: httpx.AsyncClient) -> None:
    response = await post_270(client)

    assert parse_271(response.text)[0].checked_at == NOW
