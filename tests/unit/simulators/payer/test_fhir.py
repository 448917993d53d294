from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse

from connectors import FhirClient
from connectors.eligibility import FhirEligibility
from mappers import from_fhir
from mappers.model import EligibilityResult
from mappers.outbound import build_coverage_eligibility_request

from .conftest import inquiry

SUBMIT = "/fhir/CoverageEligibilityRequest/$submit"


def request(
    member_id: str = "SIM-ACTIVE-1",
    family: str = "Doe",
    given: str = "Jane",
    born: str = "1980-01-15",
) -> dict[str, Any]:
    """The gateway's outbound request, with the Patient and Coverage contained."""
    resource = build_coverage_eligibility_request(
        inquiry(member_id, family, given, date.fromisoformat(born)),
        patient_ref="Patient/p-1",
        coverage_ref="Coverage/c-1",
        created=datetime(2026, 1, 5, 14, 0, tzinfo=UTC),
    )
    resource["contained"] = [
        {
            "resourceType": "Patient",
            "id": "pat",
            "name": [{"family": family, "given": [given]}],
            "birthDate": born,
        },
        {
            "resourceType": "Coverage",
            "id": "cov",
            "status": "active",
            "identifier": [{"value": member_id}],
            "beneficiary": {"reference": "#pat"},
            "payor": [{"identifier": {"value": "SIMPAYER"}}],
        },
    ]
    resource["patient"] = {"reference": "#pat"}
    resource["insurance"] = [{"focal": True, "coverage": {"reference": "#cov"}}]
    return resource


async def submit(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(SUBMIT, json=body)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    CoverageEligibilityResponse.model_validate(answer)  # valid R4B, or this raises
    return answer


def mapped(answer: dict[str, Any]) -> EligibilityResult:
    result = from_fhir(answer, source="payer")
    assert isinstance(result, EligibilityResult)
    return result


async def test_active_member_items(client: httpx.AsyncClient) -> None:
    answer = await submit(client, request())

    assert answer["outcome"] == "complete"
    assert answer["insurance"][0]["inforce"] is True
    result = mapped(answer)
    assert result.status == "active"
    assert result.member_id == "SIM-ACTIVE-1"
    assert result.group_number == "SIMGRP01"
    assert result.plan_name == "SIM PPO GOLD"
    copay = [b for b in result.benefits if b.kind == "copay" and b.service_type == "98"]
    assert [(b.amount, b.in_network) for b in copay] == [(Decimal(25), True)]
    left = [
        b
        for b in result.benefits
        if b.kind == "deductible" and b.coverage_level == "IND" and b.time_period == "29"
    ]
    assert [b.amount for b in left] == [Decimal(1000)]
    oop = [b for b in result.benefits if b.kind == "out_of_pocket" and b.coverage_level == "FAM"]
    assert {b.amount for b in oop} == {Decimal(10000), Decimal(9000)}
    assert answer["identifier"][0]["value"] == "TRACE-1"


async def test_inactive_member_is_not_inforce(client: httpx.AsyncClient) -> None:
    answer = await submit(client, request("SIM-INACTIVE-1", "Doe", "John", "1975-06-30"))

    assert answer["insurance"][0]["inforce"] is False
    assert "item" not in answer["insurance"][0]
    assert mapped(answer).status == "inactive"


@pytest.mark.parametrize(
    ("member_id", "family", "code"),
    [("SIM-NOBODY-9", "Doe", "72"), ("SIM-ACTIVE-1", "Dough", "73")],
)
async def test_rejections_become_errors(
    client: httpx.AsyncClient, member_id: str, family: str, code: str
) -> None:
    answer = await submit(client, request(member_id, family))

    assert answer["outcome"] == "error"
    assert answer["error"][0]["code"]["coding"][0]["code"] == code
    result = mapped(answer)
    assert result.status == "error"
    assert [e.code for e in result.errors] == [code]


async def test_parameters_wrapped_request_is_accepted(client: httpx.AsyncClient) -> None:
    body = {"resourceType": "Parameters", "parameter": [{"name": "request", "resource": request()}]}

    assert mapped(await submit(client, body)).status == "active"


async def test_request_without_member_is_400(client: httpx.AsyncClient) -> None:
    body = request()
    del body["contained"]
    body["insurance"] = [{"coverage": {"reference": "Coverage/c-1"}}]
    body["patient"] = {"reference": "Patient/p-1"}

    response = await client.post(SUBMIT, json=body)

    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_logical_coverage_reference_identifies_member(client: httpx.AsyncClient) -> None:
    body = request()
    del body["contained"]
    body["patient"] = {"reference": "Patient/p-1"}
    body["insurance"] = [{"coverage": {"identifier": {"value": "SIM-DEDMET-1"}}}]

    result = mapped(await submit(client, body))

    assert result.member_id == "SIM-DEDMET-1"
    assert result.status == "active"


@pytest.mark.parametrize("mode", ["submit", "create"])
async def test_fhir_connector_both_modes(client: httpx.AsyncClient, mode: str) -> None:
    fhir = FhirClient("http://payer.test/fhir", http=client, source="payer")
    eligibility = FhirEligibility(fhir, mode=mode)  # type: ignore[arg-type]

    answer = await eligibility.check(request())

    assert answer["resourceType"] == "CoverageEligibilityResponse"
    assert mapped(answer).status == "active"


async def test_create_with_same_identifier_is_not_duplicated(client: httpx.AsyncClient) -> None:
    headers = {"If-None-Exist": "identifier=urn:frontdesk:eligibility-trace|TRACE-1"}
    first = await client.post("/fhir/CoverageEligibilityRequest", json=request(), headers=headers)
    second = await client.post("/fhir/CoverageEligibilityRequest", json=request(), headers=headers)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    search = await client.get(
        "/fhir/CoverageEligibilityResponse",
        params={"request": f"CoverageEligibilityRequest/{first.json()['id']}"},
    )
    assert search.json()["total"] == 1
