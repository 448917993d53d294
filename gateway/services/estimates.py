"""What a visit will cost the patient, from the hospital's prices and the coverage answer.

- Insured: the payer's negotiated rate for the visit's codes (the price list), then the
  coverage answer for the visit's service type: a copay when the plan sets one; else the
  deductible that is left, then coinsurance on the rest; the out-of-pocket maximum that
  is left caps it all.
- Self-pay (the insurance on file is self-pay) and uninsured (no insurance in force on
  the date): the hospital's cash price.
- Anything unknown (no rate for that payer, a code not in the price list, a coverage
  answer that is stale, failed, unverified or inactive, a benefit the payer didn't
  report) makes the estimate ``could_not_be_determined`` with the reasons, never $0.

``estimate`` is pure: given the visit, the prices and the coverage answer it says each
step in words. ``estimate_visit`` gathers those (the appointment, the coverage check) and
calls it. Amounts are Decimal, rounded half up to the cent at each step (``money``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from mappers.model import Appointment, Benefit, Coding, EligibilityResult
from mappers.x12.codes import SERVICE_TYPES

from ..billing_config import VisitType
from ..money_schemas import (
    CoverageSeen,
    EstimateLine,
    EstimateOut,
    EstimateRequest,
    EstimateStep,
    VisitOut,
)
from ..settings import PayerConfig
from .coverage import CoverageQuery, check_coverage
from .errors import InvalidRequest, NotFound
from .money import ZERO, cents, usd
from .money_desk import MoneyDesk
from .prices import ItemPrices, PriceBook, item_label

__all__ = [
    "PLAN",
    "Basis",
    "CoverageVerdict",
    "estimate",
    "estimate_visit",
    "judge_coverage",
    "left_of",
    "per_visit",
    "service_words",
    "tightest",
    "visit_of_appointment",
]

Basis = Literal["insured", "self_pay", "uninsured", "unknown"]
_REMAINING = "29"  # X12 EB06 time period "Remaining" (the FHIR mapping uses it too)
PLAN = "30"


@dataclass(frozen=True)
class CoverageVerdict:
    """What the coverage answer allows: a basis to price on, or the reasons it can't."""

    basis: Basis
    reasons: tuple[str, ...] = ()


def _uninsured(result: EligibilityResult) -> bool:
    # The EHR's answer when no insurance is in force on the date (coverage._NO_COVERAGE):
    # nothing names a payer or a member.
    return (
        result.origin == "ehr"
        and result.status == "unknown"
        and not result.self_pay
        and result.payer_id is None
        and result.member_id is None
        and result.payer_name is None
    )


def judge_coverage(
    result: EligibilityResult | None, *, now: datetime, max_age: timedelta | None = None
) -> CoverageVerdict:
    if result is None:
        return CoverageVerdict("unknown", ("coverage not checked yet: check coverage first",))
    if result.self_pay:
        return CoverageVerdict("self_pay")
    if _uninsured(result):
        return CoverageVerdict("uninsured")
    if max_age is not None and now - result.checked_at > max_age:
        return CoverageVerdict(
            "unknown",
            (f"coverage was last checked {result.checked_at.date().isoformat()}: check it again",),
        )
    if result.stale:
        return CoverageVerdict(
            "unknown",
            (
                "the payer isn't answering; its last answer, from "
                f"{result.checked_at.date().isoformat()}, may be out of date",
            ),
        )
    if result.status == "error":
        words = [e.description for e in result.errors] or ["the payer's answer was an error"]
        return CoverageVerdict("unknown", tuple(f"coverage check failed: {w}" for w in words))
    if result.status == "unknown":
        return CoverageVerdict(
            "unknown",
            (
                "coverage not verified with the payer (it has no real-time eligibility "
                "service here): the copay and deductible are not known",
            ),
        )
    if result.status == "inactive":
        return CoverageVerdict(
            "unknown",
            (
                "the payer says the coverage is not active on that date: ask for current "
                "insurance, or price the visit as self-pay",
            ),
        )
    return CoverageVerdict("insured")


def service_words(code: str, benefits: Sequence[Benefit]) -> str:
    shown = next((b.service_type_display for b in benefits if b.service_type == code), None)
    return f"{shown or SERVICE_TYPES.get(code, 'service type ' + code)} (service type {code})"


def _fits(b: Benefit, kind: str, service_type: str) -> bool:
    if b.kind != kind or b.in_network is False:
        return False
    return b.service_type == service_type or (service_type == PLAN and b.service_type is None)


def _individual_first(found: list[Benefit]) -> Benefit | None:
    return next(
        (b for b in found if (b.coverage_level or "IND").upper() in ("IND", "INDIVIDUAL")),
        found[0] if found else None,
    )


