"""The cache port: Redis in production, memory in the sandbox.

Redis is an optimisation and a coordination aid, never a single point of
failure for reads: when it is unreachable the Redis cache answers "miss",
counts the failure, logs once per outage and tries again on the next call.
Keys never hold identifiers in clear: ``CacheKeys`` hashes them with a keyed
BLAKE2b so a key dump reveals no member id, name or birth date.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .logs import get_logger
from .redis_conn import AnyRedis, parse_redis_url, redis_client

__all__ = ["Cache", "CacheKeys", "MemoryCache", "RedisCache", "Release", "Write"]

# (key, value, TTL in seconds; 0 or less keeps it without expiry)
Write = tuple[str, bytes, float]
# (key, the value it must still hold to be deleted)
Release = tuple[str, bytes]

# Compare-and-delete in one step: a lock whose TTL ran out may belong to someone else now.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

log = get_logger(__name__)


class Cache(Protocol):
    """What services need from a shared cache."""

    async def get(self, key: str) -> bytes | None: ...
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys`` in order, in one round trip."""
        ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...
    async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        """Set only if absent (a lock or a reservation); True when this call set it."""
        ...

    async def delete(self, key: str) -> None: ...
    async def release(self, key: str, value: bytes) -> None:
        """Delete ``key`` only while it still holds ``value`` (a lock this caller owns)."""
        ...

    async def write(self, sets: Sequence[Write], releases: Sequence[Release] = ()) -> bool:
        """``sets``, then ``releases`` (as ``release``), in order, in one round trip;
        True if applied."""
        ...

    async def incr(self, key: str, ttl_seconds: float = 0) -> int:
        """Add one; a counter this call creates expires after ``ttl_seconds`` (0: never)."""
        ...

    async def ping(self) -> bool: ...


class CacheKeys:
    """Cache key builder; every caller-supplied part is hashed with a secret key."""

    def __init__(self, secret: str, prefix: str = "fd") -> None:
        # Keyed once; each digest starts from a copy (keying costs more than copying).
        self._keyed = hashlib.blake2b(key=hashlib.sha256(secret.encode()).digest(), digest_size=16)
        self._prefix = prefix

    def digest(self, *parts: str) -> str:
        h = self._keyed.copy()
        # Each part followed by a unit separator, fed in one update.
        h.update("".join(f"{part}\x1f" for part in parts).encode())
        return h.hexdigest()

    def key(self, kind: str, tenant: str, *parts: str) -> str:
        """``fd:<kind>:<tenant>:{<hash of parts>}``; kind and tenant are config ids, not PHI.

        The hash is a Redis Cluster hash tag: every key about the same parts (a flight's
        lock, its outcome and the answers it publishes in one pipeline) lives in one slot,
        so a pipeline or script over them runs on one node, in order."""
        return f"{self._prefix}:{kind}:{tenant}:{{{self.digest(*parts)}}}"

    def plain(self, kind: str, tenant: str, name: str) -> str:
        """A key from configuration ids only (counters, generations)."""
        return f"{self._prefix}:{kind}:{tenant}:{name}"


