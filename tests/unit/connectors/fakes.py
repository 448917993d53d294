"""Test doubles for connectors: a clock that jumps, and a scripted MockTransport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from connectors import FhirClient, Policy

BASE = "https://ehr.example.org/fhir"


class FakeClock:
    """Monotonic and wall time that move only when someone sleeps or calls advance()."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fhir(
    status: int = 200, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(
        status,
        content=content,
        headers={"Content-Type": "application/fhir+json", **(headers or {})},
    )


def patient(pid: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid}


def outcome(diagnostics: str, code: str = "invalid") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


class Script:
    """A MockTransport handler answering from a list of responses/exceptions, recording requests."""

    def __init__(
        self, *steps: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]
    ) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)


FAST = Policy(max_attempts=4, backoff_initial=0.5, backoff_max=4.0, deadline=30.0)


def make_client(
    handler: Callable[[httpx.Request], Any],
    *,
    clock: FakeClock | None = None,
    policy: Policy = FAST,
    **kw: Any,
) -> FhirClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return FhirClient(
        BASE, http=http, policy=policy, clock=clock or FakeClock(), source="ehr-a", **kw
    )
