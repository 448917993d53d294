"""Good-faith estimates kept where every gateway replica sees them: Redis.

Keys (``CacheKeys``: identifiers hashed, never in clear):

- ``gfe``         the estimate, sealed (AES-GCM, ``gateway.sealing``): it holds a patient id
  and, once issued, the patient's name and birth date;
- ``gfe-due``     per tenant, a sorted set of the ids of estimates still to give, scored
  by the instant they are due: "due before" is one range read;
- ``gfe-appt``    appointment -> estimate id (set once: a replayed booking finds it);
- ``gfe-patient`` patient -> the ids of their estimates.

Estimate ids are random tokens, not PHI. Nothing expires on its own: an issued
estimate is a record the hospital keeps (and should file in its document system; this
is the desk's working copy). ``MemoryGfeStore`` is the same contract in one process, for
the sandbox and tests without Redis.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TypeVar, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..cache import CacheKeys
from ..money_schemas import GfeOut
from ..sealing import Sealer
from .errors import ServiceError

__all__ = ["GfeStore", "GfeStoreUnavailable", "MemoryGfeStore", "RedisGfeStore", "new_gfe_id"]

_T = TypeVar("_T")


class GfeStoreUnavailable(ServiceError):
    code = "gfe_unavailable"
    title = "Good-faith estimates can't be reached right now"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _raw(value: object) -> bytes | None:
    if value is None:
        return None
    return value if isinstance(value, bytes) else str(value).encode()


def new_gfe_id() -> str:
    return "gfe-" + secrets.token_urlsafe(12)


class GfeStore(Protocol):
    async def open(self, tenant: str, record: GfeOut) -> GfeOut:
        """Keep a new estimate; for an appointment that has one already, that one."""
        ...

    async def save(self, tenant: str, record: GfeOut) -> None:
        """Write an estimate back (status, document, bills); the due list follows it."""
        ...

    async def get(self, tenant: str, gfe_id: str) -> GfeOut | None: ...
    async def of_appointment(self, tenant: str, appointment_id: str) -> GfeOut | None: ...
    async def of_patient(self, tenant: str, patient_id: str) -> list[GfeOut]: ...
    async def due(self, tenant: str, before: datetime, limit: int) -> list[GfeOut]:
        """Open estimates due at or before ``before``, soonest first."""
        ...


def _still_due(record: GfeOut) -> bool:
    return record.status == "open" and record.due_at is not None


class MemoryGfeStore:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], GfeOut] = {}
        self._by_appointment: dict[tuple[str, str], str] = {}

    async def open(self, tenant: str, record: GfeOut) -> GfeOut:
        if record.appointment_id is not None:
            known = self._by_appointment.setdefault((tenant, record.appointment_id), record.id)
            if known != record.id:
                return self._records[(tenant, known)]
        self._records[(tenant, record.id)] = record
        return record

    async def save(self, tenant: str, record: GfeOut) -> None:
        self._records[(tenant, record.id)] = record

    async def get(self, tenant: str, gfe_id: str) -> GfeOut | None:
        return self._records.get((tenant, gfe_id))

    async def of_appointment(self, tenant: str, appointment_id: str) -> GfeOut | None:
        known = self._by_appointment.get((tenant, appointment_id))
        return self._records.get((tenant, known)) if known else None

    async def of_patient(self, tenant: str, patient_id: str) -> list[GfeOut]:
        found = [r for (t, _), r in self._records.items() if t == tenant]
        return sorted((r for r in found if r.patient_id == patient_id), key=lambda r: r.opened_at)

    async def due(self, tenant: str, before: datetime, limit: int) -> list[GfeOut]:
        found = [
            r
            for (t, _), r in self._records.items()
            if t == tenant and _still_due(r) and r.due_at is not None and r.due_at <= before
        ]
        found.sort(key=lambda r: (r.due_at, r.id))
        return found[:limit]


class RedisGfeStore:
    def __init__(self, redis: aioredis.Redis, keys: CacheKeys, sealer: Sealer) -> None:
        self._redis = redis
        self._keys = keys
        self._sealer = sealer

    async def _call(self, work: Callable[[], Awaitable[_T]]) -> _T:
        try:
            return await work()
        except RedisError:
            raise GfeStoreUnavailable(
                "the good-faith estimate store (Redis) is not answering: try again shortly"
            ) from None

    def _key(self, tenant: str, gfe_id: str) -> str:
        return self._keys.key("gfe", tenant, gfe_id)

    def _due_key(self, tenant: str) -> str:
        # Keyed like the records: rotating the hash secret starts a new list, never one
        # naming records that no longer open.
        return self._keys.key("gfe-due", tenant, "open")

    def _sealed(self, tenant: str, record: GfeOut) -> tuple[str, bytes]:
        key = self._key(tenant, record.id)
        return key, self._sealer.seal(record.model_dump_json().encode(), context=key)

    def _opened(self, key: str, raw: bytes | None) -> GfeOut | None:
        plain = self._sealer.open(raw, context=key)
        return GfeOut.model_validate_json(plain) if plain is not None else None

    async def open(self, tenant: str, record: GfeOut) -> GfeOut:
        async def work() -> GfeOut:
            if record.appointment_id is not None:
                link = self._keys.key("gfe-appt", tenant, record.appointment_id)
                if not await self._redis.set(link, record.id.encode(), nx=True):
                    known = await self._redis.get(link)
                    existing = await self.get(tenant, _text(known)) if known else None
                    if existing is not None:
                        return existing
                    # A link without its estimate (written, then the process died): ours.
                    await self._redis.set(link, record.id.encode())
            await self._write(tenant, record)
            await self._redis.sadd(  # type: ignore[misc]
                self._keys.key("gfe-patient", tenant, record.patient_id), record.id
            )
            return record

        return await self._call(work)

    async def _write(self, tenant: str, record: GfeOut) -> None:
        key, sealed = self._sealed(tenant, record)
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(key, sealed)
        if _still_due(record) and record.due_at is not None:
            pipe.zadd(self._due_key(tenant), {record.id: record.due_at.timestamp()})
        else:
            pipe.zrem(self._due_key(tenant), record.id)
        await pipe.execute()

    async def save(self, tenant: str, record: GfeOut) -> None:
        await self._call(lambda: self._write(tenant, record))

    async def get(self, tenant: str, gfe_id: str) -> GfeOut | None:
        key = self._key(tenant, gfe_id)
        raw = await self._call(lambda: self._redis.get(key))
        return self._opened(key, _raw(raw))

    async def of_appointment(self, tenant: str, appointment_id: str) -> GfeOut | None:
        link = self._keys.key("gfe-appt", tenant, appointment_id)
        known = await self._call(lambda: self._redis.get(link))
        return await self.get(tenant, _text(known)) if known else None

    async def _many(self, tenant: str, ids: list[str]) -> list[GfeOut]:
        if not ids:
            return []
        keys = [self._key(tenant, i) for i in ids]
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        raws = await self._call(pipe.execute)
        return [
            r for key, raw in zip(keys, raws, strict=True) if (r := self._opened(key, _raw(raw)))
        ]

    async def of_patient(self, tenant: str, patient_id: str) -> list[GfeOut]:
        members = await self._call(
            lambda: cast(
                "Awaitable[set[bytes]]",
                self._redis.smembers(self._keys.key("gfe-patient", tenant, patient_id)),
            )
        )
        ids = sorted(_text(m) for m in members)
        return sorted(await self._many(tenant, ids), key=lambda r: r.opened_at)

    async def due(self, tenant: str, before: datetime, limit: int) -> list[GfeOut]:
        ids = [
            _text(i)
            for i in await self._call(
                lambda: self._redis.zrangebyscore(
                    self._due_key(tenant), "-inf", before.timestamp(), start=0, num=limit
                )
            )
        ]
        found = await self._many(tenant, ids)
        gone = set(ids) - {r.id for r in found}
        if gone:
            # Listed but unreadable (lost, or sealed with a key no longer in the ring):
            # nothing can be done with them; the list forgets them.
            await self._call(lambda: self._redis.zrem(self._due_key(tenant), *gone))
        return found
