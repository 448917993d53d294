"""Shared state that must not be lost: the waitlist, its offers and the event stream.

Unlike the cache (``cache``), which degrades to a miss, this port raises
``StateUnavailable`` when Redis is away: a waitlist entry silently dropped or an offer
made twice is worse than a clear ``503``. Redis in production, memory in the sandbox.
Hashes hold records by id; a stream holds events in order with ids that only grow.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .redis_conn import parse_redis_url, redis_client

__all__ = ["MemoryState", "RedisState", "SharedState", "StateUnavailable", "StreamEntry"]

# The longest a stream read may block, in seconds.
_BLOCK_LIMIT = 30.0
# (stream id, fields)
StreamEntry = tuple[str, dict[str, bytes]]


class StateUnavailable(Exception):
    """The shared state could not be read or written (Redis is away)."""


class SharedState(Protocol):
    async def hset(self, key: str, field: str, value: bytes) -> None: ...
    async def hsetnx(self, key: str, field: str, value: bytes) -> bool:
        """Set only if the field is absent; True when this call set it (a claim)."""
        ...

    async def hget(self, key: str, field: str) -> bytes | None: ...
    async def hdel(self, key: str, field: str) -> bool:
        """Delete a field; True when this call deleted it (only one caller wins)."""
        ...

    async def hdel_if(self, key: str, field: str, value: bytes) -> bool:
        """Delete a field only while it still holds ``value`` (compare and delete)."""
        ...

    async def hset_if(self, key: str, field: str, expected: bytes, value: bytes) -> bool:
        """Set a field only while it still holds ``expected`` (compare and set)."""
        ...

    async def hgetall(self, key: str) -> dict[str, bytes]: ...
    async def xadd(self, key: str, fields: Mapping[str, bytes], maxlen: int) -> str: ...
    async def xread(
        self, key: str, after: str, *, block_seconds: float, count: int
    ) -> list[StreamEntry]:
        """Entries after id ``after`` ("0": from the start), waiting up to
        ``block_seconds`` for one when there are none yet."""
        ...

    async def xlast(self, key: str) -> str | None:
        """The newest entry's id (None: the stream is empty)."""
        ...


