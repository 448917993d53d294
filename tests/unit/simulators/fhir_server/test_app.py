"""Sandbox behaviour the contract suite can't pin on HAPI (timing-free, or extras)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from simulators.fhir_server import create_fhir_app, sandbox_server

BASE = "http://ehr-a.sandbox/fhir"
FHIR = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}


@pytest.fixture
def app():
    return create_fhir_app(name="ehr-a", page_size=5, max_page_size=50)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=FHIR) as client:
        yield client


def slots(n: int, schedule: str = "sc") -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Slot",
            "id": f"s{i:02d}",
            "status": "free",
            "schedule": {"reference": f"Schedule/{schedule}"},
            "start": f"2031-03-01T{8 + i // 4:02d}:{(i % 4) * 15:02d}:00Z",
        }
        for i in range(n)
    ]


def seed(app, *resources: dict[str, Any]) -> None:
    store = sandbox_server(app).store
    with store.transaction():
        for resource in resources:
            store.update(resource["resourceType"], resource["id"], resource)


def next_url(bundle: dict[str, Any]) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


async def test_default_page_size_and_links_use_the_request_host(app, client) -> None:
    seed(app, {"resourceType": "Schedule", "id": "sc"}, *slots(7))

    first = (await client.get("/Slot")).json()

    assert len(first["entry"]) == 5
    assert "total" not in first  # like HAPI, no total while more pages are pending
    assert first["link"][0]["url"] == f"{BASE}/Slot"
    assert (next_url(first) or "").startswith(f"{BASE}?_getpages=")


async def test_next_links_stay_valid_while_data_changes(app, client) -> None:
    seed(app, {"resourceType": "Schedule", "id": "sc"}, *slots(10))
    first = (await client.get("/Slot", params={"_count": "5"})).json()

    # A new match arrives and an old one goes while the client pages.
    seed(
        app,
        {
            "resourceType": "Slot",
            "id": "late",
            "status": "free",
            "schedule": {"reference": "Schedule/sc"},
        },
    )
    await client.delete("/Slot/s07")
    second = (await client.get(next_url(first) or "")).json()

    ids = [e["resource"]["id"] for e in first["entry"] + second["entry"]]
    assert ids == ["s00", "s01", "s02", "s03", "s04", "s05", "s06", "s08", "s09"]
    assert second["total"] == 10
    assert [link["relation"] for link in second["link"]] == ["self", "previous"]


async def test_two_apps_do_not_share_data() -> None:
    a, b = create_fhir_app(name="ehr-a"), create_fhir_app(name="ehr-b")
    seed(a, {"resourceType": "Patient", "id": "p1"})
    assert sandbox_server(a).store.count("Patient") == 1
    assert sandbox_server(b).store.count("Patient") == 0


async def test_sort_revinclude_and_elements(app, client) -> None:
    seed(
        app,
        {"resourceType": "Schedule", "id": "sc"},
        *slots(3),
        {"resourceType": "Patient", "id": "p1"},
        {
            "resourceType": "Appointment",
            "id": "a1",
            "status": "booked",
            "slot": [{"reference": "Slot/s01"}],
            "participant": [{"actor": {"reference": "Patient/p1"}}],
        },
    )

    by_start = (await client.get("/Slot", params={"_sort": "-start"})).json()
    assert [e["resource"]["id"] for e in by_start["entry"]] == ["s02", "s01", "s00"]

    rev = (
        await client.get("/Slot", params={"_id": "s01", "_revinclude": "Appointment:slot"})
    ).json()
    assert [(e["resource"]["id"], e["search"]["mode"]) for e in rev["entry"]] == [
        ("s01", "match"),
        ("a1", "include"),
    ]

    slim = (await client.get("/Slot", params={"_id": "s00", "_elements": "start"})).json()
    assert set(slim["entry"][0]["resource"]) == {"resourceType", "id", "meta", "start"}


async def test_history_prefer_minimal_and_headers(client) -> None:
    created = await client.post(
        "/Patient", json={"resourceType": "Patient"}, headers={"Prefer": "return=minimal"}
    )
    assert created.status_code == 201
    assert created.content == b""
    location = created.headers["location"]
    patient_id = location.split("/")[-3]

    await client.put(
        f"/Patient/{patient_id}",
        json={"resourceType": "Patient", "id": patient_id, "gender": "male"},
    )
    history = (await client.get(f"/Patient/{patient_id}/_history")).json()
    assert history["type"] == "history"
    assert [e["response"]["etag"] for e in history["entry"]] == ['W/"2"', 'W/"1"']

    read = await client.get(f"/Patient/{patient_id}")
    assert read.headers["content-location"] == f"{BASE}/Patient/{patient_id}/_history/2"
    assert read.headers["content-type"].startswith("application/fhir+json")


async def test_patch_needs_json_patch_and_answers_without_etag(client) -> None:
    await client.put("/Patient/p1", json={"resourceType": "Patient", "id": "p1"})

    fhirpath = await client.patch("/Patient/p1", json={"resourceType": "Parameters"})
    assert fhirpath.status_code == 400

    patched = await client.patch(
        "/Patient/p1",
        content=b'[{"op": "add", "path": "/gender", "value": "male"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 200
    assert "etag" not in patched.headers


async def test_unknown_routes_and_methods_are_operation_outcomes(client) -> None:
    response = await client.post("/Patient/p1", json={})
    assert response.status_code == 405
    assert response.json()["resourceType"] == "OperationOutcome"
    system_search = await client.get("/")
    assert system_search.status_code == 400