def per_visit(benefits: Sequence[Benefit], kind: str, service_type: str) -> Benefit | None:
    """A copay or coinsurance for the service type (the plan's, 30, as a fallback for
    coinsurance only: a plan-level copay is not a visit's)."""
    types = (service_type,) if kind == "copay" else (service_type, PLAN)
    for wanted in dict.fromkeys(types):
        found = [
            b
            for b in benefits
            if _fits(b, kind, wanted)
            and (b.amount is not None if kind == "copay" else b.percent is not None)
            and b.time_period != _REMAINING
        ]
        if found:
            return _individual_first(found)
    return None


def left_of(benefits: Sequence[Benefit], kind: str, service_type: str) -> list[Benefit]:
    """What is left of a deductible or out-of-pocket maximum (time period "remaining"),
    the service type's or the plan's; an individual and a family one both bind."""
    for wanted in dict.fromkeys((service_type, PLAN)):
        found = [
            b
            for b in benefits
            if _fits(b, kind, wanted) and b.amount is not None and b.time_period == _REMAINING
        ]
        if found:
            return found
    return []


def tightest(found: list[Benefit]) -> tuple[Decimal, str]:
    best = min(found, key=lambda b: b.amount or ZERO)
    level = (best.coverage_level or "").upper()
    words = {"IND": "individual", "FAM": "family"}.get(level, "")
    return cents(best.amount or ZERO), words


def _lines(
    visit: VisitType, priced: list[ItemPrices], rates: list[Decimal | None]
) -> list[EstimateLine]:
    return [
        EstimateLine(
            code=p.item.code,
            code_type=p.item.code_type,
            units=p.item.units,
            modifiers=list(p.item.modifiers),
            description=p.description,
            gross=p.gross.amount,
            cash=p.cash.amount,
            negotiated=rate,
        )
        for p, rate in zip(priced, rates, strict=True)
    ]


def _visit_out(visit: VisitType, day: date) -> VisitOut:
    return VisitOut(id=visit.id, name=visit.name, service_type=visit.service_type, date=day)


def _coverage_seen(result: EligibilityResult | None) -> CoverageSeen | None:
    if result is None:
        return None
    return CoverageSeen(
        status=result.status,
        checked_at=result.checked_at,
        payer_name=result.payer_name,
        plan_name=result.plan_name,
        cached=result.cached,
        stale=result.stale,
        self_pay=result.self_pay,
    )


def _undetermined(
    basis: Basis, steps: list[EstimateStep], reasons: list[str], **extra: object
) -> EstimateOut:
    return EstimateOut(
        status="could_not_be_determined",
        basis=basis,
        says="Could not be determined: " + "; ".join(reasons),
        steps=steps,
        reasons=reasons,
        **extra,
    )


def estimate(
    visit: VisitType,
    day: date,
    book: PriceBook,
    coverage: EligibilityResult | None,
    payer: PayerConfig | None,
    *,
    now: datetime,
    max_age: timedelta | None = None,
) -> EstimateOut:
    """The estimate for one visit; pure."""
    priced = [book.prices(item, visit.setting) for item in visit.items]
    codes = ", ".join(item_label(i) + (f" x{i.units}" if i.units > 1 else "") for i in visit.items)
    steps = [EstimateStep(says=f"Visit: {visit.name} ({codes}) on {day.isoformat()}.")]
    verdict = judge_coverage(coverage, now=now, max_age=max_age)
    common: dict[str, object] = {
        "visit": _visit_out(visit, day),
        "coverage": _coverage_seen(coverage),
    }
    if verdict.basis in ("self_pay", "uninsured"):
        return _cash(visit, priced, steps, verdict.basis, common)
    if verdict.basis == "unknown":
        common["lines"] = _lines(visit, priced, [None] * len(priced))
        return _undetermined("unknown", steps, list(verdict.reasons), **common)
    assert coverage is not None  # insured
    return _insured(visit, priced, steps, coverage, payer, common)


