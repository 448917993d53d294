"""A job queue over the Cache port (Redis in production): several workers share each job.

Layout (plain keys: job ids are random, items are opaque gateway ids in values only):

- ``jobs:seq``              incremented per job; ``jobs:n:<n>`` holds the n-th job's id;
- ``job:<id>:meta``         the job as JSON (kind, tenant, parameters, items);
- ``job:<id>:cursor``       incremented to claim the next item: every item goes to exactly
                            one worker, whichever process it runs in;
- ``job:<id>:result:<i>``   the outcome of item i (JSON); ``job:<id>:done`` counts them.

A worker that dies mid-item loses that item (its result never appears); the job's
progress shows it as not done. Jobs expire after ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .cache import Cache
from .logs import get_logger

__all__ = ["Job", "JobQueue", "JobWorker"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    tenant: str
    params: dict[str, Any]
    items: list[str]


class JobQueue:
    def __init__(self, cache: Cache, *, prefix: str = "fd", ttl: float = 7 * 86_400) -> None:
        self._cache = cache
        self._prefix = prefix
        self._ttl = ttl

    def _k(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    async def submit(self, kind: str, tenant: str, params: dict[str, Any], items: list[str]) -> Job:
        job = Job(secrets.token_urlsafe(12), kind, tenant, params, items)
        meta = {"kind": kind, "tenant": tenant, "params": params, "items": items}
        await self._cache.set(self._k("job", job.id, "meta"), json.dumps(meta).encode(), self._ttl)
        n = await self._cache.incr(self._k("jobs", "seq"))
        await self._cache.set(self._k("jobs", "n", str(n)), job.id.encode(), self._ttl)
        return job

    async def get(self, job_id: str) -> Job | None:
        raw = await self._cache.get(self._k("job", job_id, "meta"))
        if raw is None:
            return None
        meta = json.loads(raw)
        return Job(job_id, meta["kind"], meta["tenant"], meta["params"], meta["items"])

    async def claim(self, job: Job) -> int | None:
        """The index of an unclaimed item of ``job``, or None when all are taken."""
        index = await self._cache.incr(self._k("job", job.id, "cursor")) - 1
        return index if 0 <= index < len(job.items) else None

    async def record(self, job: Job, index: int, outcome: dict[str, Any]) -> None:
        key = self._k("job", job.id, "result", str(index))
        await self._cache.set(key, json.dumps(outcome).encode(), self._ttl)
        await self._cache.incr(self._k("job", job.id, "done"))

    async def results(self, job: Job) -> list[dict[str, Any] | None]:
        out: list[dict[str, Any] | None] = []
        for i in range(len(job.items)):
            raw = await self._cache.get(self._k("job", job.id, "result", str(i)))
            out.append(json.loads(raw) if raw is not None else None)
        return out

    async def job_ids_after(self, seen: int) -> tuple[int, list[str]]:
        """Ids of jobs submitted after the ``seen``-th; the new high-water mark."""
        raw = await self._cache.get(self._k("jobs", "seq"))
        last = int(raw or b"0")
        ids: list[str] = []
        for n in range(seen + 1, last + 1):
            job_id = await self._cache.get(self._k("jobs", "n", str(n)))
            if job_id is not None:
                ids.append(job_id.decode())
        return last, ids


Handler = Callable[[Job, int], Awaitable[dict[str, Any]]]


class JobWorker:
    """Polls for jobs and works their items, ``concurrency`` at a time."""

    def __init__(
        self, queue: JobQueue, handler: Handler, *, concurrency: int = 8, poll: float = 0.5
    ) -> None:
        self._queue = queue
        self._handler = handler
        self._concurrency = concurrency
        self._poll = poll
        self._seen = 0
        self._open: list[Job] = []

    async def run_forever(self) -> None:
        me = asyncio.current_task()
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a worker must outlive one bad round
                log.warning("job_worker_error", error=type(exc).__name__)
            # A cancel that landed inside a library call can be swallowed there (redis-py
            # turns a cancelled read into a timeout on 3.11); honour it here all the same.
            if me is not None and me.cancelling():
                raise asyncio.CancelledError
            await asyncio.sleep(self._poll)

    async def run_once(self) -> None:
        """Pick up new jobs and work every open job until its items are all claimed."""
        self._seen, ids = await self._queue.job_ids_after(self._seen)
        for job_id in ids:
            job = await self._queue.get(job_id)
            if job is not None:
                self._open.append(job)
        while self._open:
            job = self._open[0]
            await asyncio.gather(*(self._drain(job) for _ in range(self._concurrency)))
            self._open.pop(0)

    async def _drain(self, job: Job) -> None:
        while (index := await self._queue.claim(job)) is not None:
            try:
                outcome = await self._handler(job, index)
            except Exception as exc:  # noqa: BLE001 - one item never sinks the job
                outcome = {"status": "error", "reasons": [f"check failed: {type(exc).__name__}"]}
            await self._queue.record(job, index, outcome)
