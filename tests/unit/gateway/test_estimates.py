"""The estimate for a visit, for each shape of coverage answer: copay only; deductible
partly met then coinsurance; out-of-pocket reached; self-pay and uninsured; and every
unknown piece answered as 'could not be determined', never $0."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from gateway.billing_config import BillingConfig
from gateway.services.collect import collect_for
from gateway.services.estimates import estimate
from gateway.services.prices import PriceBook, build_price_book
from gateway.settings import PayerConfig
from mappers.model import Benefit, EligibilityError, EligibilityResult

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
DAY = date(2026, 12, 8)
ACME = PayerConfig(id="acme", name="Acme Health", payer_ids=["ACME01"])
BILLING = BillingConfig(
    visit_types=[
        {
            "id": "office",
            "name": "Office visit, established patient",
            "codes": [{"code": "124"}],
            "service_type": "98",
            "items": [{"code": "99213"}],
        },
        {
            "id": "lab",
            "name": "Blood draw",
            "codes": [{"code": "LAB"}],
            "service_type": "5",
            "items": [{"code": "36415", "units": 2}],
        },
        {
            "id": "new",
            "name": "Office visit, new patient",
            "codes": [{"code": "NEW"}],
            "service_type": "98",
            "items": [{"code": "99203"}],
        },
    ],
    charges=[
        {
            "code": "99213",
            "gross": "250.10",
            "cash": "150.05",
            "negotiated": [{"payer": "acme", "amount": "100.10"}],
        },
        {"code": "36415", "gross": "35.00", "cash": "20.00"},
        {"code": "99203", "gross": "310.00", "negotiated": [{"payer": "acme", "amount": "140"}]},
    ],
)


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return build_price_book(BILLING, [ACME])


def visit(book: PriceBook, vid: str):
    found = book.visit_by_id(vid)
    assert found is not None
    return found


def answer(*benefits: Benefit, **fields: object) -> EligibilityResult:
    data: dict[str, object] = {
        "status": "active",
        "checked_at": NOW - timedelta(hours=1),
        "payer_id": "ACME01",
        "payer_name": "ACME HEALTH",
        "member_id": "M-1",
        "plan_name": "ACME PPO",
        "origin": "x12",
        "benefits": [Benefit(kind="active_coverage", service_type="30"), *benefits],
    }
    data.update(fields)
    return EligibilityResult.model_validate(data)


def copay(st: str, amount: str) -> Benefit:
    return Benefit(kind="copay", service_type=st, amount=Decimal(amount), in_network=True)


def coinsurance(st: str, percent: str) -> Benefit:
    return Benefit(kind="coinsurance", service_type=st, percent=Decimal(percent), in_network=True)


def left(kind: str, amount: str, level: str = "IND") -> Benefit:
    return Benefit(
        kind=kind,
        service_type="30",
        coverage_level=level,
        amount=Decimal(amount),
        time_period="29",
        in_network=True,
    )


def total(kind: str, amount: str) -> Benefit:
    return Benefit(
        kind=kind,
        service_type="30",
        coverage_level="IND",
        amount=Decimal(amount),
        time_period="23",
    )


def run(book: PriceBook, vid: str, coverage: EligibilityResult | None, payer=ACME):
    return estimate(visit(book, vid), DAY, book, coverage, payer, now=NOW)


def test_copay_only(book: PriceBook) -> None:
    out = run(book, "office", answer(copay("98", "25"), left("deductible", "900")))
    assert (out.status, out.basis) == ("estimated", "insured")
    assert out.patient_pays == Decimal("25.00")
    assert out.plan_pays == Decimal("75.10")
    assert out.allowed == Decimal("100.10")
    says = [s.says for s in out.steps]
    assert "Acme Health's negotiated rate for CPT 99213: $100.10." in says
    assert any(
        s.startswith("The plan sets a copay for Professional (Physician) Visit - Office")
        for s in says
    )
    assert says[-1] == "The patient pays $25.00; Acme Health pays $75.10."
    assert out.says == "Estimated $25.00 for the patient (Acme Health pays $75.10)."


def test_a_copay_above_the_rate_is_the_rate(book: PriceBook) -> None:
    out = run(book, "office", answer(copay("98", "120")))
    assert out.patient_pays == Decimal("100.10") and out.plan_pays == Decimal("0.00")
    assert any("more than the visit's rate" in s.says for s in out.steps)


def test_deductible_partly_met_then_coinsurance_in_decimal_cents(book: PriceBook) -> None:
    # $50.00 of the deductible left; 15% of the remaining $50.10 is $7.515: half a cent
    # that a float (7.514999...) rounds down and a bill rounds up.
    assert round(50.10 * 0.15, 2) == 7.51  # what float arithmetic would say
    out = run(
        book,
        "office",
        answer(
            coinsurance("98", "0.15"),
            left("deductible", "50.00"),
            left("deductible", "2400.00", "FAM"),
            total("deductible", "1500.00"),
            left("out_of_pocket", "4000"),
        ),
    )
    assert out.status == "estimated"
    assert out.patient_pays == Decimal("57.52")
    assert out.plan_pays == Decimal("42.58")
    amounts = [s.amount for s in out.steps if s.amount is not None]
    assert Decimal("50.00") in amounts and Decimal("7.52") in amounts
    says = " ".join(s.says for s in out.steps)
    assert "Deductible left this year (individual): $50.00" in says
    assert "Coinsurance 15% of the remaining $50.10: $7.52." in says
    assert "Out-of-pocket maximum left this year: $4,000.00 (not reached)." in says
    # JSON carries strings of cents, never floats.
    body = out.model_dump(mode="json")
    assert body["patient_pays"] == "57.52" and body["allowed"] == "100.10"


def test_a_met_deductible_leaves_coinsurance_only(book: PriceBook) -> None:
    out = run(
        book,
        "lab",
        answer(coinsurance("5", "0.2"), left("deductible", "0"), left("out_of_pocket", "100")),
        payer=ACME,
    )
    # 36415 has no Acme rate: the lab visit can't be priced for Acme.
    assert out.status == "could_not_be_determined"
    assert out.reasons == ["the price list has no negotiated rate for Acme Health for CPT 36415"]


def test_out_of_pocket_reached(book: PriceBook) -> None:
    out = run(
        book,
        "office",
        answer(
            coinsurance("98", "0.2"),
            left("deductible", "500"),
            left("out_of_pocket", "0.00"),
            left("out_of_pocket", "300", "FAM"),
        ),
    )
    assert out.status == "estimated"
    assert out.patient_pays == Decimal("0.00")
    assert out.plan_pays == Decimal("100.10")
    assert any("out-of-pocket maximum is reached" in s.says for s in out.steps)


def test_out_of_pocket_left_caps_the_estimate(book: PriceBook) -> None:
    out = run(book, "office", answer(left("deductible", "500"), left("out_of_pocket", "40.25")))
    assert out.patient_pays == Decimal("40.25")
    assert any("the patient pays at most that" in s.says for s in out.steps)


def test_self_pay_and_uninsured_pay_the_cash_price(book: PriceBook) -> None:
    self_pay = EligibilityResult(
        status="unknown", checked_at=NOW, origin="ehr", self_pay=True, messages=["self-pay"]
    )
    out = run(book, "office", self_pay, payer=None)
    assert (out.status, out.basis, out.patient_pays) == ("estimated", "self_pay", Decimal("150.05"))
    assert out.good_faith_estimate_owed
    uninsured = EligibilityResult(
        status="unknown", checked_at=NOW, origin="ehr", messages=["no current insurance"]
    )
    out = run(book, "lab", uninsured, payer=None)
    assert (out.basis, out.patient_pays) == ("uninsured", Decimal("40.00"))  # 2 x 20.00
    assert "no insurance in force" in out.steps[1].says


def test_unknown_rate_could_not_be_determined(book: PriceBook) -> None:
    other = PayerConfig(id="other", name="Other Plan", payer_ids=["OTH"])
    out = run(book, "office", answer(copay("98", "25")), payer=other)
    assert out.status == "could_not_be_determined"
    assert out.patient_pays is None and out.plan_pays is None
    assert out.reasons == ["the price list has no negotiated rate for Other Plan for CPT 99213"]
    assert out.says.startswith("Could not be determined: the price list has no negotiated rate")
    # A payer the hospital doesn't configure has no rates at all.
    out = run(book, "office", answer(copay("98", "25")), payer=None)
    assert out.status == "could_not_be_determined"
    assert "not among the hospital's configured payers" in out.reasons[0]


@pytest.mark.parametrize(
    ("coverage", "reason"),
    [
        (answer(copay("98", "25"), stale=True), "the payer isn't answering"),
        (
            answer(
                status="error",
                errors=[EligibilityError(code="42", description="payer not answering: try again")],
            ),
            "coverage check failed: payer not answering: try again",
        ),
        (answer(status="inactive"), "not active on that date"),
        (answer(status="unknown", origin="ehr"), "not verified with the payer"),
        (None, "coverage not checked yet"),
        (answer(coinsurance("98", "0.2")), "doesn't say how much of the deductible is left"),
        (answer(left("deductible", "20")), "gives no coinsurance for Professional"),
        (answer(copay("UC", "50")), "gives no copay for Professional (Physician) Visit"),
    ],
)
def test_every_unknown_piece_is_said_never_zero(
    book: PriceBook, coverage: EligibilityResult | None, reason: str
) -> None:
    out = run(book, "office", coverage)
    assert out.status == "could_not_be_determined"
    assert out.patient_pays is None
    assert any(reason in r for r in out.reasons), out.reasons


def test_a_deductible_that_covers_the_whole_visit_needs_no_coinsurance(book: PriceBook) -> None:
    out = run(book, "office", answer(left("deductible", "1000")))
    assert out.patient_pays == Decimal("100.10")
    assert any("didn't say how much of the out-of-pocket" in s.says for s in out.steps)


# --- what to collect ----------------------------------------------------------------------


def collect(book: PriceBook, vid: str, coverage: EligibilityResult | None, payer=ACME):
    return collect_for(
        visit(book, vid), DAY, book, coverage, payer, now=NOW, max_age=timedelta(hours=72)
    )


def test_collect_the_copay_even_without_a_rate(book: PriceBook) -> None:
    out = collect(book, "office", answer(copay("98", "25")))
    assert (out.status, out.kind, out.amount) == ("collect", "copay", Decimal("25.00"))
    # No rate for this payer: the copay is still what the desk collects.
    other = PayerConfig(id="other", name="Other Plan", payer_ids=["OTH"])
    assert collect(book, "office", answer(copay("98", "25")), other).amount == Decimal("25.00")
    # Capped by what is left of the out-of-pocket maximum.
    capped = collect(book, "office", answer(copay("98", "25"), left("out_of_pocket", "10")))
    assert capped.amount == Decimal("10.00")
    done = collect(book, "office", answer(copay("98", "25"), left("out_of_pocket", "0")))
    assert (done.status, done.amount) == ("nothing_due", Decimal("0.00"))


def test_collect_the_estimate_or_the_cash_price(book: PriceBook) -> None:
    out = collect(book, "office", answer(coinsurance("98", "0.2"), left("deductible", "20")))
    assert (out.status, out.kind, out.amount) == ("collect", "estimate", Decimal("36.02"))
    self_pay = EligibilityResult(status="unknown", checked_at=NOW, origin="ehr", self_pay=True)
    cash = collect(book, "office", self_pay, None)
    assert (cash.kind, cash.amount) == ("cash_price", Decimal("150.05"))


def test_collect_is_unknown_when_the_answer_is_old_or_missing(book: PriceBook) -> None:
    old = answer(copay("98", "25"), checked_at=NOW - timedelta(days=5))
    out = collect(book, "office", old)
    assert out.status == "unknown" and out.amount is None
    assert "coverage was last checked 2026-12-02" in out.reasons[0]
    assert collect(book, "office", None).status == "unknown"
    assert (
        collect_for(
            None, DAY, book, answer(copay("98", "25")), ACME, now=NOW, max_age=timedelta(hours=1)
        ).status
        == "unknown"
    )
