from __future__ import annotations

import httpx
import pytest

from conformance import KitConfig, Mode, Report, run_kit
from connectors import PROFILES


def blocking(report: Report) -> set[str]:
    return {r.id for r in report.results if r.blocking}


def statuses(report: Report) -> dict[str, str]:
    return {r.id: r.status.value for r in report.results}


@pytest.fixture
async def sandbox_report() -> Report:
    """One write-mode run against the in-memory sandbox (no network)."""
    from simulators.fhir_server import create_fhir_app

    transport = httpx.ASGITransport(app=create_fhir_app())
    config = KitConfig("http://sandbox.test/fhir", profile=PROFILES["hapi"], mode=Mode.WRITE)
    return await run_kit(config, transport=transport)
