"""Where the person index lives: Redis, shared by every gateway replica, no PHI at rest.

What is kept (per tenant, per generation of a build):

- ``fd:idx:{t}:<gen>:k:{<h>}``  SET of record ids: ``h`` is a keyed hash of one blocking
  key (kind and value), so a key dump shows no birth date, name or phone;
- ``fd:idx:{t}:<gen>:r:{<h>}``  HASH of one record (``h`` a keyed hash of its id): its
  person cluster (``c``) and the hashes of its blocking keys (``k``, to unhook them
  when the record changes);
- ``fd:idx:{t}:<gen>:c:{<h>}``  HASH of one cluster: member record id -> the match
  probability that joined it (1 for the first record).

and per tenant, outside generations (tag ``{idx:<t>}``, so the pointer and the
watermarks switch together in one MULTI on Redis Cluster too):

- ``fd:{idx:<t>}:gen`` the generation searches read, ``fd:{idx:<t>}:next`` the one a
  build is writing (incremental updates go to both), ``fd:{idx:<t>}:meta`` JSON of the
  last build (per-source watermarks, model version, counts); ``fd:{idx:<t>}:building``
  the lease of the one build that may run (its holder's random token, with a TTL the
  build renews while it works: a process that dies lets it lapse);
- ``fd:idx:{t}:d:{<h>}`` HASH of one record's decisions by people: other record id ->
  JSON (``different`` or ``same``, who, when, why). Never expire; builds honour them.

Record ids are gateway ids (opaque source/type/id), not demographics. Every command
touches one key, or keys of one hash tag. Redis away: reads answer "nothing indexed"
(the search still asks every EHR live), writes are dropped and counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..cache import CacheKeys
from ..logs import get_logger

__all__ = ["Entry", "IndexStore", "LeaseLost", "MemoryIndexStore", "RedisIndexStore"]

log = get_logger(__name__)
_CHUNK = 2000


class LeaseLost(Exception):
    """The build's lease lapsed, or another build holds it now."""


# Take the lease, or extend it for the holder that has it.
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# Switch generations (pointer, meta, no build pending) in one step, only while the
# build holding the lease (ARGV[3]; '' for none) still holds it. Keys of one hash tag.
_ACTIVATE = """
if ARGV[3] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[3] then
  return {0}
end
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
if old then
  return {1, old}
end
return {1}
"""
# Delete a key only while it holds ARGV[1].
_END = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Entry:
    """One record as the index keeps it."""

    record_id: str
    cluster: str
    keys: tuple[str, ...]  # hashed blocking keys
    probability: float = 1.0


class IndexStore(Protocol):
    async def current(self, tenant: str) -> list[str]:
        """Generations to write to (the live one first, then one being built)."""
        ...

    async def records_for(self, tenant: str, gen: str, keys: Sequence[str]) -> list[set[str]]: ...
    async def clusters_of(self, tenant: str, gen: str, ids: Sequence[str]) -> dict[str, str]: ...
    async def members(
        self, tenant: str, gen: str, clusters: Sequence[str]
    ) -> dict[str, dict[str, float]]: ...
    async def keys_of(self, tenant: str, gen: str, record_id: str) -> list[str] | None: ...
    async def put(self, tenant: str, gen: str, entries: Sequence[Entry]) -> None: ...
    async def remove(self, tenant: str, gen: str, record_id: str) -> None: ...
    async def begin(self, tenant: str, gen: str) -> None: ...
    async def activate(
        self, tenant: str, gen: str, meta: dict[str, Any], *, holder: str | None = None
    ) -> str | None:
        """Make ``gen`` the live generation; returns the one it replaced. With
        ``holder``, only while that build holds the lease (else ``LeaseLost``), in the
        same step."""
        ...

    async def drop(self, tenant: str, gen: str) -> None:
        """Delete ``gen``'s records (and stop writing to it, were it being built)."""
        ...

    async def meta(self, tenant: str) -> dict[str, Any]: ...
    async def claim_build(self, tenant: str, holder: str, seconds: float) -> bool:
        """Take the tenant's build lease for ``seconds``, or renew it when ``holder``
        has it; False when another build holds it."""
        ...

    async def renew_build(self, tenant: str, holder: str, seconds: float) -> bool:
        """Extend the lease ``holder`` has; False when it lapsed or another took it."""
        ...

    async def end_build(self, tenant: str, holder: str) -> None:
        """Give the lease back if ``holder`` still has it."""
        ...

    async def decide(self, tenant: str, a: str, b: str, decision: dict[str, Any]) -> None: ...
    async def decisions(
        self, tenant: str, ids: Sequence[str]
    ) -> dict[str, dict[str, dict[str, Any]]]: ...
    async def all_decisions(
        self, tenant: str, ids: Iterable[str]
    ) -> list[tuple[str, str, str]]: ...


