"""Seeding the two real HAPI FHIR JPA servers: counts, idempotence, per-EHR ids."""

from __future__ import annotations

from collections import Counter
from datetime import date

import httpx
import pytest

from simulators.seed import RESOURCE_ORDER, build_resources
from simulators.seed.run import seed_server

pytestmark = pytest.mark.hapi

TODAY = date(2026, 3, 2)


async def server_counts(base_url: str) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=30) as http:
        counts = {}
        for resource_type in RESOURCE_ORDER:
            # no-cache: HAPI would otherwise reuse a count cached for up to 60 s.
            response = await http.get(
                f"{base_url}/{resource_type}",
                params={"_summary": "count"},
                headers={"Accept": "application/fhir+json", "Cache-Control": "no-cache"},
            )
            response.raise_for_status()
            counts[resource_type] = response.json()["total"]
        return counts


@pytest.mark.parametrize("profile", ["ehr-a", "ehr-b"])
async def test_seed_twice_gives_same_counts_and_creates_nothing_the_second_time(
    hapi_base_urls: tuple[str, str], profile: str
) -> None:
    base_url = dict(zip(["ehr-a", "ehr-b"], hapi_base_urls, strict=True))[profile]
    expected = Counter(r["resourceType"] for r in build_resources(profile, today=TODAY))

    first = await seed_server(base_url, profile, today=TODAY)
    after_first = await server_counts(base_url)
    second = await seed_server(base_url, profile, today=TODAY)
    after_second = await server_counts(base_url)

    assert first.counts == expected
    assert second.created.total() == 0 and second.updated.total() == 0
    assert second.unchanged == expected
    assert after_second == after_first
    # Other tests share these servers, so they may hold more than the seed.
    assert all(after_first[t] >= n for t, n in expected.items())


async def test_patient_p_1001_is_a_different_person_in_each_ehr(
    hapi_base_urls: tuple[str, str],
) -> None:
    base_a, base_b = hapi_base_urls
    for base_url, profile in ((base_a, "ehr-a"), (base_b, "ehr-b")):
        await seed_server(base_url, profile, today=TODAY)
    async with httpx.AsyncClient(timeout=30) as http:
        a = (await http.get(f"{base_a}/Patient/p-1001")).json()
        b = (await http.get(f"{base_b}/Patient/p-1001")).json()
    assert a["identifier"][0]["system"] != b["identifier"][0]["system"]
    assert (a["name"][0]["family"], a["birthDate"]) != (b["name"][0]["family"], b["birthDate"])
