"""The HAPI FHIR JPA harness is a real FHIR server with the settings our connectors rely on."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.hapi

NO_CACHE = {"Cache-Control": "no-cache"}
REQUIRED_SEARCH_PARAMS = {
    "Patient": {"identifier", "name", "family", "given", "birthdate", "phone"},
    "Slot": {"schedule", "status", "start", "service-type"},
    "Schedule": {"actor", "service-type"},
    "Appointment": {"patient", "date", "status", "slot"},
    "Coverage": {"beneficiary", "payor"},
}


async def _json(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code < 300, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_capability_statement_is_r4_and_lists_our_search_parameters(hapi_base_urls):
    async with httpx.AsyncClient(timeout=30) as http:
        for base in hapi_base_urls:
            cs = await _json(await http.get(f"{base}/metadata"))
            assert cs["fhirVersion"] == "4.0.1"
            resources = {r["type"]: r for r in cs["rest"][0]["resource"]}
            for rtype, wanted in REQUIRED_SEARCH_PARAMS.items():
                declared = {p["name"] for p in resources[rtype].get("searchParam", [])}
                assert wanted <= declared, (rtype, wanted - declared)
            assert "Slot:schedule" in resources["Slot"].get("searchInclude", [])


async def test_create_read_search_round_trip_on_both_ehrs(hapi_base_urls):
    value = uuid.uuid4().hex
    async with httpx.AsyncClient(timeout=30) as http:
        for base in hapi_base_urls:
            created = await _json(
                await http.post(
                    f"{base}/Patient",
                    json={
                        "resourceType": "Patient",
                        "identifier": [{"system": "urn:test:rt", "value": value}],
                        "name": [{"family": "Roundtrip", "given": ["Rita"]}],
                    },
                )
            )
            read = await _json(await http.get(f"{base}/Patient/{created['id']}"))
            assert read["identifier"][0]["value"] == value
            found = await _json(
                await http.get(
                    f"{base}/Patient",
                    params={"identifier": f"urn:test:rt|{value}"},
                    headers=NO_CACHE,
                )
            )
            assert [e["resource"]["id"] for e in found["entry"]] == [created["id"]]


async def test_same_id_in_a_and_b_holds_different_people(hapi_base_urls):
    base_a, base_b = hapi_base_urls
    rid = f"same-{uuid.uuid4().hex[:12]}"
    async with httpx.AsyncClient(timeout=30) as http:
        for base, family in ((base_a, "Adams"), (base_b, "Baker")):
            r = await http.put(
                f"{base}/Patient/{rid}",
                json={"resourceType": "Patient", "id": rid, "name": [{"family": family}]},
            )
            assert r.status_code == 201, r.text
        a = await _json(await http.get(f"{base_a}/Patient/{rid}"))
        b = await _json(await http.get(f"{base_b}/Patient/{rid}"))
    assert (a["name"][0]["family"], b["name"][0]["family"]) == ("Adams", "Baker")


async def test_conditional_create_twice_makes_one_resource(hapi_base_urls):
    base = hapi_base_urls[0]
    value = uuid.uuid4().hex
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:test:cc", "value": value}]}
    headers = {"If-None-Exist": f"identifier=urn:test:cc|{value}"}
    async with httpx.AsyncClient(timeout=30) as http:
        first = await http.post(f"{base}/Patient", json=body, headers=headers)
        second = await http.post(f"{base}/Patient", json=body, headers=headers)
        found = await _json(
            await http.get(
                f"{base}/Patient", params={"identifier": f"urn:test:cc|{value}"}, headers=NO_CACHE
            )
        )
    assert (first.status_code, second.status_code) == (201, 200)
    assert len(found["entry"]) == 1


async def test_stale_if_match_gets_412(hapi_base_urls):
    base = hapi_base_urls[0]
    async with httpx.AsyncClient(timeout=30) as http:
        created = await _json(
            await http.post(f"{base}/Patient", json={"resourceType": "Patient", "active": True})
        )
        v2 = {**created, "active": False}
        assert (
            await http.put(
                f"{base}/Patient/{created['id']}", json=v2, headers={"If-Match": 'W/"1"'}
            )
        ).status_code == 200
        stale = await http.put(
            f"{base}/Patient/{created['id']}",
            json={**created, "gender": "other"},
            headers={"If-Match": 'W/"1"'},
        )
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"


async def test_paging_35_matches_by_10_walks_4_pages_without_duplicates(hapi_base_urls):
    base = hapi_base_urls[1]
    family = f"Pager{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(timeout=30) as http:
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Patient",
                        "name": [{"family": family, "given": [f"P{i}"]}],
                    },
                    "request": {"method": "POST", "url": "Patient"},
                }
                for i in range(35)
            ],
        }
        await _json(await http.post(base, json=bundle))
        url: str | None = f"{base}/Patient?family={family}&_count=10"
        pages, ids = 0, []
        while url:
            page = await _json(await http.get(url, headers=NO_CACHE))
            pages += 1
            ids += [e["resource"]["id"] for e in page.get("entry", [])]
            url = next(
                (link["url"] for link in page.get("link", []) if link["relation"] == "next"), None
            )
            if url:
                assert url.startswith(base)
    assert pages == 4
    assert len(ids) == 35 == len(set(ids))
