"""The cache port against a real Redis, including Redis going away and coming back."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from gateway.cache import CacheKeys, MemoryCache, RedisCache

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
        assert cache.healthy is False
        assert errors[:3] == ["get", "set", "ping"]
    finally:
        await cache.aclose()


async def test_redis_comes_back_after_a_restart(redis_url: str, tmp_path):
    # A private redis-server so stopping it does not disturb other tests.
    port = 6399
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    cache = RedisCache.from_url(url)
    try:
        for _ in range(50):
            if await cache.ping():
                break
            await _sleep()
        await cache.set("k", b"1", 5)
        proc.terminate()
        proc.wait(5)
        assert await cache.get("k") is None
        assert cache.healthy is False
        proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(50):
            if await cache.ping():
                break
            await _sleep()
        await cache.set("k", b"2", 5)
        assert await cache.get("k") == b"2"
        assert cache.healthy is True
    finally:
        proc.terminate()
        proc.wait(5)
        await cache.aclose()


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)


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
