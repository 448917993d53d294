"""Each defect, injected between the kit and real HAPI, fails exactly the check named for it."""

from __future__ import annotations

import httpx
import pytest

from conformance import KitConfig, Mode, run_kit
from conformance.checks import directory, incremental, search
from connectors import PROFILES
from tests.conformance.conftest import blocking
from tests.conformance.defect_proxy import Defect, DefectProxy

pytestmark = pytest.mark.hapi

CAUGHT_BY = {
    Defect.DROP_NEXT_LINKS: "search.paging",
    Defect.REPEAT_ENTRY_ACROSS_PAGES: "search.paging",
    Defect.IGNORE_GE_PREFIX: "search.slot-date-prefixes",
    Defect.STALE_IF_MATCH_OK: "write.stale-if-match",
    Defect.INVALID_RESOURCE: "payloads.r4-valid",
    Defect.CAPABILITY_OMITS_PARAM: "capability.search-params",
    Defect.IGNORE_IF_NONE_EXIST: "write.conditional-create",
    Defect.ACCEPT_IMPOSSIBLE_STATUS: "write.appointment-invalid-status",
    Defect.REFUSE_NOSHOW: "write.appointment-noshow",
    Defect.OUTCOMELESS_ERRORS: "errors.operation-outcome",
    Defect.DROP_SPECIALTY_FILTER: "directory.practitionerrole-specialty",
    Defect.CAPABILITY_OMITS_SPECIALTY: "capability.directory",
    Defect.IGNORE_LAST_UPDATED: "incremental.last-updated",
    Defect.IGNORE_SINCE: "incremental.history-since",
}

# Every table-driven search row, and each parameter it is about.
SEARCH_ROWS = [
    pytest.param(case.id, case.resource, name, id=f"{case.id}:{name}")
    for case in [*search.CASES, *directory.CASES, *incremental.CASES]
    for name in case.parameters
]


@pytest.mark.parametrize("defect", list(Defect))
async def test_defect_fails_exactly_its_check(hapi_base_urls, defect):
    proxy = DefectProxy(httpx.AsyncHTTPTransport(), defect)
    config = KitConfig(hapi_base_urls[0], profile=PROFILES["hapi"], mode=Mode.WRITE)
    report = await run_kit(config, transport=proxy)
    assert blocking(report) == {CAUGHT_BY[defect]}, [
        (r.id, r.reason) for r in report.results if r.blocking
    ]
    assert report.leftovers == []


async def test_without_a_defect_the_proxy_is_transparent(hapi_base_urls):
    proxy = DefectProxy(httpx.AsyncHTTPTransport())
    config = KitConfig(hapi_base_urls[0], profile=PROFILES["hapi"], mode=Mode.WRITE)
    assert blocking(await run_kit(config, transport=proxy)) == set()


@pytest.mark.parametrize(("check_id", "resource_type", "parameter"), SEARCH_ROWS)
async def test_each_search_row_catches_a_server_ignoring_its_parameter(
    hapi_base_urls, check_id, resource_type, parameter
):
    proxy = DefectProxy(httpx.AsyncHTTPTransport(), ignore=(resource_type, parameter))
    config = KitConfig(
        hapi_base_urls[0], profile=PROFILES["hapi"], mode=Mode.WRITE, only=frozenset({check_id})
    )
    report = await run_kit(config, transport=proxy)
    assert blocking(report) == {check_id}
    assert report.leftovers == []
