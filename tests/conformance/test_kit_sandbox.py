"""The kit against the in-memory sandbox FHIR server (ASGI, no network)."""

from __future__ import annotations

from tests.conformance.conftest import blocking


async def test_sandbox_passes_every_error_severity_check(sandbox_report):
    failures = [(r.id, r.reason) for r in sandbox_report.results if r.blocking]
    assert blocking(sandbox_report) == set(), failures
    assert sandbox_report.leftovers == []
