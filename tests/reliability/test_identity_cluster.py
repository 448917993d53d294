"""The person index's Redis store on a three-master Redis Cluster (real redis-server
processes): the client comes from ``cache.redis_url`` in its ``redis+cluster://`` form,
every key of one thing shares a slot, and a build's switch of generation (one MULTI over
the tenant's control keys) works across the cluster's slots."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gateway.cache import CacheKeys, RedisCache
from gateway.identity.store import Entry, RedisIndexStore
from tests.servers import missing
from tests.support.redis_ha import RedisClusterSet, ha_binaries_missing

pytestmark = [pytest.mark.redis]


async def test_index_store_on_a_redis_cluster(tmp_path: Path) -> None:
    binary = ha_binaries_missing()
    if binary:
        missing(binary, "run `make redis` (it installs redis-server and redis-tools)")
    nodes = RedisClusterSet(tmp_path / "cluster").start()
    errors: list[str] = []
    cache = RedisCache.from_url(nodes.url)
    try:
        store = RedisIndexStore(cache.client, CacheKeys("cluster-key"), on_error=errors.append)
        tenant = f"t-{uuid.uuid4().hex[:6]}"
        keys = [f"key-{i}" for i in range(40)]
        entries = [
            Entry(f"rec-{i}", f"person-{i // 2}", (keys[i], keys[(i + 1) % 40]), 0.9)
            for i in range(40)
        ]
        await store.begin(tenant, "g1")
        assert await store.current(tenant) == ["g1"]
        await store.put(tenant, "g1", entries)
        assert await store.activate(tenant, "g1", {"watermarks": {"ehr-a": "x"}}) is None
        assert await store.current(tenant) == ["g1"]
        assert (await store.meta(tenant))["watermarks"] == {"ehr-a": "x"}

        assert await store.records_for(tenant, "g1", [keys[3]]) == [{"rec-2", "rec-3"}]
        assert await store.clusters_of(tenant, "g1", ["rec-6", "rec-7"]) == {
            "rec-6": "person-3",
            "rec-7": "person-3",
        }
        assert await store.members(tenant, "g1", ["person-3"]) == {
            "person-3": {"rec-6": 0.9, "rec-7": 0.9}
        }
        assert await store.keys_of(tenant, "g1", "rec-6") == [keys[6], keys[7]]
        await store.remove(tenant, "g1", "rec-7")
        assert await store.members(tenant, "g1", ["person-3"]) == {"person-3": {"rec-6": 0.9}}
        assert await store.records_for(tenant, "g1", [keys[7]]) == [{"rec-6"}]

        await store.decide(tenant, "rec-1", "rec-2", {"verdict": "different", "by": "desk"})
        assert await store.all_decisions(tenant, ["rec-2"]) == [("rec-2", "rec-1", "different")]

        # A rebuild writes a new generation, switches to it and drops the old one.
        await store.begin(tenant, "g2")
        assert await store.current(tenant) == ["g1", "g2"]
        await store.put(tenant, "g2", entries[:2])
        assert await store.activate(tenant, "g2", {}) == "g1"
        await store.drop(tenant, "g1")
        assert await store.current(tenant) == ["g2"]
        assert await store.clusters_of(tenant, "g1", ["rec-6"]) == {}
        assert await store.clusters_of(tenant, "g2", ["rec-0"]) == {"rec-0": "person-0"}
        assert errors == []
    finally:
        await cache.aclose()
        nodes.stop()
