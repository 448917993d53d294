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

# Each defect and the check(s) that must fail: one, except where the defect breaks two
# behaviours (a server ignoring _count pages wrongly too; a resource without a required
# element is both invalid and unmappable; an undeclared create is a missing interaction
# and a missing booking route).
CAUGHT_BY: dict[Defect, set[str]] = {
    Defect.METADATA_WRONG_TYPE: {"capability.metadata"},
    Defect.STU3_VERSION: {"capability.fhir-version"},
    Defect.CAPABILITY_OMITS_PARAM: {"capability.search-params"},
    Defect.CAPABILITY_OMITS_SLOT_UPDATE: {"capability.resources"},
    # The profile needs Appointment create, and it is how the profile books.
    Defect.CAPABILITY_OMITS_APPOINTMENT_CREATE: {
        "capability.resources",
        "capability.booking-route",
    },
    Defect.CAPABILITY_OMITS_SPECIALTY: {"capability.directory"},
    Defect.DROP_NEXT_LINKS: {"search.paging"},
    Defect.REPEAT_ENTRY_ACROSS_PAGES: {"search.paging"},
    Defect.IGNORE_COUNT: {"search.count", "search.paging"},
    Defect.IGNORE_GE_PREFIX: {"search.slot-date-prefixes"},
    Defect.IGNORE_UNKNOWN_PARAMS: {"search.unknown-param"},
    Defect.DROP_SPECIALTY_FILTER: {"directory.practitionerrole-specialty"},
    Defect.IGNORE_LAST_UPDATED: {"incremental.last-updated"},
    Defect.IGNORE_SINCE: {"incremental.history-since"},
    Defect.DROP_TAG_ON_CREATE: {"write.create-read"},
    Defect.IGNORE_IF_NONE_EXIST: {"write.conditional-create"},
    Defect.VREAD_ANSWERS_CURRENT: {"write.version-increase"},
    Defect.STALE_IF_MATCH_OK: {"write.stale-if-match"},
    Defect.STALE_READ_AFTER_DELETE: {"write.delete"},
    Defect.REFUSE_NOSHOW: {"write.appointment-noshow"},
    Defect.ACCEPT_IMPOSSIBLE_STATUS: {"write.appointment-invalid-status"},
    Defect.REFUSE_SLOT_UPDATE: {"write.booking-round-trip"},
    Defect.NOT_FOUND_AS_400: {"errors.unknown-id"},
    Defect.UNKNOWN_TYPE_AS_400: {"errors.unknown-type"},
    Defect.LENIENT_BAD_DATES: {"errors.malformed-request"},
    Defect.ACCEPT_TYPE_MISMATCH: {"errors.type-mismatch"},
    Defect.OUTCOMELESS_ERRORS: {"errors.operation-outcome"},
    Defect.INVALID_RESOURCE: {"payloads.r4-valid"},
    # Invalid FHIR that the mappers cannot use either.
    Defect.COVERAGE_WITHOUT_STATUS: {"payloads.r4-valid", "payloads.maps"},
}

# Each Appointment status move row, and a status in it a server could refuse.
STATUS_MOVES = [
    ("write.appointment-arrived-fulfilled", "arrived"),
    ("write.appointment-arrived-fulfilled", "fulfilled"),
    ("write.appointment-checked-in-fulfilled", "checked-in"),
    ("write.appointment-cancelled", "cancelled"),
]

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
    assert blocking(report) == CAUGHT_BY[defect], [
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


@pytest.mark.parametrize(("check_id", "status"), STATUS_MOVES)
async def test_each_status_move_row_catches_a_server_refusing_its_move(
    hapi_base_urls, check_id, status
):
    proxy = DefectProxy(httpx.AsyncHTTPTransport(), refuse_status=status)
    config = KitConfig(
        hapi_base_urls[0], profile=PROFILES["hapi"], mode=Mode.WRITE, only=frozenset({check_id})
    )
    report = await run_kit(config, transport=proxy)
    assert blocking(report) == {check_id}
    assert report.leftovers == []
