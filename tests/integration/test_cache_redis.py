"""The cache port against a real Redis, including Redis going away and coming back."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway.cache import CacheKeys, MemoryCache, RedisCache
from tests.support.redis_proc import PrivateRedis, until

pytestmark = pytest.mark.redis


async def test_redis_cache_get_set_add_incr(redis_url: str):
    cache = RedisCache.from_url(redis_url)
    key = f"test:{uuid.uuid4().hex}"
    try:
        assert await cache.get(key) is None
        await cache.set(key, b"v", 5)
        assert await cache.get(key) == b"v"
        assert await cache.add(key + ":lock", b"1", 5) is True
        assert await cache.add(key + ":lock", b"1", 5) is False
        assert await cache.incr(key + ":n") == 1
        assert await cache.incr(key + ":n") == 2
        assert await cache.ping() is True
        # Many at once, in order, a miss as None (MemoryCache answers the same).
        await cache.set(key + ":b", b"w", 5)
        wanted = [key, key + ":none", key + ":b"]
        assert await cache.get_many(wanted) == [b"v", None, b"w"]
        memory = MemoryCache()
        await memory.set(key, b"v", 5)
        await memory.set(key + ":b", b"w", 5)
        assert await memory.get_many(wanted) == [b"v", None, b"w"]
        assert await cache.get_many([]) == []
    finally:
        await cache.aclose()


async def test_unreachable_redis_degrades_to_misses_and_counts_errors():
    errors: list[str] = []
    # A port nothing listens on: every operation fails fast and is reported.
    cache = RedisCache.from_url("redis://127.0.0.1:1/0", on_error=errors.append)
    try:
        assert await cache.get("k") is None
        await cache.set("k", b"v", 5)
        assert await cache.ping() is False
        assert await cache.get_many(["k", "l"]) == [None, None]
        assert cache.healthy is False
        assert errors[:4] == ["get", "set", "ping", "get"]
    finally:
        await cache.aclose()


async def test_redis_comes_back_after_a_restart(redis_url: str, tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    cache = RedisCache.from_url(server.url)
    try:
        await until(cache.ping)
        await cache.set("k", b"1", 5)
        server.stop()
        assert await cache.get("k") is None
        assert cache.healthy is False
        server.start()
        await until(cache.ping)
        await cache.set("k", b"2", 5)
        assert await cache.get("k") == b"2"
        assert cache.healthy is True
    finally:
        server.stop()
        await cache.aclose()


def test_cache_keys_hash_identifiers_with_a_secret():
    keys = CacheKeys("secret-1")
    key = keys.key("elig", "general", "ACME", "MEMBER123", "30")
    assert "MEMBER123" not in key and key.startswith("fd:elig:general:")
    assert key == CacheKeys("secret-1").key("elig", "general", "ACME", "MEMBER123", "30")
    assert key != CacheKeys("secret-2").key("elig", "general", "ACME", "MEMBER123", "30")


async def test_memory_cache_expires_with_injected_clock():
    now = [100.0]
    cache = MemoryCache(clock=lambda: now[0])
    await cache.set("k", b"v", 10)
    assert await cache.get("k") == b"v"
    now[0] = 111.0
    assert await cache.get("k") is None
    assert await cache.add("k", b"w", 10) is True
    assert await cache.add("k", b"x", 10) is False


async def test_write_applies_sets_then_releases_in_one_round_trip(redis_url: str):
    cache = RedisCache.from_url(redis_url)
    key = f"test:{uuid.uuid4().hex}"
    try:
        await cache.set(key + ":lock", b"me", 5)
        await cache.set(key + ":theirs", b"them", 5)
        applied = await cache.write(
            [(key + ":a", b"1", 5), (key + ":b", b"2", 0)],
            releases=[(key + ":lock", b"me"), (key + ":theirs", b"me")],
        )
        assert applied is True
        assert await cache.get(key + ":a") == b"1"
        assert await cache.get(key + ":b") == b"2"
        assert await cache.get(key + ":lock") is None
        assert await cache.get(key + ":theirs") == b"them"  # someone else's lock stays
        raw = cache._redis  # the TTLs as Redis holds them
        assert 0 < await raw.pttl(key + ":a") <= 5000
        assert await raw.pttl(key + ":b") == -1
        await raw.delete(key + ":b")
    finally:
        await cache.aclose()


async def test_write_reports_false_when_redis_is_away():
    errors: list[str] = []
    cache = RedisCache.from_url("redis://127.0.0.1:1/0", on_error=errors.append)
    try:
        assert await cache.write([("k", b"v", 5)], releases=[("lock", b"me")]) is False
        assert errors == ["write"]
    finally:
        await cache.aclose()


async def test_release_deletes_only_the_owners_lock(redis_url: str):
    for cache in (RedisCache.from_url(redis_url), MemoryCache()):
        key = f"test:{uuid.uuid4().hex}"
        await cache.set(key, b"owner-2", 5)
        await cache.release(key, b"owner-1")  # an expired holder must not free it
        assert await cache.get(key) == b"owner-2"
        await cache.release(key, b"owner-2")
        assert await cache.get(key) is None
        if isinstance(cache, RedisCache):
            await cache.aclose()


async def test_memory_cache_write_matches():
    cache = MemoryCache()
    await cache.set("lock", b"me", 5)
    await cache.set("other", b"them", 5)
    assert await cache.write([("a", b"1", 5)], releases=[("lock", b"me"), ("other", b"me")])
    assert await cache.get("a") == b"1"
    assert await cache.get("lock") is None
    assert await cache.get("other") == b"them"


async def test_every_pooled_connection_survives_a_redis_restart(tmp_path):
    # Each pooled connection is dead after a restart; the first command on each of them
    # must reconnect and succeed, not count as a cache failure.
    server = PrivateRedis(tmp_path)
    server.start()
    errors: list[str] = []
    cache = RedisCache.from_url(server.url, on_error=errors.append)
    try:
        await until(cache.ping)
        errors.clear()
        await asyncio.gather(*(cache.get(f"k{n}") for n in range(8)))  # eight connections
        server.stop()
        server.start()
        await until(cache.ping)
        errors.clear()
        await asyncio.gather(*(cache.set(f"k{n}", b"v", 5) for n in range(8)))
        assert errors == []
        assert await cache.get("k7") == b"v"
    finally:
        await cache.aclose()
        server.stop()
