from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mappers import Coverage, MappingError, encode_id, from_fhir

SOURCE = "ehr-a"
_V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _cov(**fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "id": "c1",
        "status": "active",
        "beneficiary": {"reference": "Patient/p1"},
        **fields,
    }


def _map(resource: dict[str, Any]) -> Coverage:
    record = from_fhir(resource, source=SOURCE)
    assert isinstance(record, Coverage)
    return record


def _cls(code: str, value: str, name: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": {"coding": [{"code": code}]}, "value": value}
    if name is not None:
        out["name"] = name
    return out


def test_full_coverage() -> None:
    cov = _map(
        _cov(
            identifier=[
                {"system": "urn:policy", "value": "POL-1"},
                {"type": {"coding": [{"system": _V2, "code": "MB"}]}, "value": "MEM-01"},
            ],
            subscriberId="SUB-1",
            dependent="01",
            relationship={"coding": [{"code": "child"}]},
            payor=[
                {
                    "reference": "Organization/org1",
                    "identifier": {"value": "60054"},
                    "display": "Acme",
                }
            ],
            type={"coding": [{"code": "EHCPOL"}]},
            period={"start": "2025-01-01", "end": "2025-06"},
            order=2,
            network="Acme PPO",
            **{
                "class": [
                    _cls("group", "G-1", "Employer"),
                    _cls("subplan", "SUB"),
                    _cls("plan", "GOLD", "Gold PPO"),
                    _cls("rxbin", "610014"),
                ]
            },
        )
    )
    assert cov.status == "active"
    assert cov.beneficiary_id == encode_id(SOURCE, "Patient", "p1")
    assert cov.member_id == "MEM-01"
    assert cov.subscriber_id == "SUB-1"
    assert cov.dependent == "01"
    assert cov.relationship == "child"
    assert (cov.payer_id, cov.payer_name) == ("60054", "Acme")
    assert (cov.group_number, cov.group_name, cov.plan_name) == ("G-1", "Employer", "Gold PPO")
    assert cov.type == "EHCPOL"
    assert cov.period_start == date(2025, 1, 1)
    assert cov.period_end == date(2025, 6, 30)
    assert (cov.order, cov.network) == (2, "Acme PPO")
    assert cov.warnings == []


def test_member_id_falls_back_to_subscriber_id_then_first_identifier() -> None:
    assert _map(_cov(subscriberId="SUB-9", identifier=[{"value": "X"}])).member_id == "SUB-9"
    assert _map(_cov(identifier=[{"value": "X"}])).member_id == "X"
    assert _map(_cov()).member_id is None


def test_subscriber_number_identifier_fills_subscriber_id() -> None:
    cov = _map(_cov(identifier=[{"type": {"coding": [{"code": "SN"}]}, "value": "S-1"}]))
    assert cov.subscriber_id == "S-1"


def test_payer_from_contained_organization() -> None:
    cov = _map(
        _cov(
            contained=[
                {
                    "resourceType": "Organization",
                    "id": "payer",
                    "name": "Contained Health",
                    "identifier": [{"system": "urn:x12:payer", "value": "99999"}],
                }
            ],
            payor=[{"reference": "#payer"}],
        )
    )
    assert (cov.payer_id, cov.payer_name) == ("99999", "Contained Health")


def test_payer_by_reference_display_or_identifier_only() -> None:
    by_ref = _map(_cov(payor=[{"reference": "https://ehr.example.org/fhir/Organization/org7"}]))
    assert (by_ref.payer_id, by_ref.payer_name) == ("org7", None)
    by_display = _map(_cov(payor=[{"display": "Blue Plan"}]))
    assert (by_display.payer_id, by_display.payer_name) == (None, "Blue Plan")
    by_ident = _map(_cov(payor=[{"identifier": {"system": "urn:x12", "value": "12345"}}]))
    assert (by_ident.payer_id, by_ident.payer_name) == ("12345", None)


def test_self_pay_patient_payor_gives_no_payer_id() -> None:
    cov = _map(_cov(payor=[{"reference": "Patient/p1"}]))
    assert cov.payer_id is None


def test_patient_payor_is_self_pay_with_the_paying_party() -> None:
    cov = _map(
        _cov(
            payor=[
                {
                    "reference": "Patient/p1",
                    "display": "Jane Doe",
                    "identifier": {"system": "urn:mrn", "value": "MRN-7"},
                }
            ]
        )
    )
    assert cov.self_pay is True
    assert cov.payer_kind == "patient"
    assert cov.paying_party_id == encode_id(SOURCE, "Patient", "p1")
    # A person's name and MRN are not a payer's name and id.
    assert (cov.payer_id, cov.payer_name) == (None, None)


def test_related_person_payor_is_self_pay() -> None:
    shapes = Path(__file__).parents[2] / "fixtures" / "fhir" / "vendor-shapes"
    resource = json.loads((shapes / "coverage-self-pay-related-person.json").read_text())
    cov = _map(resource)
    assert cov.self_pay is True
    assert cov.payer_kind == "related_person"
    assert cov.paying_party_id == encode_id(SOURCE, "RelatedPerson", "guardian-3")
    assert cov.payer_name is None
    assert cov.relationship == "child"
    assert cov.warnings == []


def test_payor_typed_without_a_reference_counts_by_its_type() -> None:
    cov = _map(_cov(payor=[{"type": "RelatedPerson", "display": "Mother"}]))
    assert (cov.self_pay, cov.payer_kind, cov.paying_party_id) == (True, "related_person", None)


def test_coverage_typed_self_pay_with_no_payer_named_is_self_pay() -> None:
    shapes = Path(__file__).parents[2] / "fixtures" / "fhir" / "vendor-shapes"
    cov = _map(json.loads((shapes / "coverage-self-pay-typed.json").read_text()))
    assert cov.self_pay is True
    assert cov.payer_kind is None
    assert cov.type == "81"


def test_spec_self_pay_example_is_self_pay() -> None:
    spec = Path(__file__).parents[2] / "fixtures" / "fhir" / "public" / "hl7-r4-spec"
    cov = _map(json.loads((spec / "coverage-example-selfpay.json").read_text()))
    assert (cov.self_pay, cov.payer_kind) == (True, "patient")
    assert cov.paying_party_id == encode_id(SOURCE, "Patient", "5")


@pytest.mark.parametrize(
    ("payor", "kind"),
    [
        ({"reference": "Organization/acme", "display": "Acme"}, "organization"),
        ({"display": "Acme"}, "other"),
        ({"identifier": {"value": "60054"}}, "other"),
    ],
)
def test_an_insurer_is_not_self_pay(payor: dict[str, Any], kind: str) -> None:
    typed = {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/coverage-selfpay", "code": "pay"}
        ]
    }
    cov = _map(_cov(payor=[payor], type=typed))
    assert cov.self_pay is False
    assert cov.payer_kind == kind
    assert cov.paying_party_id is None


