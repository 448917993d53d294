"""Good-faith estimates for uninsured and self-pay patients (No Surprises Act,
45 CFR 149.610), tracked from the booking to the bill.

- A booking opens one when the patient's insurance in force on the visit's date is
  self-pay, or there is none (uninsured); when the insurance can't be read it is opened
  anyway, marked ``insurance_unknown`` for the desk to confirm. Its due time follows the
  hospital's business days (``business_days.gfe_clock``). A patient may also ask for one
  (due within 3 business days of the request).
- Issuing it builds the document the rule requires (149.610(c)): the patient's name and
  birth date, the service in words and its date, each item with its billing code and
  expected charge (the cash price; the gross charge where there is none), grouped by
  who bills it, the provider and facility with NPI, TIN and where, the disclaimers. It is
  kept as issued, rendered as JSON and as a printable page, and audited by the router.
- A later bill (entered, or read from the EHR's Invoices where it keeps them) at least
  $400 above the estimate for a provider or facility is flagged: the patient may dispute
  it (patient-provider dispute resolution, 45 CFR 149.620).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

import jinja2

from connectors import UpstreamError
from mappers import MappingError, display_name
from mappers.model import Appointment, Coding, Coverage, Invoice, Patient, Practitioner

from ..billing_config import VisitType
from ..money_schemas import (
    BillIn,
    BillOut,
    GfeDocument,
    GfeItem,
    GfeOut,
    GfeParty,
    GfeRequest,
    IssueRequest,
    VisitOut,
)
from .business_days import GfeClock, gfe_clock
from .coverage import primary_coverage
from .errors import InvalidRequest, NotFound, ServiceError
from .estimates import visit_of_appointment
from .gfe_store import new_gfe_id
from .money import ZERO, cents, usd
from .money_desk import MoneyDesk
from .prices import item_label

__all__ = [
    "DISPUTE_THRESHOLD",
    "STYLE_HASH",
    "GfeIncomplete",
    "GfeRefused",
    "cancel_for_appointment",
    "get_gfe",
    "issue_gfe",
    "list_due",
    "open_for_booking",
    "record_bill",
    "render_html",
    "request_gfe",
]

# A bill this much above the estimate for one provider or facility may be disputed.
DISPUTE_THRESHOLD = Decimal("400.00")
_MAX_COVERAGES = 20
DISCLAIMERS = (
    "This is an estimate only. It lists the items and services reasonably expected for "
    "the care named above, as known on the day it was issued; the actual items, services "
    "or charges may differ.",
    "Other care your provider or facility recommends may have to be scheduled or asked "
    "for separately. It is not in this estimate; you can ask for a good-faith estimate "
    "of it.",
    "If you are billed at least $400 more than this estimate for any provider or facility "
    "listed, you have the right to dispute the bill through the patient-provider dispute "
    "resolution process. Start it within 120 calendar days of the date on the original "
    "bill. To learn how, visit www.cms.gov/nosurprises or call 1-800-985-3059. Starting a "
    "dispute will not affect the quality of the care you receive.",
    "This good-faith estimate is not a contract and does not require you to obtain the "
    "items or services listed.",
    "Keep a copy of this estimate.",
)


class GfeIncomplete(ServiceError):
    """Something the estimate must show is not known: nothing was issued."""

    code = "gfe_incomplete"
    title = "The good-faith estimate can't be issued yet"


class GfeRefused(ServiceError):
    code = "gfe_not_issued"
    title = "The good-faith estimate is not issued"


class BillUnavailable(ServiceError):
    code = "bill_unavailable"
    title = "The EHR doesn't share this bill"


def _visit_out(visit: VisitType | None, day: date) -> VisitOut | None:
    if visit is None:
        return None
    return VisitOut(id=visit.id, name=visit.name, service_type=visit.service_type, date=day)


def _day_of(desk: MoneyDesk, appointment: Appointment) -> date | None:
    return appointment.start.astimezone(desk.zone).date() if appointment.start else None


async def _insurance(desk: MoneyDesk, patient_id: str, day: date) -> tuple[str | None, list[str]]:
    """(why an estimate is owed: self_pay, uninsured or insurance_unknown; or None when
    the patient is insured on ``day``) and notes for the desk."""
    try:
        handle, ref = desk.sources.resolve(patient_id, "Patient", "patient")
        coverages = await handle.search_mapped(
            "Coverage",
            {"beneficiary": f"Patient/{ref.id}", "_count": str(_MAX_COVERAGES)},
            Coverage,
            limit=_MAX_COVERAGES,
        )
    except (UpstreamError, MappingError, NotFound, TimeoutError):
        return "insurance_unknown", [
            "the insurance on file could not be read when this was booked: confirm the "
            "patient is uninsured or self-pay, or cancel this estimate"
        ]
    chosen = primary_coverage(coverages, day)
    if chosen is None:
        return "uninsured", ["no insurance in force on the visit's date"]
    if chosen.self_pay:
        return "self_pay", ["the insurance on file for the visit's date is self-pay"]
    return None, []


def _record(
    desk: MoneyDesk,
    *,
    reason: str,
    patient_id: str,
    appointment_id: str | None,
    visit: VisitType | None,
    day: date,
    clock: GfeClock,
    notes: list[str],
    now: datetime,
) -> GfeOut:
    if visit is None:
        notes = [
            *notes,
            "the visit type has no billing codes configured (billing.visit_types): add it "
            "before issuing",
        ]
    return GfeOut(
        id=new_gfe_id(),
        status="open" if clock.required else "not_required",
        reason=reason,
        patient_id=patient_id,
        appointment_id=appointment_id,
        visit=_visit_out(visit, day),
        service_date=day,
        opened_at=now,
        due_at=clock.due_at,
        due_rule=clock.rule,
        notes=notes,
    )


async def open_for_booking(desk: MoneyDesk, appointment: Appointment) -> GfeOut | None:
    """The estimate a booking opens (None: the patient is insured, or no patient)."""
    day = _day_of(desk, appointment)
    if appointment.patient_id is None or day is None:
        return None
    now = desk.wall()
    reason, notes = await _insurance(desk, appointment.patient_id, day)
    if reason is None:
        return None
    clock = gfe_clock(
        desk.calendar, desk.zone, since=now.astimezone(desk.zone).date(), service_date=day
    )
    record = _record(
        desk,
        reason=reason,
        patient_id=appointment.patient_id,
        appointment_id=appointment.id,
        visit=visit_of_appointment(desk.book, appointment),
        day=day,
        clock=clock,
        notes=notes,
        now=now,
    )
    return await desk.gfes.open(desk.tenant.id, record)


async def cancel_for_appointment(desk: MoneyDesk, appointment_id: str) -> GfeOut | None:
    """The appointment is cancelled: its estimate, if not issued, is no longer due."""
    record = await desk.gfes.of_appointment(desk.tenant.id, appointment_id)
    if record is None or record.status not in ("open", "not_required"):
        return record
    record = record.model_copy(
        update={"status": "cancelled", "notes": [*record.notes, "the appointment was cancelled"]}
    )
    await desk.gfes.save(desk.tenant.id, record)
    return record


async def request_gfe(desk: MoneyDesk, body: GfeRequest) -> GfeOut:
    """A patient asks for an estimate: due within 3 business days of the request."""
    now = desk.wall()
    today = now.astimezone(desk.zone).date()
    clock = gfe_clock(desk.calendar, desk.zone, since=today, service_date=None, requested=True)
    if body.appointment_id is not None:
        if body.patient_id is not None or body.visit_type is not None:
            raise InvalidRequest("give appointment_id, or patient_id with visit_type and date")
        handle, ref = desk.sources.resolve(body.appointment_id, "Appointment", "appointment")
        appointment, _ = await handle.read_mapped(
            "Appointment", ref.id, Appointment, what="appointment"
        )
        day = _day_of(desk, appointment)
        if appointment.patient_id is None or day is None:
            raise InvalidRequest("the appointment has no patient or no start")
        existing = await desk.gfes.of_appointment(desk.tenant.id, body.appointment_id)
        if existing is not None and existing.status != "cancelled":
            if existing.status == "not_required":
                existing = existing.model_copy(
                    update={
                        "status": "open",
                        "reason": "requested",
                        "due_at": clock.due_at,
                        "due_rule": clock.rule,
                    }
                )
                await desk.gfes.save(desk.tenant.id, existing)
            return existing
        record = _record(
            desk,
            reason="requested",
            patient_id=appointment.patient_id,
            appointment_id=body.appointment_id,
            visit=visit_of_appointment(desk.book, appointment),
            day=day,
            clock=clock,
            notes=[],
            now=now,
        )
        return await desk.gfes.open(desk.tenant.id, record)
    if body.patient_id is None or body.visit_type is None or body.date is None:
        raise InvalidRequest("give appointment_id, or patient_id with visit_type and date")
    desk.sources.resolve(body.patient_id, "Patient", "patient")
    visit = desk.book.visit([Coding(system=body.visit_type.system, code=body.visit_type.code)])
    if visit is None:
        raise NotFound(
            "no price for this visit type: the hospital hasn't mapped it to billing codes "
            "(billing.visit_types)"
        )
    record = _record(
        desk,
        reason="requested",
        patient_id=body.patient_id,
        appointment_id=None,
        visit=visit,
        day=body.date,
        clock=clock,
        notes=[],
        now=now,
    )
    return await desk.gfes.open(desk.tenant.id, record)


def _shown(record: GfeOut, now: datetime) -> GfeOut:
    overdue = record.status == "open" and record.due_at is not None and record.due_at < now
    return record.model_copy(update={"overdue": overdue})


async def list_due(desk: MoneyDesk, before: datetime, *, limit: int = 200) -> list[GfeOut]:
    now = desk.wall()
    return [_shown(r, now) for r in await desk.gfes.due(desk.tenant.id, before, limit)]


async def list_for_patient(desk: MoneyDesk, patient_id: str) -> list[GfeOut]:
    now = desk.wall()
    return [_shown(r, now) for r in await desk.gfes.of_patient(desk.tenant.id, patient_id)]


async def get_gfe(desk: MoneyDesk, gfe_id: str) -> GfeOut:
    record = await desk.gfes.get(desk.tenant.id, gfe_id)
    if record is None:
        raise NotFound("no such good-faith estimate")
    return _shown(record, desk.wall())


# --- issuing ------------------------------------------------------------------------------


async def issue_gfe(desk: MoneyDesk, gfe_id: str, body: IssueRequest) -> GfeOut:
    """Build and keep the document; an issued estimate is returned as it was issued."""
    record = await get_gfe(desk, gfe_id)
    if record.status == "issued":
        return record
    if record.status == "cancelled":
        raise GfeRefused("the estimate was cancelled with its appointment: open a new one")
    visit = desk.book.visit_by_id(record.visit.id) if record.visit is not None else None
    if visit is None or record.visit is None:
        raise GfeIncomplete(
            "the visit type has no billing codes configured (billing.visit_types): nothing "
            "to estimate"
        )
    billing = desk.tenant.billing
    if billing.facility is None:
        raise GfeIncomplete("billing.facility (its name, NPI and TIN) is not configured")
    patient = await _patient(desk, record.patient_id)
    items, problems = _items(desk, visit)
    parties = [
        GfeParty(
            role="facility",
            name=billing.facility.name,
            npi=billing.facility.npi,
            tin=billing.facility.tin,
            address=billing.facility.address,
            state=billing.facility.state,
        )
    ]
    if any(i.billed_by == "professional" for i in items):
        professional, missing = await _professional(desk, record)
        problems.extend(missing)
        if professional is not None:
            parties.append(professional)
    if problems:
        raise GfeIncomplete("; ".join(problems), extra={"problems": problems})
    totals: dict[str, Decimal] = {}
    for item in items:
        totals[item.billed_by] = cents(totals.get(item.billed_by, ZERO) + item.expected_charge)
    now = desk.wall()
    document = GfeDocument(
        title="Good Faith Estimate",
        patient_name=display_name(patient.name) if patient.name else "(name not on file)",
        patient_birth_date=patient.birth_date,
        service=visit.name,
        service_date=record.service_date,
        diagnosis_codes=list(body.diagnosis_codes),
        parties=parties,
        items=items,
        total=cents(sum((i.expected_charge for i in items), ZERO)),
        totals_by_party=totals,
        separately_scheduled=[],
        disclaimers=list(DISCLAIMERS),
        issued_at=now,
    )
    issued = record.model_copy(
        update={"status": "issued", "issued_at": now, "document": document, "overdue": False}
    )
    await desk.gfes.save(desk.tenant.id, issued)
    return _shown(issued, now)


async def _patient(desk: MoneyDesk, patient_id: str) -> Patient:
    handle, ref = desk.sources.resolve(patient_id, "Patient", "patient")
    patient, _ = await handle.read_mapped("Patient", ref.id, Patient, what="patient")
    return patient


def _items(desk: MoneyDesk, visit: VisitType) -> tuple[list[GfeItem], list[str]]:
    items: list[GfeItem] = []
    problems: list[str] = []
    for item in visit.items:
        prices = desk.book.prices(item, visit.setting)
        expected = prices.cash.amount if prices.cash.amount is not None else prices.gross.amount
        if expected is None:
            problems.append(
                prices.cash.reason or f"the price list has no price for {item_label(item)}"
            )
            continue
        items.append(
            GfeItem(
                billed_by=item.billed_by,
                description=prices.description or visit.name,
                code_type=item.code_type,
                code=item.code,
                units=item.units,
                modifiers=list(item.modifiers),
                expected_charge=expected,
            )
        )
    return items, problems


async def _professional(desk: MoneyDesk, record: GfeOut) -> tuple[GfeParty | None, list[str]]:
    billing = desk.tenant.billing
    tin = billing.professional_tin or (billing.facility.tin if billing.facility else None)
    if record.appointment_id is None:
        return None, ["professional charges need the appointment's practitioner"]
    handle, ref = desk.sources.resolve(record.appointment_id, "Appointment", "appointment")
    appointment, _ = await handle.read_mapped(
        "Appointment", ref.id, Appointment, what="appointment"
    )
    practitioner_id = next(
        (p.ref for p in appointment.participants if p.kind == "practitioner" and p.ref), None
    )
    if practitioner_id is None:
        return None, ["the appointment names no practitioner for the professional charges"]
    phandle, pref = desk.sources.resolve(practitioner_id, "Practitioner", "practitioner")
    practitioner, _ = await phandle.read_mapped(
        "Practitioner", pref.id, Practitioner, what="practitioner"
    )
    if practitioner.npi is None:
        return None, ["the practitioner's NPI is not in the EHR"]
    facility = billing.facility
    name = display_name(practitioner.name, with_prefix=True) if practitioner.name else ""
    return (
        GfeParty(
            role="professional",
            name=name or "(practitioner)",
            npi=practitioner.npi,
            tin=tin,
            address=facility.address if facility else None,
            state=facility.state if facility else None,
        ),
        [],
    )


# --- the bill -----------------------------------------------------------------------------


async def record_bill(desk: MoneyDesk, gfe_id: str, body: BillIn) -> GfeOut:
    """Compare a bill with the issued estimate; flag it when it is $400 or more above."""
    record = await get_gfe(desk, gfe_id)
    if record.status != "issued" or record.document is None:
        raise GfeRefused("a bill is compared with an issued estimate: issue it first")
    document = record.document
    if body.from_ehr:
        if body.amount is not None:
            raise InvalidRequest("give amount, or from_ehr, not both")
        amount, source = await _bill_from_ehr(desk, record), "ehr"
    elif body.amount is not None:
        amount, source = Decimal(body.amount), "entered"
    else:
        raise InvalidRequest("give the billed amount, or from_ehr")
    if body.billed_by is not None:
        if body.billed_by not in document.totals_by_party:
            raise InvalidRequest(f"the estimate has no {body.billed_by} charges")
        estimated = document.totals_by_party[body.billed_by]
    else:
        estimated = document.total
    over = cents(amount - estimated)
    now = desk.wall()
    bill = BillOut(
        amount=cents(amount),
        billed_by=body.billed_by,
        recorded_at=now,
        source=source,
        over_estimate=over,
        flagged=over >= DISPUTE_THRESHOLD,
    )
    bills = [*record.bills, bill]
    updated = record.model_copy(update={"bills": bills, "flagged": any(b.flagged for b in bills)})
    await desk.gfes.save(desk.tenant.id, updated)
    return _shown(updated, now)


async def _bill_from_ehr(desk: MoneyDesk, record: GfeOut) -> Decimal:
    handle, ref = desk.sources.resolve(record.patient_id, "Patient", "patient")
    if not handle.client.profile.invoices:
        raise BillUnavailable(
            "this EHR doesn't share its bills: enter the amount from the patient's bill",
            extra={"source": handle.id},
        )
    day = record.service_date.isoformat()
    invoices = await handle.search_mapped(
        "Invoice",
        {"patient": f"Patient/{ref.id}", "date": day, "_count": "50"},
        Invoice,
        limit=50,
    )
    billed = [
        i.total_net if i.total_net is not None else i.total_gross
        for i in invoices
        if i.status in ("issued", "balanced")
    ]
    amounts = [a for a in billed if a is not None]
    if not amounts:
        raise BillUnavailable(
            f"the EHR has no bill for this patient dated {day}: enter the amount from the bill",
            extra={"source": handle.id},
        )
    return cents(sum(amounts, ZERO))


# --- the printable page -------------------------------------------------------------------

# The page's own style, inline (a printable page is one file); pages served under a
# Content-Security-Policy allow exactly it by its hash (``STYLE_HASH``).
STYLE = """
body { font: 11pt/1.45 system-ui, sans-serif; color: #111; max-width: 48rem;
       margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .4rem; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid #ddd;
         vertical-align: top; }
td.amount, th.amount { text-align: right; white-space: nowrap; }
tfoot td { font-weight: 600; border-bottom: none; }
.meta { color: #333; }
.disclaimers li { margin-bottom: .5rem; }
@media print { body { margin: 0; max-width: none; } }
"""
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("gateway", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["usd"] = usd
    return environment


def render_html(record: GfeOut) -> str:
    if record.document is None:
        raise GfeRefused("the estimate is not issued yet: issue it to print it")
    return _templates().get_template("gfe.html").render(gfe=record, doc=record.document, css=STYLE)
