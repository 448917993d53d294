"""A coverage answer in desk words."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from gateway.console.coverage_words import in_desk_words
from mappers.model import Benefit, EligibilityError, EligibilityResult

NOW = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


def _result(**fields) -> EligibilityResult:
    return EligibilityResult(checked_at=NOW, origin="x12", **fields)


def test_active_plan_with_costs_for_the_visit_type():
    answer = in_desk_words(
        _result(
            status="active",
            payer_name="Cardinal Care",
            plan_name="OPEN ACCESS",
            benefits=[
                Benefit(kind="copay", service_type="30", amount=Decimal(20), in_network=True),
                Benefit(kind="copay", service_type="98", amount=Decimal(50), in_network=True),
                Benefit(
                    kind="coinsurance", service_type="98", percent=Decimal("0.15"), in_network=True
                ),
                Benefit(
                    kind="deductible", service_type="30", amount=Decimal(2000), time_period="23"
                ),
                Benefit(
                    kind="deductible", service_type="30", amount=Decimal(350), time_period="29"
                ),
            ],
        ),
        "98",
    )
    assert answer.tone == "active" and answer.headline.startswith("Covered")
    assert (answer.copay, answer.coinsurance) == (Decimal(50), Decimal("0.15"))
    assert (answer.deductible, answer.deductible_left) == (Decimal(2000), Decimal(350))
    assert answer.network == "In network"
    outside = in_desk_words(
        _result(
            status="active",
            benefits=[
                Benefit(kind="copay", service_type="30", amount=Decimal(20), in_network=False)
            ],
        ),
        "98",
    )
    assert outside.network is not None and outside.network.startswith("Out of network")


def test_a_rejection_says_what_to_do():
    answer = in_desk_words(
        _result(
            status="error",
            errors=[
                EligibilityError(
                    code="75",
                    description="subscriber not found: check member id and date of birth",
                    follow_up="correct and resubmit",
                )
            ],
        ),
        "30",
    )
    assert answer.tone == "needs_attention"
    assert answer.actions == [
        "subscriber not found: check member id and date of birth (correct and resubmit)"
    ]


def test_inactive_stale_and_self_pay():
    assert in_desk_words(_result(status="inactive"), "98").actions[-1].startswith("ask for current")
    stale = in_desk_words(_result(status="active", stale=True), "98")
    assert stale.tone == "needs_attention" and "not answering" in stale.headline
    assert in_desk_words(_result(status="unknown", self_pay=True), "98").tone == "self_pay"