def _cash(
    visit: VisitType,
    priced: list[ItemPrices],
    steps: list[EstimateStep],
    basis: Basis,
    common: dict[str, object],
) -> EstimateOut:
    why = (
        "the insurance on file for that date is self-pay"
        if basis == "self_pay"
        else "no insurance in force on that date (if the patient has insurance, add it "
        "and ask again)"
    )
    steps.append(EstimateStep(says=f"Priced at the hospital's cash price: {why}."))
    common["lines"] = _lines(visit, priced, [None] * len(priced))
    common["good_faith_estimate_owed"] = True
    reasons = [p.cash.reason for p in priced if p.cash.amount is None and p.cash.reason]
    if reasons:
        return _undetermined(basis, steps, reasons, **common)
    total = ZERO
    for p in priced:
        assert p.cash.amount is not None
        total += p.cash.amount
        steps.append(
            EstimateStep(
                says=f"Cash price for {item_label(p.item)}: {usd(p.cash.amount)}.",
                amount=p.cash.amount,
            )
        )
    total = cents(total)
    steps.append(EstimateStep(says=f"The patient pays {usd(total)}.", amount=total))
    return EstimateOut(
        status="estimated",
        basis=basis,
        says=f"Estimated {usd(total)} for the patient (cash price; a good-faith estimate is owed).",
        patient_pays=total,
        plan_pays=None,
        allowed=total,
        steps=steps,
        **common,
    )


def _insured(
    visit: VisitType,
    priced: list[ItemPrices],
    steps: list[EstimateStep],
    coverage: EligibilityResult,
    payer: PayerConfig | None,
    common: dict[str, object],
) -> EstimateOut:
    payer_name = (payer.name if payer else None) or coverage.payer_name or "the payer"
    if payer is None:
        common["lines"] = _lines(visit, priced, [None] * len(priced))
        return _undetermined(
            "insured",
            steps,
            [f"{payer_name} is not among the hospital's configured payers: no rates for it"],
            **common,
        )
    rates = [p.negotiated(payer.id, payer_name, coverage.plan_name) for p in priced]
    common["lines"] = _lines(visit, priced, [r.amount for r in rates])
    reasons = [r.reason for r in rates if r.amount is None and r.reason]
    if reasons:
        return _undetermined("insured", steps, reasons, **common)
    allowed = ZERO
    for p, rate in zip(priced, rates, strict=True):
        assert rate.amount is not None
        allowed += rate.amount
        note = f" ({rate.note})" if rate.note else ""
        steps.append(
            EstimateStep(
                says=f"{payer_name}'s negotiated rate for {item_label(p.item)}: "
                f"{usd(rate.amount)}{note}.",
                amount=rate.amount,
            )
        )
    allowed = cents(allowed)
    if len(priced) > 1:
        steps.append(EstimateStep(says=f"The visit's rate: {usd(allowed)}.", amount=allowed))
    benefits = coverage.benefits
    service = service_words(visit.service_type, benefits)
    if visit.service_type != PLAN and not any(
        b.service_type == visit.service_type for b in benefits
    ):
        steps.append(
            EstimateStep(
                says=f"The payer's answer has nothing specific to {service}: the plan's own "
                "deductible and coinsurance are used."
            )
        )
    copay = per_visit(benefits, "copay", visit.service_type)
    if copay is not None:
        pays = _copay(copay, allowed, service, steps)
    else:
        pays_or_reason = _deductible_then_coinsurance(
            allowed, benefits, visit.service_type, service, steps
        )
        if isinstance(pays_or_reason, str):
            return _undetermined("insured", steps, [pays_or_reason], allowed=allowed, **common)
        pays = pays_or_reason
    pays = _cap(pays, benefits, visit.service_type, steps)
    plan_pays = cents(allowed - pays)
    steps.append(
        EstimateStep(
            says=f"The patient pays {usd(pays)}; {payer_name} pays {usd(plan_pays)}.", amount=pays
        )
    )
    return EstimateOut(
        status="estimated",
        basis="insured",
        says=f"Estimated {usd(pays)} for the patient ({payer_name} pays {usd(plan_pays)}).",
        patient_pays=pays,
        plan_pays=plan_pays,
        allowed=allowed,
        steps=steps,
        **common,
    )


def _copay(copay: Benefit, allowed: Decimal, service: str, steps: list[EstimateStep]) -> Decimal:
    amount = cents(copay.amount or ZERO)
    steps.append(
        EstimateStep(
            says=f"The plan sets a copay for {service}: {usd(amount)} (the deductible and "
            "coinsurance don't apply to a copay visit).",
            amount=amount,
        )
    )
    if amount > allowed:
        steps.append(
            EstimateStep(
                says=f"The copay is more than the visit's rate: the patient pays the rate, "
                f"{usd(allowed)}.",
                amount=allowed,
            )
        )
        return allowed
    return amount


