"""Run the checks against one server and collect a `Report`.

    report = await run_kit(KitConfig(base_url, profile=HAPI, mode=Mode.WRITE))

The runner owns the httpx client it talks through; pass `transport=` to reach the server
another way (an ASGI app, a test's defect proxy) — every exchange is recorded either way.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from conformance.checks import all_checks
from conformance.checks.timing import Latency, latencies
from conformance.context import KitConfig, RunContext
from conformance.fixtures import cleanup, discover, load_fixtures
from conformance.model import (
    Check,
    CheckFailed,
    CheckResult,
    CheckSkipped,
    Mode,
    Status,
)
from conformance.recorder import Recorder, RecordingTransport
from conformance.redact import Redactor
from connectors import FhirClient, Policy, UpstreamError

__all__ = ["Report", "run_kit", "select_checks"]

# One attempt per request: a retry would hide exactly the flaky behaviour we look for.
# The breaker must never open: failing checks are expected, the run must go on.
KIT_POLICY = Policy(
    max_attempts=1,
    read_timeout=30.0,
    deadline=60.0,
    breaker_consecutive_failures=1_000_000,
    breaker_min_calls=1_000_000,
)

Progress = Callable[[CheckResult], None]


@dataclass
class Report:
    base_url: str
    vendor: str
    mode: Mode
    run_id: str
    started_at: datetime
    seconds: float
    results: list[CheckResult]
    timing: list[Latency] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)  # fixtures cleanup could not delete
    setup_problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when any error-severity check failed: the exit code and CI follow this."""
        return any(r.blocking for r in self.results)

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        counts["blocking"] = sum(r.blocking for r in self.results)
        return counts


def select_checks(checks: list[Check], only: frozenset[str]) -> list[Check]:
    """Checks whose group or id is in `only` (all when empty)."""
    return [c for c in checks if not only or c.group in only or c.id in only]


async def run_kit(
    config: KitConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    run_id: str | None = None,
) -> Report:
    run_id = run_id or secrets.token_hex(4)
    redactor = Redactor(show_phi=config.show_phi)
    recorder = Recorder(redactor)
    inner = transport if transport is not None else httpx.AsyncHTTPTransport()
    recording = RecordingTransport(inner, recorder)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        plain = None
        auth: httpx.Auth | None = None
        if config.smart is not None:
            # Token requests go through a client of their own (the auth flow must not
            # authenticate its own token request), on the same record.
            plain = await stack.enter_async_context(
                httpx.AsyncClient(transport=_Unclosed(recording), timeout=httpx.Timeout(30.0))
            )
            auth = config.smart.auth(plain, fhir_base_url=config.base_url)
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=recording,
                headers=dict(headers or {}),
                timeout=httpx.Timeout(30.0),
                auth=auth,
            )
        )
        fhir = FhirClient(
            config.base_url,
            http=http,
            policy=KIT_POLICY,
            source="conformance",
            profile=config.profile,
        )
        ctx = RunContext(config, http, fhir, recorder, redactor, run_id, plain=plain)
        checks = select_checks(all_checks(), config.only)
        results: list[CheckResult] = []
        prepared = False
        try:
            for chk in checks:
                if not prepared and chk.group != "capability":
                    await _prepare(ctx)
                    prepared = True
                result = await _run_one(ctx, chk)
                results.append(result)
                if progress is not None:
                    progress(result)
        finally:
            recorder.current_check = "cleanup"
            leftovers = [] if config.keep_fixtures else await cleanup(ctx)
    return Report(
        base_url=config.base_url,
        vendor=config.profile.name,
        mode=config.mode,
        run_id=run_id,
        started_at=started_at,
        seconds=time.perf_counter() - started,
        results=results,
        timing=latencies(recorder.exchanges),
        leftovers=leftovers,
        setup_problems=list(ctx.subjects.problems),
    )


class _Unclosed(httpx.AsyncBaseTransport):
    """A second client's view of a transport another client owns and closes."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)


async def _prepare(ctx: RunContext) -> None:
    ctx.recorder.current_check = "setup"
    if ctx.write:
        await load_fixtures(ctx)
    else:
        await discover(ctx)


async def _run_one(ctx: RunContext, chk: Check) -> CheckResult:
    result = CheckResult(chk.id, chk.group, chk.title, chk.severity, chk.spec_url, Status.PASS)
    ctx.recorder.current_check = chk.id
    started = time.perf_counter()
    if chk.write_only and not ctx.write:
        result.status, result.reason = Status.SKIP, "write mode only (run with --write)"
        return result
    try:
        result.notes = list(await chk.body(ctx) or [])
    except CheckFailed as exc:
        result.status, result.reason = Status.FAIL, str(exc)
    except CheckSkipped as exc:
        result.status, result.reason = Status.SKIP, str(exc)
    except UpstreamError as exc:
        result.status, result.reason = Status.FAIL, str(exc)
    except Exception as exc:  # noqa: BLE001 - one broken probe must not stop the run
        result.status, result.reason = Status.FAIL, f"kit error: {type(exc).__name__}: {exc}"
    result.duration_ms = (time.perf_counter() - started) * 1000.0
    result.exchanges = ctx.recorder.for_check(chk.id)
    result.reason = ctx.redactor.text(result.reason) if result.reason else None
    result.notes = [ctx.redactor.text(n) for n in result.notes]
    return result
