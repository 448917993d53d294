"""The batch job worker stops on cancel even when a library call swallows the cancellation."""

from __future__ import annotations

import asyncio

from gateway.cache import MemoryCache
from gateway.jobs import JobQueue, JobWorker


class _SwallowingQueue(JobQueue):
    """Like redis-py on Python 3.11: a cancelled read comes back as an ordinary failure."""

    async def job_ids_after(self, seen: int) -> tuple[int, list[str]]:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return seen, []
        return seen, []


async def _noop(job, index):  # pragma: no cover - never reached
    return {}


async def test_worker_honours_a_cancel_swallowed_inside_a_library_call():
    worker = JobWorker(_SwallowingQueue(MemoryCache()), _noop, poll=0.01)
    task = asyncio.create_task(worker.run_forever())
    await asyncio.sleep(0.05)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done
    assert task.cancelled()


async def test_worker_claims_every_item_exactly_once_across_two_workers():
    cache = MemoryCache()
    queue = JobQueue(cache)
    seen: list[int] = []

    async def handler(job, index):
        seen.append(index)
        return {"status": "active"}

    job = await queue.submit("check", "t", {}, [f"item-{i}" for i in range(25)])
    workers = [JobWorker(queue, handler, concurrency=3, poll=0.01) for _ in range(2)]
    await asyncio.gather(*(w.run_once() for w in workers))
    assert sorted(seen) == list(range(25))
    assert all(r is not None for r in await queue.results(job))
