"""$find/$hold/$book: checked where declared (a scheduling double over the sandbox),
skipped with the reason where not (the plain sandbox, like HAPI)."""

from __future__ import annotations

import httpx
import pytest

from conformance import KitConfig, Mode, Report, Status, run_kit
from connectors import PROFILES
from simulators.fhir_server import create_fhir_app
from tests.conformance.conftest import blocking, statuses
from tests.conformance.scheduling_double import SchedulingDefect, SchedulingDouble

BASE = "http://scheduling.test/fhir"
OPERATIONS = {"operations.find", "operations.hold", "operations.book"}

CAUGHT_BY = {
    SchedulingDefect.FIND_OUTSIDE_WINDOW: "operations.find",
    SchedulingDefect.HOLD_NOT_PENDING: "operations.hold",
    SchedulingDefect.BOOK_LEAVES_TIME_FREE: "operations.book",
}


async def run_with_operations(defect: SchedulingDefect | None = None) -> Report:
    double = SchedulingDouble(httpx.ASGITransport(app=create_fhir_app()), BASE, defect)
    config = KitConfig(BASE, profile=PROFILES["hapi"], mode=Mode.WRITE)
    return await run_kit(config, transport=double)


async def test_declared_operations_are_exercised_and_pass():
    report = await run_with_operations()
    assert blocking(report) == set(), [(r.id, r.reason) for r in report.results if r.blocking]
    assert {i: s for i, s in statuses(report).items() if i in OPERATIONS} == dict.fromkeys(
        OPERATIONS, "pass"
    )
    book = next(r for r in report.results if r.id == "operations.book")
    assert "no longer offers that time" in " ".join(book.notes)
    assert report.leftovers == []


@pytest.mark.parametrize("defect", list(SchedulingDefect))
async def test_each_scheduling_defect_fails_exactly_its_check(defect):
    report = await run_with_operations(defect)
    assert blocking(report) == {CAUGHT_BY[defect]}, [
        (r.id, r.reason) for r in report.results if r.blocking
    ]
    assert report.leftovers == []


async def test_undeclared_operations_are_skipped_with_the_reason(sandbox_report):
    skipped = {r.id: r.reason for r in sandbox_report.results if r.id in OPERATIONS}
    assert set(skipped) == OPERATIONS
    assert all(r.status is Status.SKIP for r in sandbox_report.results if r.id in OPERATIONS)
    assert all("not declared in the CapabilityStatement" in (why or "") for why in skipped.values())
