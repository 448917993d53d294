"""The person index's build lease on a real Redis (and the in-memory store the sandbox
uses): one holder at a time, renewed by its holder only, lapsing when the holder dies."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from gateway.cache import CacheKeys
from gateway.identity.store import (
    Entry,
    IndexStore,
    LeaseLost,
    MemoryIndexStore,
    RedisIndexStore,
)


@pytest.fixture
def store(redis_or_memory: aioredis.Redis | None) -> IndexStore:
    if redis_or_memory is None:
        return MemoryIndexStore()
    return RedisIndexStore(redis_or_memory, CacheKeys("lease secret"))


@pytest.fixture
def tenant() -> str:
    return f"lease-{uuid.uuid4().hex[:8]}"


async def test_one_holder_at_a_time_and_only_it_renews_or_ends(
    store: IndexStore, tenant: str
) -> None:
    assert await store.claim_build(tenant, "by-hand", 30)
    assert not await store.claim_build(tenant, "cron", 30)
    assert await store.claim_build(tenant, "by-hand", 30)  # a renewal
    await store.end_build(tenant, "cron")
    assert not await store.claim_build(tenant, "cron", 30)
    await store.end_build(tenant, "by-hand")
    assert await store.claim_build(tenant, "cron", 30)
    await store.end_build(tenant, "cron")


async def test_a_lapsed_lease_is_not_renewed_and_fences_the_switch(
    store: IndexStore, tenant: str
) -> None:
    assert await store.claim_build(tenant, "stalled", 1.0)
    assert await store.renew_build(tenant, "stalled", 1.0)
    await store.begin(tenant, "g1")
    assert await store.activate(tenant, "g1", {"generation": "g1"}, holder="stalled") is None
    await asyncio.sleep(1.3)  # the stalled build's lease lapses; another build takes it
    assert await store.claim_build(tenant, "newer", 30)
    assert not await store.renew_build(tenant, "stalled", 30)
    await store.begin(tenant, "g-stale")
    with pytest.raises(LeaseLost):
        await store.activate(tenant, "g-stale", {"generation": "g-stale"}, holder="stalled")
    assert (await store.current(tenant))[0] == "g1"
    assert await store.activate(tenant, "g2", {"generation": "g2"}, holder="newer") == "g1"
    assert await store.meta(tenant) == {"generation": "g2"}
    await store.end_build(tenant, "newer")
    assert not await store.renew_build(tenant, "newer", 30)  # ended is ended


async def test_a_dead_holders_lease_lapses(store: IndexStore, tenant: str) -> None:
    assert await store.claim_build(tenant, "died", 1.0)
    assert not await store.claim_build(tenant, "next", 30)
    await asyncio.sleep(1.3)
    assert await store.claim_build(tenant, "next", 30)
    await store.end_build(tenant, "next")


async def test_dropping_an_abandoned_build_stops_updates_to_it(
    store: IndexStore, tenant: str
) -> None:
    await store.begin(tenant, "live")
    await store.activate(tenant, "live", {"generation": "live"})
    await store.begin(tenant, "abandoned")
    await store.put(tenant, "abandoned", [Entry("ehr-a/Patient/1", "c1", ("k1",), 1.0)])
    assert await store.current(tenant) == ["live", "abandoned"]
    await store.drop(tenant, "abandoned")
    assert await store.current(tenant) == ["live"]
    assert await store.records_for(tenant, "abandoned", ["k1"]) == [set()]
    # A build that began since is not stopped by the old one's drop.
    await store.begin(tenant, "newer")
    await store.drop(tenant, "abandoned")
    assert await store.current(tenant) == ["live", "newer"]
    await store.drop(tenant, "newer")
    await store.drop(tenant, "live")
