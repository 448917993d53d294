"""The kit against the real HAPI FHIR JPA servers: everything error-severity passes."""

from __future__ import annotations

import pytest

from conformance import KitConfig, Mode, Status, run_kit
from conformance.checks import all_checks
from conformance.context import TAG_SYSTEM
from conformance.fixtures import delete_tagged
from connectors import PROFILES, FhirClient
from tests.conformance.conftest import blocking, statuses

pytestmark = pytest.mark.hapi

# HAPI declares no $find/$hold/$book and serves no SMART configuration: those checks skip.
NOT_ON_HAPI = {c.id for c in all_checks() if c.group in ("operations", "smart")}


async def test_write_mode_passes_every_check_and_cleans_up(hapi_base_urls):
    base = hapi_base_urls[0]
    report = await run_kit(KitConfig(base, profile=PROFILES["hapi"], mode=Mode.WRITE))
    assert blocking(report) == set()
    skipped = {i for i, s in statuses(report).items() if s == "skip"}
    assert skipped == NOT_ON_HAPI, statuses(report)
    assert sum(s == "pass" for s in statuses(report).values()) >= 40
    assert report.leftovers == []
    assert report.seconds < 20
    async with FhirClient(base) as fhir:
        page = await fhir.search_page("Patient", {"_tag": f"{TAG_SYSTEM}|{report.run_id}"})
    assert page.resources == [], "fixtures were left behind"


async def test_read_only_mode_passes_on_seeded_data(hapi_base_urls):
    base = hapi_base_urls[1]
    # Seed: a write run that keeps its tagged fixtures, then read-only over just those.
    seeded = await run_kit(
        KitConfig(base, profile=PROFILES["hapi"], mode=Mode.WRITE, keep_fixtures=True),
        run_id=None,
    )
    try:
        report = await run_kit(
            KitConfig(
                base,
                profile=PROFILES["hapi"],
                mode=Mode.READ_ONLY,
                scope_tag=f"{TAG_SYSTEM}|{seeded.run_id}",
            )
        )
    finally:
        async with FhirClient(base) as fhir:
            assert await delete_tagged(fhir, seeded.run_id) > 0
    assert blocking(report) == set(), [r.reason for r in report.results if r.blocking]
    by_id = {r.id: r for r in report.results}
    # Read-only sends no writes and skips the write-only checks, nothing else (but what
    # HAPI doesn't offer).
    write_only = {c.id for c in all_checks() if c.write_only}
    assert {i for i, r in by_id.items() if r.status is Status.SKIP} == write_only | NOT_ON_HAPI
    assert sum(r.status is Status.PASS for r in report.results) >= 35
    assert all(e.method == "GET" for r in report.results for e in r.exchanges)
    assert report.seconds < 20


async def test_read_only_mode_on_the_server_as_found(hapi_base_urls):
    """Read-only over whatever EHR B holds: never writes; fails only on bad data."""
    report = await run_kit(
        KitConfig(hapi_base_urls[1], profile=PROFILES["hapi"], mode=Mode.READ_ONLY)
    )
    assert blocking(report) <= {"payloads.r4-valid", "payloads.maps"}
    assert all(e.method == "GET" for r in report.results for e in r.exchanges)
