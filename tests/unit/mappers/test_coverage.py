from __future__ import annotations

from datetime import date
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
