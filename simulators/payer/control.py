"""Runtime knobs of the payer simulator: latency, outages, throttling, counters.

One `SimulatorControl` lives on `app.state.control`. Tests flip its fields between
requests ("the payer is down now"); docker-compose users flip them through
`POST /_sim/control`. Randomness (the failure rate) comes from a seeded
`random.Random`, so a run with the same seed fails the same requests.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Fault", "SimulatorControl", "busiest_window"]

# Arrival times kept for pacing checks (the newest; a simulator must not grow without bound).
_ARRIVALS = 20_000

Sleep = Callable[[float], Awaitable[None]]

# What the simulator does instead of answering: an HTTP 503, a dropped connection,
# a 429 with Retry-After, or a well-formed answer saying "payer unable to respond" (AAA 42).
Fault = Literal["unavailable", "drop", "throttled", "aaa42"]

_SETTABLE = {
    "latency": float,
    "failure_rate": float,
    "rate_limit_every": int,
    "retry_after": int,
    "down": bool,
    "drop": bool,
    "throttled": bool,
    "aaa42": bool,
}


@dataclass
class SimulatorControl:
    latency: float = 0.0
    # Fraction (0-1) of eligibility requests answered 503, drawn from the seeded rng.
    failure_rate: float = 0.0
    # Every Nth eligibility request is answered 429 (0 = never).
    rate_limit_every: int = 0
    retry_after: int = 1
    down: bool = False
    drop: bool = False
    throttled: bool = False
    aaa42: bool = False
    seed: int = 0
    sleep: Sleep = asyncio.sleep
    requests: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    # Wall-clock arrival of each eligibility request: is a submitter keeping its pace?
    arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=_ARRIVALS))
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def received(self, route: str) -> None:
        """Count one upstream request (before any fault), for single-flight assertions."""
        self.requests += 1
        self.by_route[route] += 1
        self.arrivals.append(time.time())

    def fault(self) -> Fault | None:
        """The fault to inject for the request just counted, if any."""
        chosen: Fault | None = None
        if self.drop:
            chosen = "drop"
        elif self.down:
            chosen = "unavailable"
        elif self.throttled or (
            self.rate_limit_every > 0 and self.requests % self.rate_limit_every == 0
        ):
            chosen = "throttled"
        elif self.failure_rate > 0 and self.rng.random() < self.failure_rate:
            chosen = "unavailable"
        elif self.aaa42:
            chosen = "aaa42"
        if chosen is not None:
            self.faults[chosen] += 1
        return chosen

    async def delay(self) -> None:
        if self.latency > 0:
            await self.sleep(self.latency)

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply knob changes from `POST /_sim/control`; unknown or ill-typed ones raise."""
        for name, value in changes.items():
            kind = _SETTABLE.get(name)
            if kind is None:
                raise ValueError(f"unknown control {name!r}")
            if kind is bool and not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
            if kind is not bool and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError(f"{name} must be a number")
            if kind is not bool and value < 0:
                raise ValueError(f"{name} must not be negative")
            setattr(self, name, kind(value))

    def reset(self) -> None:
        """Back to a healthy payer with zeroed counters (the seed's rng restarts too)."""
        self.latency = self.failure_rate = 0.0
        self.rate_limit_every = 0
        self.retry_after = 1
        self.down = self.drop = self.throttled = self.aaa42 = False
        self.requests = 0
        self.by_route.clear()
        self.faults.clear()
        self.arrivals.clear()
        self.rng = random.Random(self.seed)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_route": dict(self.by_route),
            "faults": dict(self.faults),
            "settings": {name: getattr(self, name) for name in _SETTABLE},
            "arrivals": list(self.arrivals),
        }


def busiest_window(arrivals: list[float], seconds: float = 1.0) -> int:
    """The most requests that arrived within any ``seconds`` (a pace's ceiling)."""
    ordered = sorted(arrivals)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= seconds:
            first += 1
        most = max(most, last - first + 1)
    return most
