"""Per-source circuit breaker and concurrency limit, both observable for /readyz and metrics.

closed ──(N consecutive failures, or failure ratio over the window)──> open
open ──(open_seconds elapsed)──> half_open: one probe goes through, the rest are refused
half_open ──probe succeeds──> closed;  ──probe fails──> open again
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from connectors.clock import Clock, SystemClock
from connectors.policy import Policy

__all__ = ["BreakerSnapshot", "BreakerState", "CircuitBreaker", "ConcurrencyLimit"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerSnapshot:
    state: BreakerState
    consecutive_failures: int
    window_failures: int
    window_calls: int
    times_opened: int
    rejected: int


class CircuitBreaker:
    def __init__(self, policy: Policy | None = None, *, clock: Clock | None = None) -> None:
        self._policy = policy or Policy()
        self._clock = clock or SystemClock()
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._window: deque[bool] = deque(maxlen=self._policy.breaker_window)
        self._opened_at = 0.0
        self._probe_in_flight = False
        self._times_opened = 0
        self._rejected = 0

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooled_down():
            return BreakerState.HALF_OPEN
        return self._state

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(
            state=self.state,
            consecutive_failures=self._consecutive,
            window_failures=sum(1 for ok in self._window if not ok),
            window_calls=len(self._window),
            times_opened=self._times_opened,
            rejected=self._rejected,
        )

    def allow(self) -> bool:
        """May a request go now? In half-open state only one probe is admitted."""
        if self._state is BreakerState.OPEN:
            if not self._cooled_down():
                self._rejected += 1
                return False
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = False
        if self._state is BreakerState.HALF_OPEN:
            if self._probe_in_flight:
                self._rejected += 1
                return False
            self._probe_in_flight = True
        return True

    def record_success(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._close()
            return
        self._consecutive = 0
        self._window.append(True)

    def record_abandoned(self) -> None:
        """The admitted request ended with no verdict (cancelled): free the probe slot."""
        if self._state is BreakerState.HALF_OPEN:
            self._probe_in_flight = False

    def record_failure(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return
        self._consecutive += 1
        self._window.append(False)
        if self._should_open():
            self._open()

    def _should_open(self) -> bool:
        p = self._policy
        if self._consecutive >= p.breaker_consecutive_failures:
            return True
        if len(self._window) < p.breaker_min_calls:
            return False
        failures = sum(1 for ok in self._window if not ok)
        return failures / len(self._window) >= p.breaker_failure_ratio

    def _cooled_down(self) -> bool:
        return self._clock.monotonic() - self._opened_at >= self._policy.breaker_open_seconds

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock.monotonic()
        self._probe_in_flight = False
        self._times_opened += 1

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._window.clear()
        self._probe_in_flight = False


@dataclass(frozen=True)
class LimitSnapshot:
    limit: int
    in_flight: int
    waiting: int


class ConcurrencyLimit:
    """At most `limit` requests in flight to one source; the rest queue."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._sem = asyncio.Semaphore(limit)
        self.in_flight = 0
        self.waiting = 0
        self.peak = 0

    async def acquire(self, within: float) -> bool:
        """Wait at most `within` seconds for a place; False when none came free."""
        self.waiting += 1
        try:
            async with asyncio.timeout(max(within, 0.0)):
                await self._sem.acquire()
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        return True

    def release(self) -> None:
        self.in_flight -= 1
        self._sem.release()

    def snapshot(self) -> LimitSnapshot:
        return LimitSnapshot(limit=self.limit, in_flight=self.in_flight, waiting=self.waiting)