class RedisIndexStore:
    def __init__(
        self, redis: Redis, keys: CacheKeys, on_error: Callable[[str], None] | None = None
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._on_error = on_error

    # --- key names ----------------------------------------------------------------------

    def _h(self, *parts: str) -> str:
        return self._keys.digest(*parts)

    def _k(self, tenant: str, gen: str, key_hash: str) -> str:
        return f"fd:idx:{tenant}:{gen}:k:{{{key_hash}}}"

    def _r(self, tenant: str, gen: str, record_id: str) -> str:
        return f"fd:idx:{tenant}:{gen}:r:{{{self._h('record', record_id)}}}"

    def _c(self, tenant: str, gen: str, cluster: str) -> str:
        return f"fd:idx:{tenant}:{gen}:c:{{{self._h('cluster', cluster)}}}"

    def _d(self, tenant: str, record_id: str) -> str:
        return f"fd:idx:{tenant}:d:{{{self._h('record', record_id)}}}"

    @staticmethod
    def _control(tenant: str, name: str) -> str:
        return f"fd:{{idx:{tenant}}}:{name}"

    def _failed(self, op: str, exc: RedisError) -> None:
        log.warning("person_index_unavailable", op=op, error=type(exc).__name__)
        if self._on_error is not None:
            self._on_error(op)

    # --- reads --------------------------------------------------------------------------

    async def current(self, tenant: str) -> list[str]:
        try:
            live, building = await self._redis.mget(
                self._control(tenant, "gen"), self._control(tenant, "next")
            )
        except RedisError as exc:
            self._failed("current", exc)
            return []
        return [_text(g) for g in (live, building) if g]

    async def records_for(self, tenant: str, gen: str, keys: Sequence[str]) -> list[set[str]]:
        if not keys:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.smembers(self._k(tenant, gen, key))
        try:
            answers = await pipe.execute()
        except RedisError as exc:
            self._failed("records_for", exc)
            return []
        return [{m.decode() for m in members} for members in answers]

    async def clusters_of(self, tenant: str, gen: str, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for record_id in ids:
            pipe.hget(self._r(tenant, gen, record_id), "c")
        try:
            answers = await pipe.execute()
        except RedisError as exc:
            self._failed("clusters_of", exc)
            return {}
        return {i: c.decode() for i, c in zip(ids, answers, strict=True) if c}

    async def members(
        self, tenant: str, gen: str, clusters: Sequence[str]
    ) -> dict[str, dict[str, float]]:
        if not clusters:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for cluster in clusters:
            pipe.hgetall(self._c(tenant, gen, cluster))
        try:
            answers = await pipe.execute()
        except RedisError as exc:
            self._failed("members", exc)
            return {}
        return {
            c: {k.decode(): float(v) for k, v in found.items()}
            for c, found in zip(clusters, answers, strict=True)
        }

    async def keys_of(self, tenant: str, gen: str, record_id: str) -> list[str] | None:
        try:
            raw = await self._redis.hget(self._r(tenant, gen, record_id), "k")  # type: ignore[misc]
        except RedisError as exc:
            self._failed("keys_of", exc)
            return None
        return json.loads(raw) if raw else None

    async def meta(self, tenant: str) -> dict[str, Any]:
        try:
            raw = await self._redis.get(self._control(tenant, "meta"))
        except RedisError as exc:
            self._failed("meta", exc)
            return {}
        return json.loads(raw) if raw else {}

    # --- writes -------------------------------------------------------------------------

    async def put(self, tenant: str, gen: str, entries: Sequence[Entry]) -> None:
        for start in range(0, len(entries), _CHUNK):
            pipe = self._redis.pipeline(transaction=False)
            for e in entries[start : start + _CHUNK]:
                for key in e.keys:
                    pipe.sadd(self._k(tenant, gen, key), e.record_id)
                pipe.hset(
                    self._r(tenant, gen, e.record_id),
                    mapping={"c": e.cluster, "k": json.dumps(list(e.keys))},
                )
                pipe.hset(self._c(tenant, gen, e.cluster), e.record_id, repr(e.probability))
            try:
                await pipe.execute()
            except RedisError as exc:
                self._failed("put", exc)
                return

    async def remove(self, tenant: str, gen: str, record_id: str) -> None:
        try:
            raw = await self._redis.hmget(self._r(tenant, gen, record_id), ["c", "k"])  # type: ignore[misc]
            cluster, keys = raw
            pipe = self._redis.pipeline(transaction=False)
            for key in json.loads(keys) if keys else []:
                pipe.srem(self._k(tenant, gen, key), record_id)
            if cluster:
                pipe.hdel(self._c(tenant, gen, _text(cluster)), record_id)
            pipe.delete(self._r(tenant, gen, record_id))
            await pipe.execute()
        except RedisError as exc:
            self._failed("remove", exc)

    async def begin(self, tenant: str, gen: str) -> None:
        await self._redis.set(self._control(tenant, "next"), gen)

    async def activate(
        self, tenant: str, gen: str, meta: dict[str, Any], *, holder: str | None = None
    ) -> str | None:
        # One script over keys of one hash tag: readers see the old or the new
        # generation, with its own watermarks, never a mix.
        keys = [self._control(tenant, n) for n in ("gen", "meta", "next", "building")]
        done = await self._redis.eval(_ACTIVATE, 4, *keys, gen, json.dumps(meta), holder or "")  # type: ignore[misc]
        if not done[0]:
            raise LeaseLost(tenant)
        return _text(done[1]) if len(done) > 1 else None

    async def drop(self, tenant: str, gen: str) -> None:
        # A build abandoned after ``begin``: updates stop going to its generation.
        await self._redis.eval(_END, 1, self._control(tenant, "next"), gen)  # type: ignore[misc]
        batch: list[Any] = []
        async for key in self._redis.scan_iter(match=f"fd:idx:{tenant}:{gen}:*", count=1000):
            batch.append(key)
            if len(batch) >= _CHUNK:
                await self._unlink(batch)
                batch = []
        if batch:
            await self._unlink(batch)

    async def _unlink(self, keys: list[Any]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            # As a plain command: a cluster pipeline's unlink() is a coroutine of its own
            # (across slots), not a queued command.
            pipe.execute_command("UNLINK", key)
        await pipe.execute()

    # --- the build lease --------------------------------------------------------------

    async def claim_build(self, tenant: str, holder: str, seconds: float) -> bool:
        key = self._control(tenant, "building")
        ms = max(1, int(seconds * 1000))
        return bool(await self._redis.eval(_CLAIM, 1, key, holder, ms))  # type: ignore[misc]

    async def renew_build(self, tenant: str, holder: str, seconds: float) -> bool:
        key = self._control(tenant, "building")
        ms = max(1, int(seconds * 1000))
        return bool(await self._redis.eval(_RENEW, 1, key, holder, ms))  # type: ignore[misc]

    async def end_build(self, tenant: str, holder: str) -> None:
        await self._redis.eval(_END, 1, self._control(tenant, "building"), holder)  # type: ignore[misc]

    # --- people's decisions -------------------------------------------------------------

    async def decide(self, tenant: str, a: str, b: str, decision: dict[str, Any]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(self._d(tenant, a), b, json.dumps(decision))
        pipe.hset(self._d(tenant, b), a, json.dumps(decision))
        await pipe.execute()

    async def decisions(
        self, tenant: str, ids: Sequence[str]
    ) -> dict[str, dict[str, dict[str, Any]]]:
        if not ids:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for record_id in ids:
            pipe.hgetall(self._d(tenant, record_id))
        try:
            answers = await pipe.execute()
        except RedisError as exc:
            self._failed("decisions", exc)
            return {}
        return {
            i: {k.decode(): json.loads(v) for k, v in found.items()}
            for i, found in zip(ids, answers, strict=True)
            if found
        }

    async def all_decisions(self, tenant: str, ids: Iterable[str]) -> list[tuple[str, str, str]]:
        """(a, b, verdict) for every decision touching ``ids``, each pair once."""
        found = await self.decisions(tenant, list(ids))
        out: dict[frozenset[str], tuple[str, str, str]] = {}
        for a, others in found.items():
            for b, decision in others.items():
                out.setdefault(frozenset((a, b)), (a, b, str(decision["verdict"])))
        return list(out.values())


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class MemoryIndexStore:
    """The same store in one process (sandbox, unit tests)."""

    def __init__(self) -> None:
        self.sets: dict[tuple[str, str, str], set[str]] = {}
        self.records: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
        self.clusters: dict[tuple[str, str, str], dict[str, float]] = {}
        self.control: dict[tuple[str, str], Any] = {}
        self.decided: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    async def current(self, tenant: str) -> list[str]:
        return [
            g for g in (self.control.get((tenant, "gen")), self.control.get((tenant, "next"))) if g
        ]

    async def records_for(self, tenant: str, gen: str, keys: Sequence[str]) -> list[set[str]]:
        return [set(self.sets.get((tenant, gen, k), set())) for k in keys]

    async def clusters_of(self, tenant: str, gen: str, ids: Sequence[str]) -> dict[str, str]:
        return {
            i: self.records[(tenant, gen, i)][0] for i in ids if (tenant, gen, i) in self.records
        }

    async def members(
        self, tenant: str, gen: str, clusters: Sequence[str]
    ) -> dict[str, dict[str, float]]:
        return {c: dict(self.clusters.get((tenant, gen, c), {})) for c in clusters}

    async def keys_of(self, tenant: str, gen: str, record_id: str) -> list[str] | None:
        found = self.records.get((tenant, gen, record_id))
        return list(found[1]) if found else None

    async def put(self, tenant: str, gen: str, entries: Sequence[Entry]) -> None:
        for e in entries:
            for key in e.keys:
                self.sets.setdefault((tenant, gen, key), set()).add(e.record_id)
            self.records[(tenant, gen, e.record_id)] = (e.cluster, list(e.keys))
            self.clusters.setdefault((tenant, gen, e.cluster), {})[e.record_id] = e.probability

    async def remove(self, tenant: str, gen: str, record_id: str) -> None:
        found = self.records.pop((tenant, gen, record_id), None)
        if found is None:
            return
        cluster, keys = found
        for key in keys:
            self.sets.get((tenant, gen, key), set()).discard(record_id)
        self.clusters.get((tenant, gen, cluster), {}).pop(record_id, None)

    async def begin(self, tenant: str, gen: str) -> None:
        self.control[(tenant, "next")] = gen

    async def activate(
        self, tenant: str, gen: str, meta: dict[str, Any], *, holder: str | None = None
    ) -> str | None:
        if holder is not None and not self._holds(tenant, holder):
            raise LeaseLost(tenant)
        old = self.control.get((tenant, "gen"))
        self.control[(tenant, "gen")] = gen
        self.control[(tenant, "meta")] = meta
        self.control.pop((tenant, "next"), None)
        return old

    async def drop(self, tenant: str, gen: str) -> None:
        if self.control.get((tenant, "next")) == gen:
            del self.control[(tenant, "next")]
        for table in (self.sets, self.records, self.clusters):
            for key in [k for k in table if k[0] == tenant and k[1] == gen]:
                del table[key]

    async def meta(self, tenant: str) -> dict[str, Any]:
        return dict(self.control.get((tenant, "meta"), {}))

    async def claim_build(self, tenant: str, holder: str, seconds: float) -> bool:
        held = self.control.get((tenant, "building"))
        if held is not None and held[0] != holder and held[1] > time.monotonic():
            return False
        self.control[(tenant, "building")] = (holder, time.monotonic() + seconds)
        return True

    def _holds(self, tenant: str, holder: str) -> bool:
        held = self.control.get((tenant, "building"))
        return held is not None and held[0] == holder and held[1] > time.monotonic()

    async def renew_build(self, tenant: str, holder: str, seconds: float) -> bool:
        if not self._holds(tenant, holder):
            return False
        self.control[(tenant, "building")] = (holder, time.monotonic() + seconds)
        return True

    async def end_build(self, tenant: str, holder: str) -> None:
        held = self.control.get((tenant, "building"))
        if held is not None and held[0] == holder:
            del self.control[(tenant, "building")]

    async def decide(self, tenant: str, a: str, b: str, decision: dict[str, Any]) -> None:
        self.decided.setdefault((tenant, a), {})[b] = decision
        self.decided.setdefault((tenant, b), {})[a] = decision

    async def decisions(
        self, tenant: str, ids: Sequence[str]
    ) -> dict[str, dict[str, dict[str, Any]]]:
        return {i: dict(self.decided[(tenant, i)]) for i in ids if (tenant, i) in self.decided}

    async def all_decisions(self, tenant: str, ids: Iterable[str]) -> list[tuple[str, str, str]]:
        found = await self.decisions(tenant, list(ids))
        out: dict[frozenset[str], tuple[str, str, str]] = {}
        for a, others in found.items():
            for b, decision in others.items():
                out.setdefault(frozenset((a, b)), (a, b, str(decision["verdict"])))
        return list(out.values())
