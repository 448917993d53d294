"""Coverage checks over a real Redis: two gateway processes, one payer call; stale answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.cache import RedisCache
from gateway.security import hash_api_key
from gateway.settings import ApiClientConfig, PayerConfig, Settings
from tests.unit.gateway.coverage_fakes import tenant, x12_271

pytestmark = pytest.mark.redis

KEY = "coverage-redis-key"
BODY = {
    "member_id": "R-100",
    "payer_id": "ACME01",
    "first_name": "Ana",
    "last_name": "Rivera",
    "birth_date": "1980-04-02",
    "service_types": ["98"],
    "date_of_service": "2025-03-11",
}


class SlowClearinghouse:
    def __init__(self, delay: float = 0.3) -> None:
        self.calls = 0
        self.delay = delay
        self.down = False
        self.aaa: str | None = None

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.down:
            return httpx.Response(503, text="down")
        member = request.content.decode().split("*MI*", 1)[1].split("~", 1)[0]
        return httpx.Response(200, text=x12_271(member, copay="40", aaa=self.aaa))


@asynccontextmanager
async def gateway(
    redis_url: str, house: SlowClearinghouse, budget: float = 20.0
) -> AsyncIterator[httpx.AsyncClient]:
    """One gateway 'process': its own app, Redis connection and flight table."""
    settings = Settings(
        tenants=[tenant()],
        api_clients=[
            ApiClientConfig(
                id="desk", tenant="t1", scopes=["coverage:check"], key_sha256=hash_api_key(KEY)
            )
        ],
        coverage_budget_seconds=budget,
    )

    def payer_transport(payer: PayerConfig) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(house.handler)

    cache = RedisCache.from_url(redis_url)
    app = create_app(
        settings,
        cache=cache,
        audit=MemoryAuditSink(),
        eligibility_transport_factory=payer_transport,
    )
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://gw",
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=60,
            ) as client,
        ):
            yield client
    finally:
        await cache.aclose()


@pytest.fixture(autouse=True)
def fresh_keyspace(monkeypatch: pytest.MonkeyPatch) -> None:
    # A new hash key per test: the same member hashes to new keys, so tests don't share.
    monkeypatch.setenv("FRONTDESK_HASH_KEY", uuid.uuid4().hex)


async def test_100_concurrent_checks_across_two_processes_make_one_payer_call(
    redis_url: str,
) -> None:
    house = SlowClearinghouse(delay=0.5)
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(gateway(redis_url, house))
        two = await stack.enter_async_context(gateway(redis_url, house))
        responses = await asyncio.gather(
            *(c.post("/v1/coverage-checks", json=BODY) for c in (one, two) for _ in range(50))
        )
    assert house.calls == 1
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["status"] for r in responses} == {"active"}


async def test_uncacheable_42_is_still_shared_across_processes(redis_url: str) -> None:
    house = SlowClearinghouse(delay=0.5)
    house.aaa = "42"
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(gateway(redis_url, house))
        two = await stack.enter_async_context(gateway(redis_url, house))
        responses = await asyncio.gather(
            *(c.post("/v1/coverage-checks", json=BODY) for c in (one, two) for _ in range(10))
        )
        assert house.calls == 1
        assert {r.json()["errors"][0]["code"] for r in responses} == {"42"}
        # ... and never cached: the next check asks again.
        await one.post("/v1/coverage-checks", json=BODY)
    assert house.calls == 2


async def test_payer_down_answers_the_last_good_result_as_stale(redis_url: str) -> None:
    house = SlowClearinghouse(delay=0)
    async with gateway(redis_url, house) as client:
        good = (await client.post("/v1/coverage-checks", json=BODY)).json()
        house.down = True
        stale = (
            await client.post(
                "/v1/coverage-checks", json=BODY, headers={"Cache-Control": "no-cache"}
            )
        ).json()
    assert stale["stale"] is True
    assert stale["status"] == "active"
    assert stale["checked_at"] == good["checked_at"]


async def test_budget_exceeded_answers_stale_from_another_process(redis_url: str) -> None:
    house = SlowClearinghouse(delay=0)
    async with gateway(redis_url, house) as first:
        await first.post("/v1/coverage-checks", json=BODY)
    house.delay = 30
    async with gateway(redis_url, house, budget=1.0) as second:
        answer = (
            await second.post(
                "/v1/coverage-checks", json=BODY, headers={"Cache-Control": "no-cache"}
            )
        ).json()
    assert answer["stale"] is True
    assert [b["amount"] for b in answer["benefits"] if b["kind"] == "copay"] == ["40"]


async def test_budget_exceeded_without_history_is_a_clear_error(redis_url: str) -> None:
    house = SlowClearinghouse(delay=30)
    async with gateway(redis_url, house, budget=1.0) as client:
        answer = (await client.post("/v1/coverage-checks", json=BODY)).json()
    assert answer["status"] == "error"
    assert answer["errors"][0]["code"] == "payer_timeout"
    assert "try again" in answer["errors"][0]["description"]
