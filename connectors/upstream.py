"""One guarded exchange with one upstream source: the seam every connector call goes through.

Per call: a deadline covering all attempts and sleeps; per attempt: the source's
concurrency limit, its circuit breaker, httpx timeouts capped by what is left of the
deadline, a size-capped body read, error translation (`connectors.errors`), a metrics
event. Retries between attempts follow `connectors.retrying`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from connectors.breaker import BreakerSnapshot, CircuitBreaker, ConcurrencyLimit, LimitSnapshot
from connectors.clock import Clock, SystemClock
from connectors.errors import (
    BodyTooLarge,
    CircuitOpen,
    ServerError,
    Unavailable,
    UpstreamError,
    UpstreamTimeout,
    error_for_response,
    error_for_transport,
)
from connectors.metrics import MetricsHook, NullMetrics, RequestObserved, status_class
from connectors.policy import Policy
from connectors.retrying import Deadline, build_retrying, is_retry_safe

__all__ = ["Call", "SourceHealth", "Upstream", "UpstreamStats"]

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    url_template: str  # e.g. "/Patient/{id}": no ids, no query values
    interaction: str
    resource_type: str = ""
    params: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None
    # True for POSTs known to have no side effect (e.g. $find, an X12 270 inquiry).
    idempotent: bool = False


@dataclass
class UpstreamStats:
    calls: int = 0
    attempts: int = 0
    retries: int = 0
    failures: int = 0


@dataclass(frozen=True)
class SourceHealth:
    source: str
    breaker: BreakerSnapshot
    concurrency: LimitSnapshot
    stats: UpstreamStats


# Outcomes that say the source is unhealthy; 4xx answers mean it is up and talking.
_BREAKER_FAILURES = (Unavailable, UpstreamTimeout, ServerError)


class Upstream:
    def __init__(
        self,
        source: str,
        http: httpx.AsyncClient,
        *,
        auth: httpx.Auth | None = None,
        policy: Policy | None = None,
        clock: Clock | None = None,
        breaker: CircuitBreaker | None = None,
        limit: ConcurrencyLimit | None = None,
        metrics: MetricsHook | None = None,
    ) -> None:
        self.source = source
        self.http = http
        self.auth = auth
        self.policy = policy or Policy()
        self.clock = clock or SystemClock()
        self.breaker = breaker or CircuitBreaker(self.policy, clock=self.clock)
        self.limit = limit or ConcurrencyLimit(self.policy.max_concurrency)
        self.metrics = metrics or NullMetrics()
        self.stats = UpstreamStats()

    def health(self) -> SourceHealth:
        return SourceHealth(
            source=self.source,
            breaker=self.breaker.snapshot(),
            concurrency=self.limit.snapshot(),
            stats=UpstreamStats(**vars(self.stats)),
        )

    async def call(
        self,
        call: Call,
        parse: Callable[[httpx.Response, bytes], T],
        *,
        deadline: float | None = None,
    ) -> T:
        """Run `call` under the policy and return `parse(response, body)` of a 2xx/3xx answer."""
        limit = Deadline.after(
            deadline if deadline is not None else self.policy.deadline, self.clock
        )
        safe = call.idempotent or is_retry_safe(call.method, call.headers)
        retrying = build_retrying(self.policy, safe=safe, deadline=limit, clock=self.clock)
        self.stats.calls += 1
        attempt = 0
        try:
            async for attempt_manager in retrying:
                with attempt_manager:
                    attempt += 1
                    if attempt > 1:
                        self.stats.retries += 1
                    result = await self._attempt(call, parse, limit, attempt)
        except UpstreamError:
            self.stats.failures += 1
            raise
        return result

    async def _attempt(
        self, call: Call, parse: Callable[[httpx.Response, bytes], T], limit: Deadline, attempt: int
    ) -> T:
        remaining = limit.remaining()
        if remaining <= 0:
            raise self._error(UpstreamTimeout, call, "deadline exceeded", request_sent=False)
        if not await self.limit.acquire(remaining):
            raise self._error(
                UpstreamTimeout, call, "no connection slot before the deadline", request_sent=False
            )
        try:
            if not self.breaker.allow():
                raise self._error(CircuitOpen, call, "circuit open", request_sent=False)
            self.stats.attempts += 1
            started = self.clock.monotonic()
            status: int | None = None
            try:
                status, result = await self._exchange(call, parse, limit.remaining())
            except UpstreamError as exc:
                status = exc.status
                self._record(exc)
                raise
            except BaseException:
                # Cancelled (e.g. the caller's own timeout): no verdict on the source's health.
                self.breaker.record_abandoned()
                raise
            else:
                self.breaker.record_success()
                return result
            finally:
                self.metrics.request_observed(
                    RequestObserved(
                        source=self.source,
                        interaction=call.interaction,
                        resource_type=call.resource_type,
                        status_class=status_class(status),
                        latency=self.clock.monotonic() - started,
                        attempt=attempt,
                    )
                )
        finally:
            self.limit.release()

    def _record(self, exc: UpstreamError) -> None:
        if isinstance(exc, _BREAKER_FAILURES):
            self.breaker.record_failure()
        else:
            self.breaker.record_success()

    async def _exchange(
        self, call: Call, parse: Callable[[httpx.Response, bytes], T], remaining: float
    ) -> tuple[int, T]:
        p = self.policy
        timeout = httpx.Timeout(
            connect=min(p.connect_timeout, remaining),
            read=min(p.read_timeout, remaining),
            write=min(p.write_timeout, remaining),
            pool=min(p.pool_timeout, remaining),
        )
        request = self.http.build_request(
            call.method,
            call.url,
            params=list(call.params) or None,
            headers=dict(call.headers),
            content=call.content,
            timeout=timeout,
        )
        auth: Any = self.auth if self.auth is not None else httpx.USE_CLIENT_DEFAULT
        headers_seen = False
        try:
            # httpx timeouts bound each network step; this bounds the whole attempt. It runs
            # on the event loop's clock: with the SystemClock, the same time as the deadline.
            async with asyncio.timeout(remaining):
                response = await self.http.send(request, auth=auth, stream=True)
                headers_seen = True
                try:
                    body = await self._read_body(call, response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise self._error(UpstreamTimeout, call, "deadline exceeded") from None
        except httpx.HTTPError as exc:
            raise error_for_transport(
                exc,
                source=self.source,
                method=call.method,
                url_template=call.url_template,
                body_started=headers_seen,
            ) from None
        if response.status_code >= 400:
            raise error_for_response(
                response,
                body,
                source=self.source,
                method=call.method,
                url_template=call.url_template,
                now=self.clock.wall(),
            )
        return response.status_code, parse(response, body)

    async def _read_body(self, call: Call, response: httpx.Response) -> bytes:
        cap = self.policy.max_body_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise self._error(
                BodyTooLarge, call, "body over the size limit", status=response.status_code
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise self._error(
                    BodyTooLarge, call, "body over the size limit", status=response.status_code
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _error(
        self, cls: type[UpstreamError], call: Call, message: str, **kw: Any
    ) -> UpstreamError:
        return cls(
            message, source=self.source, method=call.method, url_template=call.url_template, **kw
        )
