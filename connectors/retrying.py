"""Retry strategies (tenacity) for one upstream call.

Retry only what cannot duplicate a side effect:
- GET/HEAD, DELETE, PUT with If-Match, and conditional creates (If-None-Exist) — safe to
  repeat by HTTP or FHIR semantics;
- anything else only when the request certainly never reached the server (connect errors).
A retry also needs a transient error (`UpstreamError.retryable`).

Waits are exponential with full jitter; a server's Retry-After replaces the jittered wait.
No sleep may cross the call's deadline: when it would, we stop and raise the last error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import tenacity
from tenacity import RetryCallState

from connectors.clock import Clock
from connectors.errors import CircuitOpen, UpstreamError
from connectors.policy import Policy

__all__ = ["Deadline", "build_retrying", "is_retry_safe"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def is_retry_safe(method: str, headers: Mapping[str, str]) -> bool:
    """Can this request be sent twice without a second side effect?"""
    method = method.upper()
    if method in _SAFE_METHODS:
        return True
    lowered = {k.lower() for k in headers}
    if method == "PUT" and "if-match" in lowered:
        return True
    return method == "POST" and "if-none-exist" in lowered


@dataclass(frozen=True)
class Deadline:
    """The instant (on the injected monotonic clock) by which a call must end."""

    at: float
    clock: Clock

    @classmethod
    def after(cls, seconds: float, clock: Clock) -> Deadline:
        return cls(clock.monotonic() + seconds, clock)

    def remaining(self) -> float:
        return self.at - self.clock.monotonic()


class retry_if_safe(tenacity.retry_base):
    def __init__(self, safe: bool) -> None:
        self._safe = safe

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return False
        exc = outcome.exception()
        if not isinstance(exc, UpstreamError) or isinstance(exc, CircuitOpen):
            return False
        return exc.retryable and (self._safe or not exc.request_sent)


class wait_retry_after_or(tenacity.wait.wait_base):
    """The server's Retry-After when it gave one, else the fallback strategy."""

    def __init__(self, fallback: tenacity.wait.wait_base) -> None:
        self._fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(exc, UpstreamError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._fallback(retry_state))


class stop_before_deadline(tenacity.stop.stop_base):
    """Stop when the coming sleep would end at or after the deadline."""

    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.upcoming_sleep >= self._deadline.remaining()


def build_retrying(
    policy: Policy,
    *,
    safe: bool,
    deadline: Deadline,
    clock: Clock,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> tenacity.AsyncRetrying:
    wait = wait_retry_after_or(
        tenacity.wait_random_exponential(
            multiplier=policy.backoff_initial, max=policy.backoff_max, exp_base=2
        )
    )
    return tenacity.AsyncRetrying(
        sleep=clock.sleep,
        stop=tenacity.stop_after_attempt(policy.max_attempts) | stop_before_deadline(deadline),
        wait=wait,
        retry=retry_if_safe(safe),
        before_sleep=before_sleep,
        reraise=True,
    )
