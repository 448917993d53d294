"""Seed one FHIR server over HTTP: the work behind ``frontdesk seed``."""

from __future__ import annotations

import asyncio
import time
from datetime import date

from connectors import FhirClient, Policy, UpstreamError
from simulators.seed.generator import RESOURCE_ORDER, build_bundles
from simulators.seed.loader import SeedReport, load
from simulators.seed.people import DEFAULT_SEED

__all__ = ["format_report", "seed_server", "wait_until_up"]

# A 500-entry transaction takes HAPI seconds, not milliseconds; and a transaction is
# never retried (the connector refuses to), so one attempt with room to finish.
# The breaker would fail fast while waiting for a booting server: keep it out of the way.
SEED_POLICY = Policy(
    read_timeout=120.0,
    write_timeout=60.0,
    deadline=180.0,
    max_attempts=1,
    breaker_consecutive_failures=1_000_000,
    breaker_min_calls=1_000_000,
)


async def seed_server(
    base_url: str,
    profile: str,
    *,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    wait_seconds: float = 0.0,
) -> SeedReport:
    """Build and load one profile; with `wait_seconds`, first wait for GET /metadata."""
    bundles = build_bundles(profile, seed=seed, today=today, base_url=base_url)
    async with FhirClient(base_url, policy=SEED_POLICY, source=profile) as fhir:
        if wait_seconds > 0:
            await wait_until_up(fhir, wait_seconds)
        return await load(fhir, bundles)


async def wait_until_up(fhir: FhirClient, seconds: float, *, interval: float = 2.0) -> None:
    """Poll the CapabilityStatement until the server answers (a JVM takes its time)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            await fhir.capabilities()
            return
        except UpstreamError:
            if time.monotonic() + interval > deadline:
                raise
            await asyncio.sleep(interval)


def format_report(report: SeedReport) -> str:
    """One line per resource type: sent, created, updated, unchanged."""
    width = max(len(t) for t in RESOURCE_ORDER)
    lines = [f"{'type':<{width}}  {'sent':>5}  {'created':>7}  {'updated':>7}  {'unchanged':>9}"]
    for resource_type in RESOURCE_ORDER:
        if report.counts[resource_type]:
            lines.append(
                f"{resource_type:<{width}}  {report.counts[resource_type]:>5}  "
                f"{report.created[resource_type]:>7}  {report.updated[resource_type]:>7}  "
                f"{report.unchanged[resource_type]:>9}"
            )
    lines.append(
        f"{'total':<{width}}  {report.total:>5}  {report.created.total():>7}  "
        f"{report.updated.total():>7}  {report.unchanged.total():>9}"
        f"   ({report.bundles} transactions, {report.seconds:.1f}s)"
    )
    return "\n".join(lines)
