"""Time as a port: the deadline, backoff, breaker and token cache all read it from here,
so tests inject a fake that jumps instead of sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines, expiries)."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch (JWT claims, Retry-After HTTP-dates)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
