"""`Policy`: how patiently and how hard the connectors talk to one source.

A frozen value object with named defaults, passed in by the caller (the gateway builds one
per source from its settings); connectors never read settings themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["Policy"]


@dataclass(frozen=True, kw_only=True)
class Policy:
    # Per network step (httpx semantics) ...
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    write_timeout: float = 10.0
    pool_timeout: float = 5.0
    # ... and for the whole call, every retry and backoff sleep included.
    deadline: float = 20.0

    # Retries: exponential backoff with full jitter, sleep drawn from
    # [0, min(backoff_max, backoff_initial * 2**(attempt-1))].
    max_attempts: int = 4
    backoff_initial: float = 0.2
    backoff_max: float = 5.0

    # Circuit breaker: open after `breaker_consecutive_failures` failures in a row, or when
    # at least `breaker_failure_ratio` of the last `breaker_window` calls failed (once the
    # window holds `breaker_min_calls`); after `breaker_open_seconds` one probe is let through.
    breaker_consecutive_failures: int = 5
    breaker_failure_ratio: float = 0.5
    breaker_window: int = 20
    breaker_min_calls: int = 10
    breaker_open_seconds: float = 30.0

    # Requests in flight to this source at once.
    max_concurrency: int = 10

    # Search paging guards.
    max_pages: int = 50
    max_resources: int = 5000

    # Largest response body accepted, in bytes.
    max_body_bytes: int = 10 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.deadline <= 0:
            raise ValueError("deadline must be positive")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if not 0 < self.breaker_failure_ratio <= 1:
            raise ValueError("breaker_failure_ratio must be in (0, 1]")

    def with_(self, **changes: object) -> Policy:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]
