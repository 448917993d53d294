from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def redis_or_memory(request: pytest.FixtureRequest) -> AsyncIterator[aioredis.Redis | None]:
    """Runs a test twice: on a real Redis (a client), and on the in-memory store the
    sandbox uses (None), so both keep one contract."""
    if request.param == "memory":
        yield None
        return
    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield client
    finally:
        await client.aclose()
