"""CoverageEligibilityResponse → EligibilityResult: the R4 spec examples and edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mappers import MappingError
from mappers._primitives import Ctx
from mappers.eligibility import map_coverage_eligibility_response
from mappers.model import EligibilityResult

SPEC = Path(__file__).resolve().parents[2] / "fixtures" / "fhir" / "public" / "hl7-r4-spec"


def _map(resource: dict[str, Any]) -> EligibilityResult:
    return map_coverage_eligibility_response(
        resource, Ctx("payer-a", "CoverageEligibilityResponse")
    )


def _spec(name: str) -> dict[str, Any]:
    resource: dict[str, Any] = json.loads((SPEC / name).read_text(encoding="utf-8"))
    return resource


def _response(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "CoverageEligibilityResponse",
        "id": "r1",
        "status": "active",
        "purpose": ["benefits"],
        "patient": {"reference": "Patient/p1"},
        "created": "2025-03-04T10:15:00-05:00",
        "request": {"reference": "CoverageEligibilityRequest/q1"},
        "outcome": "complete",
        "insurer": {"identifier": {"system": "urn:frontdesk:payer-id", "value": "60054"}},
    }
    base.update(fields)
    return base


def _item(*benefits: dict[str, Any], **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "category": {"coding": [{"code": "98"}]},
        "network": {"coding": [{"code": "in"}]},
        "unit": {"coding": [{"code": "individual"}]},
        "term": {"coding": [{"code": "annual"}]},
        "benefit": list(benefits),
    }
    item.update(fields)
    return item


def _typed(code: str, **value: Any) -> dict[str, Any]:
    return {"type": {"coding": [{"code": code}]}, **value}


# --- spec examples -------------------------------------------------------------


def test_spec_example_is_active_with_provenance_and_message() -> None:
    result = _map(_spec("coverageeligibilityresponse-example.json"))
    assert result.status == "active"
    assert result.origin == "fhir"
    assert result.messages == ["Policy is currently in-force."]
    assert result.source is not None
    assert result.source.id == "E2500"
    # "created": "2014-08-16" has no time: midnight UTC, with a warning.
    assert result.checked_at == datetime(2014, 8, 16, tzinfo=UTC)
    assert any("created" in w for w in result.warnings)
    # Coverage/9876B1 is not contained: no member details, and a warning says so.
    assert result.member_id is None
    assert any("insurance[0].coverage" in w for w in result.warnings)


def test_spec_benefits_2_reads_contained_coverage_and_benefits() -> None:
    result = _map(_spec("coverageeligibilityresponse-example-benefits-2.json"))
    assert result.status == "active"
    assert result.member_id == "12345"
    assert result.plan_name == "Trainee Part-time Benefits"
    # Insurer is a bare reference; the contained Coverage's payor identifier names the payer.
    assert result.payer_id == "123456"

    health = [b for b in result.benefits if b.service_type == "30"]
    maximum = [b for b in health if b.description == "Maximum benefit"]
    assert [(b.amount, b.time_period) for b in maximum] == [
        (Decimal("500000"), "23"),
        (Decimal("496252.0"), "29"),  # allowed 500000 - used 3748.0
    ]
    assert all(b.in_network is True and b.coverage_level == "IND" for b in health)
    (coinsurance,) = [b for b in health if b.kind == "coinsurance"]
    assert coinsurance.percent == Decimal("0.2")
    (vision,) = [b for b in result.benefits if b.service_type == "F6"]
    assert vision.kind == "non_covered"
    assert vision.description is not None
    assert "Vision products" in vision.description


def test_spec_benefits_in_foreign_currency_keep_words_not_amounts() -> None:
    result = _map(_spec("coverageeligibilityresponse-example-benefits.json"))
    maternity = next(b for b in result.benefits if b.service_type == "69")
    assert maternity.amount is None
    assert maternity.messages == ["allowed 15000 SAR"]
    assert any("currency: not USD" in w for w in result.warnings)
    room = next(b for b in result.benefits if b.description == "Room")
    assert (room.kind, room.time_period, room.messages) == ("other", "7", ["shared"])


def test_spec_error_example_is_an_error_with_psr_words() -> None:
    result = _map(_spec("coverageeligibilityresponse-example-error.json"))
    assert result.status == "error"
    (error,) = result.errors
    assert error.code == "a001"
    assert "identifier" in error.description


# --- status ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"insurance": [{"inforce": True}]}, "active"),
        ({"insurance": [{"inforce": False}]}, "inactive"),
        ({"insurance": [{"inforce": False}, {"inforce": True}]}, "active"),
        ({"insurance": [{"item": [_item(_typed("copay"))]}]}, "unknown"),
        (
            {"insurance": [{"item": [_item({"type": {"text": "Active Coverage"}})]}]},
            "active",
        ),
        ({"outcome": "queued"}, "unknown"),
        ({"outcome": "error"}, "error"),
        ({"status": "entered-in-error", "insurance": [{"inforce": True}]}, "error"),
        (
            {
                "insurance": [{"inforce": True}],
                "error": [{"code": {"coding": [{"code": "72"}]}}],
            },
            "error",
        ),
    ],
)
def test_status(fields: dict[str, Any], expected: str) -> None:
    assert _map(_response(**fields)).status == expected


def test_x12_reject_reason_in_error_gets_psr_words() -> None:
    result = _map(_response(outcome="error", error=[{"code": {"coding": [{"code": "72"}]}}]))
    assert result.errors[0].description == "member id not recognised: check the insurance card"


def test_unknown_error_code_falls_back_to_its_text_or_generic_words() -> None:
    result = _map(
        _response(
            outcome="error",
            error=[
                {"code": {"coding": [{"code": "zz1", "display": "Plan closed"}]}},
                {"code": {"coding": [{"code": "zz2"}]}},
            ],
        )
    )
    assert [e.description for e in result.errors] == [
        "Plan closed",
        "payer rejected the request: call the payer",
    ]


def test_nothing_about_coverage_is_unusable() -> None:
    resource = _response()
    del resource["outcome"]
    with pytest.raises(MappingError) as info:
        _map(resource)
    assert info.value.path == "CoverageEligibilityResponse.outcome"


def test_wrong_resource_type_is_unusable() -> None:
    with pytest.raises(MappingError) as info:
        _map({"resourceType": "Coverage"})
    assert info.value.path == "CoverageEligibilityResponse.resourceType"


# --- checked_at --------------------------------------------------------------------


def test_checked_at_keeps_the_offset() -> None:
    result = _map(_response(insurance=[{"inforce": True}]))
    assert result.checked_at == datetime(2025, 3, 4, 10, 15, tzinfo=timezone(timedelta(hours=-5)))
    assert not any("created" in w for w in result.warnings)


def test_missing_created_uses_the_time_of_mapping() -> None:
    before = datetime.now(UTC)
    resource = _response(insurance=[{"inforce": True}])
    del resource["created"]
    result = _map(resource)
    assert before <= result.checked_at <= datetime.now(UTC)
    assert any("created: missing" in w for w in result.warnings)


# --- payer, member, plan -------------------------------------------------------------


def test_contained_coverage_and_organization_give_member_plan_group_payer() -> None:
    coverage = {
        "resourceType": "Coverage",
        "id": "cov",
        "status": "active",
        "identifier": [
            {"value": "other"},
            {"type": {"coding": [{"code": "MB"}]}, "value": "W123456789"},
        ],
        "subscriberId": "W1234567",
        "beneficiary": {"reference": "Patient/p1"},
        "payor": [{"reference": "#org"}],
        "class": [
            {"type": {"coding": [{"code": "group"}]}, "value": "G-77", "name": "Acme staff"},
            {"type": {"coding": [{"code": "plan"}]}, "value": "gold", "name": "Gold PPO"},
        ],
    }
    org = {
        "resourceType": "Organization",
        "id": "org",
        "name": "Acme Health",
        "identifier": [{"value": "60054"}],
    }
    resource = _response(
        contained=[coverage, org],
        insurer={"reference": "#org"},
        insurance=[
            {
                "coverage": {"reference": "#cov"},
                "inforce": True,
                "benefitPeriod": {"start": "2025-01-01", "end": "2025-12"},
            }
        ],
    )
    result = _map(resource)
    assert (result.payer_id, result.payer_name) == ("60054", "Acme Health")
    assert result.member_id == "W123456789"
    assert (result.group_number, result.group_name, result.plan_name) == (
        "G-77",
        "Acme staff",
        "Gold PPO",
    )
    assert (str(result.coverage_start), str(result.coverage_end)) == ("2025-01-01", "2025-12-31")
    assert not any("coverage" in w for w in result.warnings)


def test_insurer_identifier_as_a_bare_string_is_read_with_a_warning() -> None:
    # A vendor's documented response carries "identifier": "1111" (not an Identifier).
    result = _map(
        _response(insurer={"identifier": "1111", "display": "Payer ID: 1111"}, insurance=[])
    )
    assert (result.payer_id, result.payer_name) == ("1111", "Payer ID: 1111")
    assert any("insurer.identifier" in w for w in result.warnings)


# --- benefits --------------------------------------------------------------------------


def test_copay_deductible_and_out_of_pocket_with_remaining_amounts() -> None:
    item = _item(
        _typed("copay", allowedMoney={"value": 25, "currency": "USD"}),
        _typed(
            "deductible",
            allowedMoney={"value": 1500.5, "currency": "USD"},
            usedMoney={"value": 200.25, "currency": "USD"},
        ),
        {
            "type": {"text": "Out of Pocket (Stop Loss)"},
            "allowedMoney": {"value": 6900},
            "usedMoney": {"value": 7000},
        },
        authorizationRequired=True,
    )
    result = _map(_response(insurance=[{"inforce": True, "item": [item]}]))
    got = [(b.kind, b.amount, b.time_period) for b in result.benefits]
    assert got == [
        ("copay", Decimal("25"), "23"),
        ("deductible", Decimal("1500.5"), "23"),
        ("deductible", Decimal("1300.25"), "29"),
        ("out_of_pocket", Decimal("6900"), "23"),
        ("out_of_pocket", Decimal("0"), "29"),
    ]
    first = result.benefits[0]
    assert (first.service_type, first.service_type_display) == (
        "98",
        "Professional (Physician) Visit - Office",
    )
    assert first.authorization_required is True
    assert any("more used than allowed" in w for w in result.warnings)


def test_money_keeps_the_json_number_text_exactly() -> None:
    # 0.1 + 0.2 in floats is 0.30000000000000004; Decimals from the JSON text are exact.
    raw = '{"value": 0.1}'
    item = _item(
        _typed("deductible", allowedMoney={"value": 0.3}, usedMoney=json.loads(raw)),
    )
    result = _map(_response(insurance=[{"inforce": True, "item": [item]}]))
    assert [b.amount for b in result.benefits] == [Decimal("0.3"), Decimal("0.2")]


def test_decimal_parsed_json_is_taken_as_is() -> None:
    resource = json.loads(
        json.dumps(
            _response(
                insurance=[
                    {
                        "inforce": True,
                        "item": [_item(_typed("copay", allowedMoney={"value": 19.99}))],
                    }
                ]
            )
        ),
        parse_float=Decimal,
    )
    assert _map(resource).benefits[0].amount == Decimal("19.99")


def test_used_money_alone_is_year_to_date() -> None:
    item = _item(_typed("deductible", usedMoney={"value": 120}))
    (benefit,) = _map(_response(insurance=[{"inforce": True, "item": [item]}])).benefits
    assert (benefit.amount, benefit.time_period) == (Decimal("120"), "24")


def test_lifetime_term_remaining_is_lifetime_remaining() -> None:
    item = _item(
        _typed("benefit", allowedMoney={"value": 100}, usedMoney={"value": 40}),
        term={"coding": [{"code": "lifetime"}]},
    )
    result = _map(_response(insurance=[{"inforce": True, "item": [item]}]))
    assert [b.time_period for b in result.benefits] == ["32", "33"]


@pytest.mark.parametrize(
    ("benefit", "percent"),
    [
        (_typed("copay-percent", allowedUnsignedInt=20), Decimal("0.2")),
        ({"type": {"text": "Co-Insurance"}, "allowedString": "0.0%"}, Decimal("0")),
        ({"type": {"text": "Co-Insurance"}, "allowedString": "30%"}, Decimal("0.3")),
        ({"type": {"text": "coinsurance"}, "allowedString": "0.25"}, Decimal("0.25")),
        ({"type": {"text": "Co-Insurance"}, "allowedString": "n/a"}, None),
    ],
)
def test_coinsurance_percent_is_a_fraction(
    benefit: dict[str, Any], percent: Decimal | None
) -> None:
    (mapped,) = _map(_response(insurance=[{"inforce": True, "item": [_item(benefit)]}])).benefits
    assert mapped.kind == "coinsurance"
    assert mapped.percent == percent


def test_vendor_text_types_and_incomplete_flag() -> None:
    item = _item(
        {"type": {"text": "Co-Payment"}, "allowedMoney": {"value": 333}},
        {"type": {"text": "Deductible (Incomplete information)"}},
        {"type": {"text": "Non-Covered"}},
        {"type": {"text": "Something new"}},
        network={"coding": [{"code": "out"}]},
        unit={"coding": [{"code": "family"}]},
    )
    result = _map(_response(insurance=[{"inforce": True, "item": [item]}]))
    assert [b.kind for b in result.benefits] == ["copay", "deductible", "non_covered", "other"]
    assert result.benefits[1].messages == ["payer marked this benefit as incomplete information"]
    assert all(b.in_network is False and b.coverage_level == "FAM" for b in result.benefits)
    assert any("unknown benefit type" in w for w in result.warnings)


def test_visit_count_is_a_quantity_not_money() -> None:
    item = _item(_typed("visit", allowedUnsignedInt=20))
    (benefit,) = _map(_response(insurance=[{"inforce": True, "item": [item]}])).benefits
    assert (benefit.kind, benefit.quantity, benefit.quantity_qualifier, benefit.amount) == (
        "limitation",
        Decimal(20),
        "VS",
        None,
    )


def test_item_without_benefits_says_the_service_is_covered() -> None:
    item = {"category": {"coding": [{"code": "30"}]}, "authorizationRequired": False}
    (benefit,) = _map(_response(insurance=[{"inforce": True, "item": [item]}])).benefits
    assert benefit.kind == "active_coverage"
    assert benefit.service_type_display == "Health Benefit Plan Coverage"
    assert benefit.authorization_required is False


def test_product_or_service_is_the_service_type_without_a_category() -> None:
    item = {
        "productOrService": {"coding": [{"code": "99213", "display": "Office visit"}]},
        "benefit": [_typed("copay", allowedMoney={"value": 40})],
    }
    (benefit,) = _map(_response(insurance=[{"inforce": True, "item": [item]}])).benefits
    assert (benefit.service_type, benefit.service_type_display) == ("99213", "Office visit")


def test_warnings_carry_paths_not_values() -> None:
    item = _item(_typed("copay", allowedMoney={"value": "W123456789x"}))
    result = _map(_response(insurance=[{"inforce": True, "item": [item]}]))
    assert result.benefits[0].amount is None
    prefix = "CoverageEligibilityResponse.insurance[0]"
    assert result.warnings == [
        f"{prefix}.item[0].benefit[0].allowedMoney.value: not a number",
        f"{prefix}.coverage: not contained; member id, plan and group unknown",
    ]
    assert not any("W123456789" in w for w in result.warnings)
