"""FhirClient against the real HAPI FHIR JPA servers (EHR A and EHR B)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors import (
    EPIC,
    HAPI,
    CapabilityMismatch,
    FhirClient,
    Gone,
    Policy,
    PreconditionFailed,
    Rejected,
    SearchParams,
)

pytestmark = pytest.mark.hapi


@pytest.fixture
async def client(hapi_base_urls: tuple[str, str]) -> AsyncIterator[FhirClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield FhirClient(
            hapi_base_urls[0], http=http, source="ehr-a", profile=HAPI, policy=Policy(deadline=30)
        )


@pytest.fixture
def system() -> str:
    """An identifier system no other test (or seed data) uses."""
    return f"urn:uuid:{uuid.uuid4()}"


def patient(system: str, value: str, family: str = "Testperson") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": system, "value": value}],
        "name": [{"family": family, "given": ["Ada"]}],
        "birthDate": "1980-01-01",
    }


def transaction(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
            for r in resources
        ],
    }


async def test_transaction_then_search_with_paging(client: FhirClient, system: str) -> None:
    answer = await client.transaction(transaction([patient(system, str(i)) for i in range(7)]))
    assert answer["type"] == "transaction-response"
    assert [e["response"]["status"][:3] for e in answer["entry"]] == ["201"] * 7

    query = SearchParams().where(identifier=f"{system}|").count(3)
    first = await client.search_page("Patient", query.where(_total="accurate"))
    assert first.total == 7
    assert len(first.resources) == 3
    assert first.next_url is not None

    found = [r async for r in client.search("Patient", query)]
    values = sorted(r["identifier"][0]["value"] for r in found)
    assert values == [str(i) for i in range(7)]


async def test_conditional_create_is_idempotent(client: FhirClient, system: str) -> None:
    first = await client.create(
        patient(system, "once"), if_none_exist={"identifier": f"{system}|once"}
    )
    second = await client.create(
        patient(system, "once"), if_none_exist={"identifier": f"{system}|once"}
    )
    assert first["id"] == second["id"]
    found = [r async for r in client.search("Patient", {"identifier": f"{system}|once"})]
    assert [r["id"] for r in found] == [first["id"]]


async def test_if_match_guards_updates(client: FhirClient, system: str) -> None:
    created = await client.create(patient(system, "v"))
    version = created["meta"]["versionId"]
    updated = await client.update({**created, "gender": "female"}, if_match=version)
    assert updated["meta"]["versionId"] != version
    with pytest.raises(PreconditionFailed) as caught:
        await client.update({**created, "gender": "male"}, if_match=version)
    assert caught.value.status == 412
    assert caught.value.url_template == "/Patient/{id}"
    assert (await client.read("Patient", created["id"]))["gender"] == "female"


async def test_patch_vread_and_delete(client: FhirClient, system: str) -> None:
    created = await client.create(patient(system, "p"))
    patched = await client.patch(
        "Patient",
        created["id"],
        [{"op": "add", "path": "/gender", "value": "other"}],
        if_match=created["meta"]["versionId"],
    )
    assert patched["gender"] == "other"
    old = await client.vread("Patient", created["id"], created["meta"]["versionId"])
    assert "gender" not in old
    await client.delete("Patient", created["id"])
    with pytest.raises(Gone):
        await client.read("Patient", created["id"])


async def test_bad_search_parameter_gives_operation_outcome(client: FhirClient) -> None:
    with pytest.raises(Rejected) as caught:
        await client.search_page("Patient", {"no-such-param": "Chalmers"})
    error = caught.value
    assert error.status == 400
    assert error.issues
    assert error.issues[0].severity == "error"
    assert "Unknown search parameter" in error.diagnostics[0]
    assert "Chalmers" not in str(error)


async def test_capabilities_match_the_hapi_profile(hapi_base_urls: tuple[str, str]) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        for base in hapi_base_urls:
            hapi = FhirClient(base, http=http, profile=HAPI)
            statement = await hapi.capabilities()
            assert statement["fhirVersion"].startswith("4.0")
            await hapi.check_capabilities()

            epic = FhirClient(base, http=http, profile=EPIC, source="not-epic")
            with pytest.raises(CapabilityMismatch) as caught:
                await epic.check_capabilities()
            assert "Appointment/$find" in caught.value.missing