def _deductible_then_coinsurance(
    allowed: Decimal,
    benefits: Sequence[Benefit],
    service_type: str,
    service: str,
    steps: list[EstimateStep],
) -> Decimal | str:
    deductible = left_of(benefits, "deductible", service_type)
    if not deductible:
        return (
            f"the coverage answer gives no copay for {service} and doesn't say how much of "
            "the deductible is left"
        )
    left, level = tightest(deductible)
    to_deductible = min(left, allowed)
    if left == ZERO:
        steps.append(EstimateStep(says="The deductible is met for this year.", amount=ZERO))
    else:
        whose = f" ({level})" if level and len(deductible) > 1 else ""
        steps.append(
            EstimateStep(
                says=f"Deductible left this year{whose}: {usd(left)}; the first "
                f"{usd(to_deductible)} of the visit is the patient's.",
                amount=to_deductible,
            )
        )
    rest = cents(allowed - to_deductible)
    if rest == ZERO:
        return to_deductible
    coinsurance = per_visit(benefits, "coinsurance", service_type)
    if coinsurance is None or coinsurance.percent is None:
        return (
            f"the coverage answer gives no coinsurance for {service}: the patient's share of "
            f"the {usd(rest)} past the deductible is not known"
        )
    share = cents(rest * coinsurance.percent)
    percent = (coinsurance.percent * 100).normalize()
    steps.append(
        EstimateStep(
            says=f"Coinsurance {percent:f}% of the remaining {usd(rest)}: {usd(share)}.",
            amount=share,
        )
    )
    return cents(to_deductible + share)


def _cap(
    pays: Decimal, benefits: Sequence[Benefit], service_type: str, steps: list[EstimateStep]
) -> Decimal:
    found = left_of(benefits, "out_of_pocket", service_type)
    if not found:
        steps.append(
            EstimateStep(
                says="The payer didn't say how much of the out-of-pocket maximum is left: "
                "the amount is not capped by it."
            )
        )
        return pays
    left, _ = tightest(found)
    if left == ZERO:
        steps.append(
            EstimateStep(
                says="The out-of-pocket maximum is reached for this year: the plan pays the rest.",
                amount=ZERO,
            )
        )
        return ZERO
    if pays > left:
        steps.append(
            EstimateStep(
                says=f"Out-of-pocket maximum left this year: {usd(left)}: the patient pays at "
                "most that.",
                amount=left,
            )
        )
        return left
    steps.append(
        EstimateStep(says=f"Out-of-pocket maximum left this year: {usd(left)} (not reached).")
    )
    return pays


# --- gathering the pieces -----------------------------------------------------------------


def visit_of_appointment(book: PriceBook, appointment: Appointment) -> VisitType | None:
    codings: list[Coding] = list(appointment.service_type_codings)
    if appointment.appointment_type_coding is not None:
        codings.append(appointment.appointment_type_coding)
    return book.visit(codings)


def _visit_named(book: PriceBook, codings: list[Coding]) -> VisitType:
    visit = book.visit(codings)
    if visit is None:
        raise NotFound(
            "no price for this visit type: the hospital hasn't mapped it to billing codes "
            "(billing.visit_types)"
        )
    return visit


async def estimate_visit(ports: MoneyDesk, body: EstimateRequest) -> EstimateOut:
    zone = ports.zone
    appointment_id: str | None = None
    if body.appointment_id is not None:
        if body.patient_id is not None or body.visit_type is not None:
            raise InvalidRequest("give appointment_id, or patient_id with visit_type, not both")
        handle, ref = ports.sources.resolve(body.appointment_id, "Appointment", "appointment")
        appointment, _ = await handle.read_mapped(
            "Appointment", ref.id, Appointment, what="appointment"
        )
        if appointment.patient_id is None:
            raise InvalidRequest("the appointment has no patient")
        visit = visit_of_appointment(ports.book, appointment)
        if visit is None:
            raise NotFound(
                "no price for this appointment's visit type: the hospital hasn't mapped it "
                "to billing codes (billing.visit_types)"
            )
        patient_id = appointment.patient_id
        appointment_id = body.appointment_id
        day = body.date or (
            appointment.start.astimezone(zone).date()
            if appointment.start is not None
            else ports.today()
        )
    else:
        if body.patient_id is None or body.visit_type is None:
            raise InvalidRequest("give appointment_id, or patient_id with visit_type")
        patient_id = body.patient_id
        visit = _visit_named(
            ports.book, [Coding(system=body.visit_type.system, code=body.visit_type.code)]
        )
        day = body.date or ports.today()
    asked = tuple(dict.fromkeys((visit.service_type, PLAN)))
    answer = await check_coverage(
        ports.coverage,
        CoverageQuery(patient_id=patient_id, service_types=asked, date_of_service=day),
    )
    result = answer.result
    payer = ports.coverage.payer_config(result.payer_id, result.payer_name)
    out = estimate(visit, day, ports.book, result, payer, now=ports.wall())
    return out.model_copy(update={"patient_id": patient_id, "appointment_id": appointment_id})
