"""Each defect, injected between the kit and real HAPI, fails exactly the check named for it."""

from __future__ import annotations

import httpx
import pytest

from conformance import KitConfig, Mode, run_kit
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
}


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
    class NoDefect(DefectProxy):
        def _rewrite_body(self, request, body):
            return None

    proxy = NoDefect(httpx.AsyncHTTPTransport(), Defect.DROP_NEXT_LINKS)
    config = KitConfig(hapi_base_urls[0], profile=PROFILES["hapi"], mode=Mode.WRITE)
    assert blocking(await run_kit(config, transport=proxy)) == set()
