"""What to collect at the desk today, when the coverage answer allows saying it.

From the patient's latest coverage answer (cached by every check, the day's batch
verification included: no payer is called here) and the visit's prices:

- the copay for the visit's service type (at most the visit's rate when the price list
  has it, and at most what is left of the out-of-pocket maximum);
- with no copay, the estimate of what the patient owes (deductible, coinsurance, cap);
- self-pay or uninsured: the cash price;
- otherwise ``unknown``, with the reasons (not checked yet, checked too long ago, stale,
  failed, inactive, the visit's service type not in the answer, no price).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from mappers.model import Appointment, EligibilityResult

from ..billing_config import VisitType
from ..money_schemas import CollectOut
from ..schemas import AppointmentOut
from ..settings import PayerConfig
from .estimates import (
    estimate,
    judge_coverage,
    left_of,
    per_visit,
    service_words,
    tightest,
    visit_of_appointment,
)
from .money import ZERO, cents, usd
from .money_desk import MoneyDesk
from .prices import PriceBook

__all__ = ["collect_for", "collect_for_appointment", "fill_collect"]

_NO_VISIT = (
    "this visit type has no billing codes configured (billing.visit_types): the amount "
    "can't be told"
)


def _unknown(reasons: Sequence[str]) -> CollectOut:
    return CollectOut(
        status="unknown",
        says="Amount to collect not known: " + "; ".join(reasons),
        reasons=list(reasons),
    )


def collect_for(
    visit: VisitType | None,
    day: date,
    book: PriceBook,
    coverage: EligibilityResult | None,
    payer: PayerConfig | None,
    *,
    now: datetime,
    max_age: timedelta,
) -> CollectOut:
    """What to collect for one visit; pure."""
    verdict = judge_coverage(coverage, now=now, max_age=max_age)
    if verdict.basis == "unknown":
        return _unknown(verdict.reasons)
    if visit is None:
        return _unknown([_NO_VISIT])
    if verdict.basis in ("self_pay", "uninsured"):
        found = estimate(visit, day, book, coverage, payer, now=now, max_age=max_age)
        if found.patient_pays is None:
            return _unknown(found.reasons)
        return CollectOut(
            status="collect",
            amount=found.patient_pays,
            kind="cash_price",
            says=f"Collect {usd(found.patient_pays)}: the cash price (self-pay).",
        )
    assert coverage is not None
    benefits = coverage.benefits
    service = service_words(visit.service_type, benefits)
    copay = per_visit(benefits, "copay", visit.service_type)
    if copay is not None and copay.amount is not None:
        return _copay(visit, book, coverage, payer, cents(copay.amount), service)
    found = estimate(visit, day, book, coverage, payer, now=now, max_age=max_age)
    if found.patient_pays is None:
        return _unknown(found.reasons)
    if found.patient_pays == ZERO:
        return CollectOut(
            status="nothing_due",
            amount=ZERO,
            kind="estimate",
            says="Nothing to collect: the plan pays this visit in full.",
        )
    return CollectOut(
        status="collect",
        amount=found.patient_pays,
        kind="estimate",
        says=f"Collect {usd(found.patient_pays)}: the estimate of what the patient owes "
        "(deductible and coinsurance).",
    )


def _copay(
    visit: VisitType,
    book: PriceBook,
    coverage: EligibilityResult,
    payer: PayerConfig | None,
    copay: Decimal,
    service: str,
) -> CollectOut:
    due, why = copay, f"the copay for {service}"
    if payer is not None:
        rates = [
            book.prices(item, visit.setting).negotiated(payer.id, payer.name, coverage.plan_name)
            for item in visit.items
        ]
        known = [r.amount for r in rates if r.amount is not None]
        if len(known) == len(rates):
            allowed = cents(sum(known, ZERO))
            if allowed < due:
                due, why = allowed, "the visit's rate, which is less than the copay"
    left = left_of(coverage.benefits, "out_of_pocket", visit.service_type)
    if left:
        cap, _ = tightest(left)
        if cap < due:
            due, why = cap, "what is left of the out-of-pocket maximum"
    if due == ZERO:
        return CollectOut(
            status="nothing_due",
            amount=ZERO,
            kind="copay",
            says=f"Nothing to collect: {why} is {usd(ZERO)}.",
        )
    return CollectOut(
        status="collect", amount=due, kind="copay", says=f"Collect {usd(due)}: {why}."
    )


async def collect_for_appointment(desk: MoneyDesk, appointment: Appointment) -> CollectOut:
    """What to collect for one appointment (its patient's latest coverage answer)."""
    if appointment.patient_id is None or appointment.start is None:
        return _unknown(["the appointment has no patient or no start"])
    latest = await desk.store.latest(desk.tenant.id, appointment.patient_id)
    return _for(desk, appointment, latest)


def _for(desk: MoneyDesk, appointment: Appointment, latest: EligibilityResult | None) -> CollectOut:
    assert appointment.start is not None
    payer = desk.coverage.payer_config(latest.payer_id, latest.payer_name) if latest else None
    return collect_for(
        visit_of_appointment(desk.book, appointment),
        appointment.start.astimezone(desk.zone).date(),
        desk.book,
        latest,
        payer,
        now=desk.wall(),
        max_age=timedelta(hours=desk.tenant.billing.collect_max_age_hours),
    )


async def fill_collect(desk: MoneyDesk, items: list[AppointmentOut]) -> list[AppointmentOut]:
    """The day's worklist, each appointment with what to collect at it."""
    answers: dict[str, EligibilityResult | None] = {}
    out: list[AppointmentOut] = []
    for item in items:
        if item.patient_id is None or item.start is None:
            out.append(item.model_copy(update={"collect": _unknown(["no patient or no start"])}))
            continue
        if item.patient_id not in answers:
            answers[item.patient_id] = await desk.store.latest(desk.tenant.id, item.patient_id)
        collect = _for(desk, item, answers[item.patient_id])
        out.append(item.model_copy(update={"collect": collect}))
    return out
