"""Batch verification's job queue: saq over Redis, one job per item, and the batch's store.

saq gives what a night-before batch needs from a queue: any number of worker processes
take items from one Redis list; a job carries a heartbeat, and a worker's sweep hands the
job of a worker that stopped beating (killed, frozen) to another; a job that raises is
tried again, up to its ``retries``, then ends ``failed``. This module adds the batch:

- ``fd:batch:{<id>}:meta``     the batch (tenant, day, its items: gateway patient ids),
                               sealed (``gateway.sealing``);
- ``fd:batch:{<id>}:results``  a hash, item index -> sealed outcome (the answer's status,
                               payer and plan, reasons) or the reason it failed;
- ``fd:batch:{<id>}:errors``   a hash, item index -> why its last try failed (no PHI);
- ``fd:batch:{<id>}:cancel``   present once the batch is cancelled.

A job holds only the batch id and the item's index (saq keeps jobs in clear, and logs
them), and returns nothing: what is about a patient rests sealed in the store. Every saq
key carries the queue's hash tag (``{fd-batch}``: in the queue name and in each job key)
and every batch key its own, so the queue works on Redis Cluster, in one slot.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from saq import Queue, Status, Worker
from saq.job import CronJob, Job
from saq.queue.redis import RedisQueue

from .redis_conn import AnyRedis
from .sealing import Sealer

__all__ = [
    "ITEM_FUNCTION",
    "QUEUE_NAME",
    "BatchMeta",
    "BatchQueue",
    "BatchStore",
    "ItemFunction",
    "batch_worker",
]

QUEUE_NAME = "{fd-batch}"
ITEM_FUNCTION = "coverage_item"
# How long a batch and its results are kept.
BATCH_TTL_SECONDS = 7 * 86_400
# How long saq keeps a finished job's record (its outcome lives in the store).
_JOB_TTL_SECONDS = 3600
# Seconds before a failed item's next try (doubling, at most the cap, with jitter).
_RETRY_DELAY = 1.0
_RETRY_DELAY_CAP = 30.0
_SWEPT = "swept"

ItemFunction = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class BatchMeta:
    id: str
    tenant: str
    day: date
    items: list[str]


class BatchStore:
    """A batch's description and results in Redis; what is about patients sealed."""

    def __init__(self, redis: AnyRedis, sealer: Sealer, *, ttl: float = BATCH_TTL_SECONDS) -> None:
        self._redis = redis
        self._sealer = sealer
        self._ttl = int(ttl)

    @staticmethod
    def key(batch: str, part: str) -> str:
        return f"fd:batch:{{{batch}}}:{part}"

    async def create(self, meta: BatchMeta) -> None:
        key = self.key(meta.id, "meta")
        body = json.dumps(
            {"tenant": meta.tenant, "day": meta.day.isoformat(), "items": meta.items}
        ).encode()
        await self._redis.set(key, self._sealer.seal(body, context=key), ex=self._ttl)

    async def meta(self, batch: str) -> BatchMeta | None:
        key = self.key(batch, "meta")
        plain = self._sealer.open(await self._redis.get(key), context=key)
        if plain is None:
            return None
        data = json.loads(plain)
        return BatchMeta(batch, data["tenant"], date.fromisoformat(data["day"]), data["items"])

    async def record(self, batch: str, index: int, outcome: dict[str, Any]) -> None:
        await self._put(batch, index, {"outcome": outcome}, replace=True)

    async def note_error(self, batch: str, index: int, reason: str) -> None:
        key = self.key(batch, "errors")
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={str(index): reason.encode()})
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def give_up(self, batch: str, index: int, *, attempts: int, swept: bool) -> None:
        """The item ends without an answer: into the failed list, with the last reason.

        A result already there (a try that finished after all) is kept."""
        raw = await self._redis.hget(self.key(batch, "errors"), str(index))  # type: ignore[misc]
        if raw is not None:
            reason = raw.decode()
        elif swept:
            reason = "the worker checking it stopped"
        else:
            reason = "the check did not finish"
        await self._put(batch, index, {"failed": reason, "attempts": attempts}, replace=False)

    async def _put(self, batch: str, index: int, value: dict[str, Any], *, replace: bool) -> None:
        key = self.key(batch, "results")
        sealed = self._sealer.seal(json.dumps(value).encode(), context=f"{key}#{index}")
        async with self._redis.pipeline(transaction=False) as pipe:
            if replace:
                pipe.hset(key, mapping={str(index): sealed})
            else:
                pipe.hsetnx(key, str(index), sealed)  # type: ignore[arg-type]
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def results(self, batch: str) -> dict[int, dict[str, Any]]:
        key = self.key(batch, "results")
        out: dict[int, dict[str, Any]] = {}
        for field, sealed in (await self._redis.hgetall(key)).items():  # type: ignore[misc]
            plain = self._sealer.open(sealed, context=f"{key}#{int(field)}")
            if plain is not None:
                out[int(field)] = json.loads(plain)
        return out

    async def cancel(self, batch: str) -> None:
        await self._redis.set(self.key(batch, "cancel"), b"1", ex=self._ttl)

    async def cancelled(self, batch: str) -> bool:
        return bool(await self._redis.exists(self.key(batch, "cancel")))