def test_a_missing_payor_is_not_self_pay() -> None:
    cov = _map(_cov())
    assert (cov.self_pay, cov.payer_kind) == (False, None)


def test_missing_payor_and_beneficiary_are_warnings() -> None:
    resource = _cov()
    del resource["beneficiary"]
    cov = _map(resource)
    assert cov.beneficiary_id is None
    assert cov.warnings == ["Coverage.beneficiary: missing", "Coverage.payor: missing"]


def test_subplan_is_the_plan_when_no_plan_class() -> None:
    cov = _map(_cov(payor=[{"display": "P"}], **{"class": [_cls("subplan", "S1", "Silver")]}))
    assert cov.plan_name == "Silver"


def test_status_outside_value_set_is_kept() -> None:
    cov = _map(_cov(status="terminated", payor=[{"display": "P"}]))
    assert cov.status == "terminated"
    assert cov.warnings == ["Coverage.status: code outside the expected value set; kept as given"]


def test_missing_status_is_a_mapping_error() -> None:
    resource = _cov()
    del resource["status"]
    with pytest.raises(MappingError) as err:
        from_fhir(resource, source=SOURCE)
    assert err.value.path == "Coverage.status"


def test_bad_period_and_order_are_dropped_with_warnings() -> None:
    cov = _map(_cov(payor=[{"display": "P"}], period={"start": "soon"}, order=0))
    assert cov.period_start is None
    assert cov.order is None
    assert cov.warnings == [
        "Coverage.period.start: not a FHIR date; dropped",
        "Coverage.order: not a positive integer; dropped",
    ]