class MemoryCache:
    """In-process cache for the sandbox and unit tests (single process only)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._clock = clock
        self._lock = asyncio.Lock()

    def _live(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= self._clock():
            del self._data[key]
            return None
        return value

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self._live(k) for k in keys]

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._data[key] = (value, self._clock() + ttl_seconds if ttl_seconds > 0 else None)

    async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        async with self._lock:
            if self._live(key) is not None:
                return False
            await self.set(key, value, ttl_seconds)
            return True

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def release(self, key: str, value: bytes) -> None:
        if self._live(key) == value:
            del self._data[key]

    async def write(self, sets: Sequence[Write], releases: Sequence[Release] = ()) -> bool:
        for key, value, ttl in sets:
            await self.set(key, value, ttl)
        for key, value in releases:
            await self.release(key, value)
        return True

    async def incr(self, key: str, ttl_seconds: float = 0) -> int:
        async with self._lock:
            live = self._live(key)
            current = int(live or b"0") + 1
            expires = self._data[key][1] if live is not None else None
            if live is None and ttl_seconds > 0:
                expires = self._clock() + ttl_seconds
            self._data[key] = (str(current).encode(), expires)
            return current

    async def ping(self) -> bool:
        return True

    def keys(self) -> list[str]:
        return list(self._data)


class RedisCache:
    """Redis behind the Cache port, degrading to a miss when Redis is away."""

    def __init__(self, client: AnyRedis, on_error: Callable[[str], None] | None = None) -> None:
        self._redis = client
        self._on_error = on_error
        self._healthy = True

    @classmethod
    def from_url(cls, url: str, on_error: Callable[[str], None] | None = None) -> RedisCache:
        """A cache on any form of ``cache.redis_url`` (``gateway.redis_conn``)."""
        client = redis_client(
            parse_redis_url(url),
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            health_check_interval=5,
            # After Redis restarts, every pooled connection is dead and its next command
            # fails once: one immediate retry reconnects it (behind Sentinel, to the primary
            # the sentinels name now). Timeouts are not retried, so a hung Redis still costs
            # a request one timeout, not several.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        return cls(client, on_error)

    @property
    def client(self) -> AnyRedis:
        """The redis-py client, for what needs Redis itself (the batch queue and its store, the
        person index)."""
        return self._redis

    @property
    def healthy(self) -> bool:
        return self._healthy

    def _failed(self, op: str, exc: RedisError) -> None:
        if self._healthy:
            log.warning("cache_unavailable", op=op, error=type(exc).__name__)
        self._healthy = False
        if self._on_error is not None:
            self._on_error(op)

    def _ok(self) -> None:
        if not self._healthy:
            log.info("cache_recovered")
        self._healthy = True

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(key)
        except RedisError as exc:
            self._failed("get", exc)
            return None
        self._ok()
        return value if isinstance(value, bytes) else None

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        # A pipeline, not MGET: on a Cluster the keys may live in different slots.
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        try:
            values = await pipe.execute()
        except RedisError as exc:
            self._failed("get", exc)
            return [None] * len(keys)
        self._ok()
        return [v if isinstance(v, bytes) else None for v in values]

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        try:
            if ttl_seconds > 0:
                await self._redis.set(key, value, px=int(ttl_seconds * 1000))
            else:
                await self._redis.set(key, value)
        except RedisError as exc:
            self._failed("set", exc)
            return
        self._ok()

    async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        try:
            done = await self._redis.set(key, value, px=max(1, int(ttl_seconds * 1000)), nx=True)
        except RedisError as exc:
            self._failed("add", exc)
            # Without Redis there is no shared lock: let the caller proceed; the
            # upstream's own guards (If-Match, conditional create) stay in force.
            return True
        self._ok()
        return bool(done)

    async def delete(self, key: str) -> None:
        try:
            await self._redis.delete(key)
        except RedisError as exc:
            self._failed("delete", exc)
            return
        self._ok()

    async def release(self, key: str, value: bytes) -> None:
        try:
            # redis-py 7 types its commands sync-or-async; the asyncio client awaits.
            await self._redis.eval(_RELEASE, 1, key, value)  # type: ignore[misc]
        except RedisError as exc:
            self._failed("release", exc)
            return
        self._ok()

    async def write(self, sets: Sequence[Write], releases: Sequence[Release] = ()) -> bool:
        # A plain pipeline: one round trip, commands applied in order (no MULTI needed:
        # readers only rely on the order, and a release follows the sets).
        pipe = self._redis.pipeline(transaction=False)
        for key, value, ttl in sets:
            if ttl > 0:
                pipe.set(key, value, px=max(1, int(ttl * 1000)))
            else:
                pipe.set(key, value)
        for key, value in releases:
            pipe.eval(_RELEASE, 1, key, value)
        try:
            await pipe.execute()
        except RedisError as exc:
            self._failed("write", exc)
            return False
        self._ok()
        return True

    async def incr(self, key: str, ttl_seconds: float = 0) -> int:
        try:
            if ttl_seconds > 0:
                # EXPIRE NX: only the call that created the counter starts its clock.
                pipe = self._redis.pipeline(transaction=True)
                pipe.incr(key)
                pipe.pexpire(key, max(1, int(ttl_seconds * 1000)), nx=True)
                value = int((await pipe.execute())[0])
            else:
                value = int(await self._redis.incr(key))
        except RedisError as exc:
            self._failed("incr", exc)
            return -1
        self._ok()
        return value

    async def ping(self) -> bool:
        try:
            ok = bool(await self._redis.ping())  # type: ignore[misc]
        except RedisError as exc:
            self._failed("ping", exc)
            return False
        self._ok()
        return ok

    async def aclose(self) -> None:
        await self._redis.aclose()
