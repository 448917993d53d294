"""Per-payer pacing across every process: a moving window in the shared Redis.

A payer (or its clearinghouse) takes at most so many eligibility requests per period from
one submitter: CAQH CORE leaves the pace to the trading partner agreement, which names it
(``PayerConfig.rate_limit``, e.g. ``20/second``). Gateway replicas (real-time checks) and
batch workers take their turns from one window per payer, kept in Redis by the ``limits``
package (a moving window: never more than N requests in any period), so the pace holds
however many processes run. Batch work may fill only ``batch_share`` of the window; the
rest stays free for the checks a PSR is waiting on. Without Redis (the sandbox) the window
is the process's own. When Redis can't be reached, calls go ahead (fail open): the payer's
own 429s and the connector's retries take over, as for every other Redis outage.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from mappers.model import EligibilityRequest, EligibilityResult

from .logs import get_logger
from .redis_conn import RedisTarget
from .services.payers import PayerPort

__all__ = ["PacedPayer", "Pacer", "limiter_storage", "rate_item"]

log = get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def rate_item(text: str) -> RateLimitItem:
    """``20/second``, ``600/minute``...: ValueError when ``limits`` can't read it."""
    return parse(text)


def limiter_storage(target: RedisTarget | None) -> Storage:
    """The window's storage: the shared Redis of ``target``, else this process's memory."""
    if target is None:
        return MemoryStorage()
    options: dict[str, float | str | bool] = {
        "implementation": "redispy",
        "wrap_exceptions": True,
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
    }
    if target.kind == "sentinel":
        # The window must be read where it is written: the primary, never a replica.
        options["use_replicas"] = False
    storage = storage_from_string(target.limits_uri, **options)
    if not isinstance(storage, Storage):
        raise TypeError("limits returned a synchronous storage for an async URI")
    return storage


async def close_storage(storage: Storage) -> None:
    """Close the Redis client ``limits`` opened (it has no close of its own)."""
    client = getattr(getattr(storage, "bridge", None), "storage", None)
    if client is not None and hasattr(client, "aclose"):
        await client.aclose()


class Pacer:
    """One payer's window, shared by every process that sends it checks.

    Every check takes a turn in the payer's window; a batch check first takes one in the
    batch's own, smaller window (``batch_share`` of the pace), so batch work alone can
    never fill the payer's window. Each window is one atomic step in Redis."""

    def __init__(
        self,
        storage: Storage,
        item: RateLimitItem,
        payer: str,
        *,
        batch_share: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = item
        self._key = payer
        batch_turns = max(1, math.floor(item.amount * batch_share))
        self._batch_item = type(item)(batch_turns, item.multiples, item.namespace)
        self._batch_key = f"{payer}:batch"
        self._sleep = sleep
        self._warned = False

    async def acquire(self, kind: Literal["realtime", "batch"]) -> None:
        """Wait for a turn in the payer's window (as long as it takes: callers bound it)."""
        if kind == "batch":
            await self._turn(self._batch_item, self._batch_key)
        await self._turn(self._item, self._key)

    async def _turn(self, item: RateLimitItem, key: str) -> None:
        while True:
            try:
                if await self._limiter.hit(item, key):
                    self._warned = False
                    return
                stats = await self._limiter.get_window_stats(item, key)
            except StorageError as exc:
                if not self._warned:
                    log.warning("pacing_unavailable", error=type(exc.storage_error).__name__)
                    self._warned = True
                return
            # Until the oldest turn leaves the window; the jitter keeps waiters from all
            # asking in the same millisecond.
            await self._sleep(max(stats.reset_time - time.time(), 0) + random.uniform(0, 0.01))


class PacedPayer:
    """A payer port that takes a turn in the payer's window before every check."""

    def __init__(self, port: PayerPort, pacer: Pacer, kind: Literal["realtime", "batch"]) -> None:
        self.origin: Literal["x12", "fhir"] = port.origin
        self._port = port
        self._pacer = pacer
        self._kind: Literal["realtime", "batch"] = kind

    async def check(self, request: EligibilityRequest) -> EligibilityResult:
        await self._pacer.acquire(self._kind)
        return await self._port.check(request)