# One key each, so a cluster runs them on the node that owns the hash.
_HSET_IF = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) + 1
end
return 0
"""
_HDEL_IF = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


class RedisState:
    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    @classmethod
    def from_url(cls, url: str) -> RedisState:
        # Its own connections: a stream read blocks for seconds, longer than the cache's
        # socket timeout allows.
        # Any form of cache.redis_url (one server, Sentinel, Cluster: gateway.redis_conn);
        # each command here names one key, so a cluster routes it.
        return cls(
            redis_client(
                parse_redis_url(url), socket_connect_timeout=0.5, socket_timeout=_BLOCK_LIMIT + 5
            )
        )

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def hset(self, key: str, field: str, value: bytes) -> None:
        try:
            # redis-py 7 (saq needs < 8) types commands sync-or-async and values as str.
            await self._redis.hset(key, field, value)  # type: ignore[misc, arg-type]
        except RedisError as exc:
            raise StateUnavailable(type(exc).__name__) from None

    async def hsetnx(self, key: str, field: str, value: bytes) -> bool:
        try:
            return bool(await self._redis.hsetnx(key, field, value))  # type: ignore[misc, arg-type]
        except RedisError as exc:
            raise StateUnavailable(type(exc).__name__) from None

    async def hget(self, key: str, field: str) -> bytes | None:
        try:
            value = await self._redis.hget(key, field)  # type: ignore[misc]
        except RedisError as exc:
            raise StateUnavailable(type(exc).__name__) from None
        return value if isinstance(value, bytes) else None

    async def hdel(self, key: str, field: str) -> bool:
        try:
            return bool(await self._redis.hdel(key, field))  # type: ignore[misc]
        except RedisError as exc:
            raise StateUnavailable(type(exc).__name__) from None

    async def hdel_if(self, key: str, field: str, value: bytes) -> bool:
        try:
            return bool(await self._redis.eval(_HDEL_IF, 1, key, field, value))  # type: ignore[misc]
        except RedisError as exc:
            raise StateUnavailable(type(exc).__name__) from None

    async def hset_if(self, key: str, field: str, expected: bytes, value: bytes) -> bool:
        try:
            return bool(await self._redis.eval(_HSET_IF, 1, key, field, expected, value))  # type: ignore[misc]
        except RedisError as exc:
            raise StateUnavailable(type(exc).__name__) from None

    async def hgetall(self, key: str) -> dict[str, bytes]:
        try:
            raw: Any = await self._redis.hgetall(key)  # type: ignore[misc]
        except RedisError as exc:
            raise StateUnavailable(type(exc).__name__) from None
        return {_text(k): v for k, v in raw.items()}

    async def xadd(self, key: str, fields: Mapping[str, bytes], maxlen: int) -> str:
        try:
            entry: dict[Any, Any] = dict(fields)
            ident = await self._redis.xadd(key, entry, maxlen=maxlen, approximate=True)
        except RedisError as exc:
            raise StateUnavailable(type(exc).__name__) from None
        return _text(ident)

    async def xread(
        self, key: str, after: str, *, block_seconds: float, count: int
    ) -> list[StreamEntry]:
        try:
            answer: Any = await self._redis.xread(
                {key: after},
                count=count,
                block=max(1, int(min(block_seconds, _BLOCK_LIMIT) * 1000)),
            )
        except RedisError as exc:
            raise StateUnavailable(type(exc).__name__) from None
        out: list[StreamEntry] = []
        for _stream, entries in answer or ():
            for ident, fields in entries:
                out.append((_text(ident), {_text(k): v for k, v in fields.items()}))
        return out

    async def xlast(self, key: str) -> str | None:
        try:
            newest: Any = await self._redis.xrevrange(key, count=1)
        except RedisError as exc:
            raise StateUnavailable(type(exc).__name__) from None
        return _text(newest[0][0]) if newest else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stream_key(ident: str) -> tuple[int, int]:
    ms, _, seq = ident.partition("-")
    return int(ms), int(seq or 0)


class MemoryState:
    """One process's state (sandbox, unit tests): the same semantics, nothing shared."""

    def __init__(self) -> None:
        self._hashes: dict[str, dict[str, bytes]] = {}
        self._streams: dict[str, list[StreamEntry]] = {}
        self._last: tuple[int, int] = (0, 0)
        self._changed = asyncio.Condition()

    async def hset(self, key: str, field: str, value: bytes) -> None:
        self._hashes.setdefault(key, {})[field] = value

    async def hsetnx(self, key: str, field: str, value: bytes) -> bool:
        fields = self._hashes.setdefault(key, {})
        if field in fields:
            return False
        fields[field] = value
        return True

    async def hget(self, key: str, field: str) -> bytes | None:
        return self._hashes.get(key, {}).get(field)

    async def hdel(self, key: str, field: str) -> bool:
        return self._hashes.get(key, {}).pop(field, None) is not None

    async def hdel_if(self, key: str, field: str, value: bytes) -> bool:
        fields = self._hashes.get(key, {})
        if fields.get(field) != value:
            return False
        del fields[field]
        return True

    async def hset_if(self, key: str, field: str, expected: bytes, value: bytes) -> bool:
        fields = self._hashes.get(key, {})
        if fields.get(field) != expected:
            return False
        fields[field] = value
        return True

    async def hgetall(self, key: str) -> dict[str, bytes]:
        return dict(self._hashes.get(key, {}))

    async def xadd(self, key: str, fields: Mapping[str, bytes], maxlen: int) -> str:
        now = int(time.time() * 1000)
        ms, seq = self._last
        self._last = (now, 0) if now > ms else (ms, seq + 1)
        ident = f"{self._last[0]}-{self._last[1]}"
        stream = self._streams.setdefault(key, [])
        stream.append((ident, dict(fields)))
        del stream[: max(0, len(stream) - maxlen)]
        async with self._changed:
            self._changed.notify_all()
        return ident

    async def xread(
        self, key: str, after: str, *, block_seconds: float, count: int
    ) -> list[StreamEntry]:
        def newer() -> list[StreamEntry]:
            floor = _stream_key(after)
            return [e for e in self._streams.get(key, []) if _stream_key(e[0]) > floor][:count]

        found = newer()
        if found:
            return found
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: bool(newer())), timeout=block_seconds
                )
            except TimeoutError:
                return []
        return newer()

    async def xlast(self, key: str) -> str | None:
        stream = self._streams.get(key)
        return stream[-1][0] if stream else None
