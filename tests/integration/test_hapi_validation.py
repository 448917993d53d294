"""The HAPI servers are strict: a write that is not valid FHIR R4 is refused.

hapi-server validates creates and updates of the types the gateway and the seed write,
whole transaction Bundles, each entry of a batch and the result of a PATCH
(`WriteRequestValidatingInterceptor`, `StoredResourceValidatingInterceptor`). Errors
refuse with 422 and an OperationOutcome, and nothing is stored; warnings never refuse.
So every write the rest of the suite makes against HAPI is also a validity check.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors import HAPI, FhirClient, Policy, Rejected

pytestmark = pytest.mark.hapi

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


@pytest.fixture
async def http(hapi_base_urls: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hapi_base_urls[0], timeout=60, headers=FHIR_JSON) as c:
        yield c


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:12]


def errors(response: httpx.Response) -> list[str]:
    """The error-level diagnostics of an OperationOutcome answer."""
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return [i.get("diagnostics", "") for i in body["issue"] if i["severity"] in ("error", "fatal")]


async def count(http: httpx.AsyncClient, resource_type: str, **params: str) -> int:
    response = await http.get(
        f"/{resource_type}",
        params={**params, "_summary": "count"},
        headers={"Cache-Control": "no-cache"},
    )
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def schedule(http: httpx.AsyncClient, tag: str) -> str:
    response = await http.put(
        f"/Schedule/val-sc-{tag}",
        json={
            "resourceType": "Schedule",
            "id": f"val-sc-{tag}",
            "active": True,
            "actor": [{"display": "Dr Val"}],
        },
    )
    assert response.status_code == 201, response.text
    return f"Schedule/val-sc-{tag}"


def slot(tag: str, schedule_ref: str, *, without: str = "", **fields: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Slot",
        "identifier": [{"system": "urn:frontdesk:test:validation", "value": tag}],
        "schedule": {"reference": schedule_ref},
        "status": "free",
        "start": "2031-06-02T09:00:00Z",
        "end": "2031-06-02T09:15:00Z",
        **fields,
    }
    resource.pop(without, None)
    return resource


async def test_invalid_create_is_422_with_an_operation_outcome_and_nothing_stored(http, tag):
    # R4 app-3: a booked appointment needs start and end.
    response = await http.post(
        "/Appointment",
        json={
            "resourceType": "Appointment",
            "identifier": [{"system": "urn:frontdesk:test:validation", "value": tag}],
            "status": "booked",
            "participant": [{"actor": {"display": "Dr Who"}, "status": "accepted"}],
        },
    )

    assert response.status_code == 422
    assert any("app-3" in e for e in errors(response)), errors(response)
    assert await count(http, "Appointment", identifier=f"urn:frontdesk:test:validation|{tag}") == 0


async def test_unknown_element_is_refused_not_dropped(http, tag):
    # Stock HAPI drops an unknown element with a log line and stores the rest.
    response = await http.put(
        f"/Patient/val-{tag}", json={"resourceType": "Patient", "id": f"val-{tag}", "nmae": []}
    )

    assert response.status_code == 422
    assert any("nmae" in e for e in errors(response)), errors(response)
    assert (await http.get(f"/Patient/val-{tag}")).status_code == 404


async def test_the_gateway_connector_sees_the_refusal_as_rejected(hapi_base_urls, tag):
    async with FhirClient(
        hapi_base_urls[1], source="ehr-b", profile=HAPI, policy=Policy(deadline=30)
    ) as fhir:
        with pytest.raises(Rejected) as refused:
            # Slot.schedule is 1..1.
            await fhir.create(slot(tag, "Schedule/x", without="schedule"))

    assert refused.value.status == 422
    assert any("Slot.schedule" in d for d in refused.value.diagnostics), refused.value.diagnostics


async def test_invalid_entry_refuses_the_whole_transaction(http, tag):
    schedule_ref = await schedule(http, tag)
    good = slot(tag, schedule_ref)
    bad = slot(tag, schedule_ref, end="2031-06-02")  # Slot.end is an instant, not a date
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": r,
                "request": {"method": "POST", "url": "Slot"},
            }
            for r in (good, bad)
        ],
    }

    response = await http.post("", json=bundle)

    assert response.status_code == 422
    assert any("Bundle.entry[1]" in loc for loc in locations(response)), locations(response)
    assert await count(http, "Slot", identifier=f"urn:frontdesk:test:validation|{tag}") == 0


def locations(response: httpx.Response) -> list[str]:
    body = response.json()
    return [
        loc
        for i in body["issue"]
        if i["severity"] == "error"
        for loc in (i.get("expression") or i.get("location") or [])
    ]


async def test_invalid_entry_of_a_batch_fails_alone(http, tag):
    schedule_ref = await schedule(http, tag)
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": "Slot"}}
            for r in (
                slot(tag, schedule_ref),
                slot(tag, schedule_ref, without="start"),  # Slot.start is 1..1
            )
        ],
    }

    response = await http.post("", json=bundle)

    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"].startswith("201")
    assert entries[1]["response"]["status"].startswith("422")
    assert await count(http, "Slot", identifier=f"urn:frontdesk:test:validation|{tag}") == 1


async def test_patch_that_breaks_the_resource_is_refused_and_nothing_changes(http, tag):
    schedule_ref = await schedule(http, tag)
    created = await http.post("/Slot", json=slot(tag, schedule_ref))
    assert created.status_code == 201, created.text
    slot_id = created.json()["id"]

    response = await http.patch(
        f"/Slot/{slot_id}",
        json=[{"op": "remove", "path": "/schedule"}],
        headers={"Content-Type": "application/json-patch+json"},
    )

    assert response.status_code == 422
    assert any("Slot.schedule" in e for e in errors(response)), errors(response)
    stored = (await http.get(f"/Slot/{slot_id}")).json()
    assert stored["schedule"] == {"reference": schedule_ref}
    assert stored["meta"]["versionId"] == "1"


async def test_a_valid_patch_still_applies(http, tag):
    schedule_ref = await schedule(http, tag)
    created = await http.post("/Slot", json=slot(tag, schedule_ref))
    response = await http.patch(
        f"/Slot/{created.json()['id']}",
        json=[{"op": "replace", "path": "/status", "value": "busy"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "busy"


async def test_warnings_do_not_refuse(http, tag):
    # An identifier type outside the extensible identifier-type value set is a
    # warning, as is a Patient without narrative (dom-6): stored all the same.
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {
                "type": {"coding": [{"system": "urn:frontdesk:test:local-types", "code": "XX"}]},
                "system": "urn:frontdesk:test:validation",
                "value": tag,
            }
        ],
        "name": [{"family": "Warned"}],
    }
    validated = await http.post("/Patient/$validate", json=patient)
    assert validated.status_code == 200
    assert [i for i in validated.json()["issue"] if i["severity"] == "warning"]
    assert errors(validated) == []

    response = await http.post("/Patient", json=patient)

    assert response.status_code == 201, response.text


async def test_validate_operation_still_answers_200_with_its_findings(http):
    response = await http.post(
        "/Appointment/$validate", json={"resourceType": "Appointment", "status": "booked"}
    )
    assert response.status_code == 200
    assert errors(response)  # participant 1..*, app-3


async def test_a_body_hapi_cannot_parse_keeps_hapis_400(http):
    response = await http.post("/Patient", content=b'{"resourceType": "Patient", "name": [')
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
