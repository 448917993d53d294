"""An in-process fault-injecting proxy: an httpx transport in front of a real one.

Each request draws a fault from a seeded plan; the faults are the ones networks and
overloaded servers really produce:

- latency: wait, then forward;
- reset-before-send: raise ConnectError without forwarding (the server never saw it);
- reset-after-send: forward, let the server act, then raise ReadError / ReadTimeout
  (the client cannot tell whether the write happened);
- 503 burst: answer the next few requests with 503 + Retry-After without forwarding;
- truncated body: forward, then cut the response body short mid-stream.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class FaultPlan:
    latency: float = 0.10
    max_latency: float = 0.25
    reset_before_send: float = 0.08
    reset_after_send: float = 0.08
    burst_503: float = 0.03
    burst_length: int = 3
    retry_after: str = "1"
    truncated_body: float = 0.06


class _Truncated(httpx.AsyncByteStream):
    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._body[: len(self._body) // 2]
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )


class FaultTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, plan: FaultPlan, *, seed: int = 7) -> None:
        self._inner = inner
        self._plan = plan
        self._rng = random.Random(seed)
        self._burst_left = 0
        self.injected: Counter[str] = Counter()
        self.forwarded = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        plan = self._plan
        if self._burst_left > 0:
            self._burst_left -= 1
            return self._unavailable()
        roll = self._rng.random()
        if roll < plan.burst_503:
            self._burst_left = plan.burst_length - 1
            return self._unavailable()
        roll -= plan.burst_503
        if roll < plan.reset_before_send:
            self.injected["reset_before_send"] += 1
            raise httpx.ConnectError("connection reset (injected)")
        roll -= plan.reset_before_send
        if roll < plan.latency:
            self.injected["latency"] += 1
            await asyncio.sleep(self._rng.uniform(0, plan.max_latency))
            return await self._forward(request)
        roll -= plan.latency
        if roll < plan.reset_after_send:
            self.injected["reset_after_send"] += 1
            response = await self._forward(request)
            await response.aread()
            await response.aclose()
            exc = httpx.ReadError if self._rng.random() < 0.5 else httpx.ReadTimeout
            raise exc("connection lost after send (injected)")
        roll -= plan.reset_after_send
        if roll < plan.truncated_body:
            self.injected["truncated_body"] += 1
            response = await self._forward(request)
            # Raw bytes, still content-encoded, so the cut is what the wire would deliver.
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
            return httpx.Response(
                response.status_code, headers=response.headers, stream=_Truncated(raw)
            )
        return await self._forward(request)

    async def _forward(self, request: httpx.Request) -> httpx.Response:
        self.forwarded += 1
        return await self._inner.handle_async_request(request)

    def _unavailable(self) -> httpx.Response:
        self.injected["503_retry_after"] += 1
        return httpx.Response(503, headers={"Retry-After": self._plan.retry_after})

    async def aclose(self) -> None:
        await self._inner.aclose()
