"""The good-faith estimate store's contract, in memory and on a real Redis: one estimate
per appointment, the due list soonest first and following each estimate's state, a
patient's estimates, and ids that no longer open forgotten."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from gateway.cache import CacheKeys
from gateway.money_schemas import GfeOut
from gateway.sealing import Sealer, derive_key
from gateway.services.gfe_store import GfeStore, MemoryGfeStore, RedisGfeStore, new_gfe_id

NOW = datetime(2026, 12, 7, 15, tzinfo=UTC)


def record(patient: str, due_in_hours: int | None, appointment: str | None = None) -> GfeOut:
    return GfeOut(
        id=new_gfe_id(),
        status="open" if due_in_hours is not None else "not_required",
        reason="uninsured",
        patient_id=patient,
        appointment_id=appointment,
        service_date=date(2026, 12, 28),
        opened_at=NOW,
        due_at=NOW + timedelta(hours=due_in_hours) if due_in_hours is not None else None,
        due_rule="test",
    )


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[GfeStore]:
    if request.param == "memory":
        yield MemoryGfeStore()
        return
    url = request.getfixturevalue("redis_url")
    client = aioredis.Redis.from_url(url)
    keys = CacheKeys(f"store-{uuid.uuid4().hex}")
    sealer = Sealer([("k1", derive_key("store-test", purpose="cache"))])
    try:
        yield RedisGfeStore(client, keys, sealer)
    finally:
        await client.aclose()


async def test_one_estimate_per_appointment(store: GfeStore) -> None:
    first = await store.open("t1", record("p1", 24, "a1"))
    second = await store.open("t1", record("p1", 48, "a1"))
    assert second.id == first.id and second.due_at == first.due_at
    assert await store.of_appointment("t1", "a1") == first
    assert await store.of_appointment("t2", "a1") is None  # another tenant's is another


async def test_the_due_list_follows_state_soonest_first(store: GfeStore) -> None:
    later = await store.open("t1", record("p1", 72))
    sooner = await store.open("t1", record("p2", 24, "a2"))
    await store.open("t1", record("p3", None))  # not required: never due
    due = await store.due("t1", NOW + timedelta(days=5), 10)
    assert [r.id for r in due] == [sooner.id, later.id]
    assert [r.id for r in await store.due("t1", NOW + timedelta(hours=30), 10)] == [sooner.id]
    assert [r.id for r in await store.due("t1", NOW + timedelta(days=5), 1)] == [sooner.id]
    await store.save("t1", sooner.model_copy(update={"status": "issued"}))
    assert [r.id for r in await store.due("t1", NOW + timedelta(days=5), 10)] == [later.id]
    got = await store.get("t1", sooner.id)
    assert got is not None and got.status == "issued"
    assert await store.due("t2", NOW + timedelta(days=5), 10) == []


async def test_a_patients_estimates(store: GfeStore) -> None:
    one = await store.open("t1", record("p9", 24))
    two = await store.open("t1", record("p9", None, "a9"))
    await store.open("t1", record("p8", 24))
    assert {r.id for r in await store.of_patient("t1", "p9")} == {one.id, two.id}
    assert await store.of_patient("t1", "nobody") == []


@pytest.mark.redis
async def test_ids_sealed_under_another_key_are_forgotten(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    keys = CacheKeys(f"rotate-{uuid.uuid4().hex}")
    old = RedisGfeStore(client, keys, Sealer([("old", derive_key("old", purpose="cache"))]))
    new = RedisGfeStore(client, keys, Sealer([("new", derive_key("new", purpose="cache"))]))
    try:
        lost = await old.open("t1", record("p1", 24))
        assert await new.get("t1", lost.id) is None
        assert await new.due("t1", NOW + timedelta(days=2), 10) == []
        # Forgotten: even the old key no longer finds it listed.
        assert await old.due("t1", NOW + timedelta(days=2), 10) == []
    finally:
        await client.aclose()