class BatchQueue(RedisQueue):
    """saq's Redis queue; an item that ends without a result goes to its batch's failed list.

    ``finish`` is where saq ends every job: after its last failed try, and in the sweep of
    whichever worker finds a dead worker's job with no tries left."""

    def __init__(self, redis: AnyRedis, store: BatchStore) -> None:
        super().__init__(redis, name=QUEUE_NAME, swept_error_message=_SWEPT)
        self.store = store

    async def submit(
        self, tenant: str, day: date, items: list[str], *, tries: int, heartbeat: int
    ) -> BatchMeta:
        meta = BatchMeta(secrets.token_urlsafe(12), tenant, day, items)
        await self.store.create(meta)
        await asyncio.gather(
            *(
                self.enqueue(
                    ITEM_FUNCTION,
                    key=f"{QUEUE_NAME}{meta.id}.{index}",
                    batch=meta.id,
                    index=index,
                    retries=tries,
                    heartbeat=heartbeat,
                    timeout=0,  # a check has its own deadline; the heartbeat finds dead workers
                    ttl=_JOB_TTL_SECONDS,
                    retry_delay=_RETRY_DELAY,
                    retry_backoff=_RETRY_DELAY_CAP,
                )
                for index in range(len(items))
            )
        )
        return meta

    async def finish(
        self,
        job: Job,
        status: Status,
        *,
        result: Any = None,
        error: str | None = None,
        **kwargs: Any,
    ) -> None:
        await super().finish(job, status, result=result, error=error, **kwargs)
        if status in (Status.FAILED, Status.ABORTED) and job.function == ITEM_FUNCTION:
            params = job.kwargs or {}
            await self.store.give_up(
                str(params["batch"]),
                int(params["index"]),
                attempts=job.attempts,
                swept=error == _SWEPT,
            )

    async def close(self) -> None:
        """Stop listening (saq listens for job updates once something waits on a job); the
        Redis client belongs to whoever made it."""
        if self._pubsub._daemon_task is not None:
            await self._pubsub.close()
        await self._pubsub.pubsub.aclose()  # type: ignore[no-untyped-call]


class _QuietWorker(Worker[Any]):
    # The process's owner handles signals (uvicorn, or `frontdesk worker`): a worker inside
    # the API must not take SIGTERM from the server.
    SIGNALS = []


def batch_worker(
    queue: Queue,
    function: ItemFunction,
    *,
    concurrency: int,
    name: str = "",
    extra: list[ItemFunction] | None = None,
    cron: list[CronJob[Any]] | None = None,
) -> Worker[Any]:
    """A saq worker for batch items (and ``extra`` jobs, named by their qualified names;
    ``cron`` ones scheduled); its id names the host and process (operators, tests)."""
    return _QuietWorker(
        queue,
        functions=[(ITEM_FUNCTION, function), *(extra or [])],
        cron_jobs=cron or [],
        id=f"{socket.gethostname()}-{os.getpid()}{name}",
        concurrency=concurrency,
        # The sweep (which hands a dead worker's job on) runs every second, not every minute.
        timers={"sweep": 1, "abort": 1, "schedule": 1, "worker_info": 10},
        dequeue_timeout=1.0,
    )
