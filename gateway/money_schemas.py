"""Request and response bodies of the money questions (API v1): estimates, what to collect
today, good-faith estimates and balances.

Amounts go out as strings of dollars and cents (``"104.69"``), never as JSON numbers:
a client that parses them as floats can't round them wrong without saying so.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from mappers.model import Appointment

from .params import GATEWAY_ID_PATTERN, BodyDate
from .services.money import cents

__all__ = [
    "AmountOut",
    "BalanceOut",
    "BillIn",
    "BillOut",
    "CheckedIn",
    "CollectOut",
    "EstimateLine",
    "EstimateOut",
    "EstimateRequest",
    "EstimateStep",
    "GfeDocument",
    "GfeItem",
    "GfeOut",
    "GfeParty",
    "GfeRequest",
    "IssueRequest",
    "VisitOut",
    "VisitTypeIn",
]

_MONEY_SCHEMA = {
    "type": "string",
    "pattern": r"^-?[0-9]+\.[0-9]{2}$",
    "description": "US dollars and cents, as text.",
}
AmountOut = Annotated[
    Decimal,
    PlainSerializer(lambda d: f"{cents(d):.2f}", return_type=str, when_used="json"),
    WithJsonSchema(_MONEY_SCHEMA),
]
_ID = Field(default=None, max_length=300, pattern=GATEWAY_ID_PATTERN)
# More than zero, at most two decimals, under a hundred million: "612.40", "35", "0.05".
_POSITIVE_AMOUNT = r"^(?:[1-9][0-9]{0,7}(?:\.[0-9]{1,2})?|0\.(?:[1-9][0-9]?|0[1-9]))$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class VisitTypeIn(_In):
    """A visit type as the EHR codes it: a service type or appointment type coding
    (``GET /v1/visit-types`` lists them)."""

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    system: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^\S+$")


class EstimateRequest(_In):
    """A visit to price: an appointment (its patient, visit type and date), or a patient
    with a visit type and a date."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["appointment_id"],
                    "properties": {"appointment_id": {"type": "string"}},
                    "not": {"anyOf": [{"required": ["patient_id"]}, {"required": ["visit_type"]}]},
                },
                {
                    "required": ["patient_id", "visit_type"],
                    "properties": {
                        "patient_id": {"type": "string"},
                        "visit_type": {"type": "object"},
                    },
                    "not": {"required": ["appointment_id"]},
                },
            ],
            "examples": [
                {"appointment_id": "ZWhyLWEvQXBwb2ludG1lbnQvYS0x"},
                {
                    "patient_id": "ZWhyLWEvUGF0aWVudC9wLTEwMDE",
                    "visit_type": {
                        "system": "http://terminology.hl7.org/CodeSystem/service-type",
                        "code": "124",
                    },
                    "date": "2026-12-08",
                },
            ],
        },
    )

    appointment_id: str | None = _ID
    patient_id: str | None = _ID
    visit_type: VisitTypeIn | None = None
    date: BodyDate | None = Field(
        default=None,
        description="The day of the visit (default: the appointment's day, else today).",
    )


class VisitOut(BaseModel):
    id: str = Field(description="The configured visit type (billing.visit_types).")
    name: str
    service_type: str = Field(description="The X12 service type its benefits are read for.")
    date: dt.date


class EstimateStep(BaseModel):
    """One step of the arithmetic, in words; ``amount`` is what the step arrives at."""

    says: str
    amount: AmountOut | None = None


class EstimateLine(BaseModel):
    """One billing code of the visit and its prices (for all its units)."""

    code: str
    code_type: str
    units: int
    modifiers: list[str] = Field(default_factory=list)
    description: str | None = None
    gross: AmountOut | None = None
    cash: AmountOut | None = None
    negotiated: AmountOut | None = None


class CoverageSeen(BaseModel):
    """The coverage answer the estimate rests on."""

    status: str
    checked_at: dt.datetime | None = None
    payer_name: str | None = None
    plan_name: str | None = None
    cached: bool = False
    stale: bool = False
    self_pay: bool = False


class EstimateOut(BaseModel):
    """What the visit will cost the patient, each step shown; or ``could_not_be_determined``
    with the reasons (never a made-up zero)."""

    status: Literal["estimated", "could_not_be_determined"]
    basis: Literal["insured", "self_pay", "uninsured", "unknown"]
    says: str = Field(description="The answer in one sentence a desk can read out.")
    patient_pays: AmountOut | None = None
    plan_pays: AmountOut | None = None
    allowed: AmountOut | None = Field(
        default=None,
        description="The visit's price: the payer's negotiated rate or the cash price.",
    )
    currency: Literal["USD"] = "USD"
    steps: list[EstimateStep] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    lines: list[EstimateLine] = Field(default_factory=list)
    visit: VisitOut | None = None
    patient_id: str | None = None
    appointment_id: str | None = None
    coverage: CoverageSeen | None = None
    good_faith_estimate_owed: bool = Field(
        default=False,
        description="Self-pay or uninsured: the patient is owed a good-faith estimate.",
    )


class CollectOut(BaseModel):
    """What to collect at this visit, when the coverage answer allows saying it: the copay,
    the estimate of what the patient owes, or the cash price (self-pay)."""

    status: Literal["collect", "nothing_due", "unknown"]
    amount: AmountOut | None = None
    kind: Literal["copay", "estimate", "cash_price"] | None = None
    says: str
    reasons: list[str] = Field(default_factory=list)


class CheckedIn(Appointment):
    """A checked-in appointment, with what to collect at this visit (from the patient's
    latest coverage answer and the visit's prices)."""

    collect: CollectOut | None = None


# --- good-faith estimates -------------------------------------------------------------------


class GfeRequest(_In):
    """A good-faith estimate asked for (an uninsured or self-pay patient's request): for an
    appointment, or a patient, visit type and date."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["appointment_id"],
                    "properties": {"appointment_id": {"type": "string"}},
                    "not": {"anyOf": [{"required": ["patient_id"]}, {"required": ["visit_type"]}]},
                },
                {
                    "required": ["patient_id", "visit_type", "date"],
                    "properties": {
                        "patient_id": {"type": "string"},
                        "visit_type": {"type": "object"},
                        "date": {"type": "string"},
                    },
                    "not": {"required": ["appointment_id"]},
                },
            ],
            "examples": [{"appointment_id": "ZWhyLWEvQXBwb2ludG1lbnQvYS0x"}],
        },
    )

    appointment_id: str | None = _ID
    patient_id: str | None = _ID
    visit_type: VisitTypeIn | None = None
    date: BodyDate | None = None


class GfeParty(BaseModel):
    """A provider or facility on the estimate."""

    role: Literal["facility", "professional"]
    name: str
    npi: str | None = None
    tin: str | None = None
    address: str | None = None
    state: str | None = None


class GfeItem(BaseModel):
    billed_by: Literal["facility", "professional"]
    description: str
    code_type: str
    code: str
    units: int
    modifiers: list[str] = Field(default_factory=list)
    expected_charge: AmountOut


class GfeDocument(BaseModel):
    """The good-faith estimate as issued (45 CFR 149.610(c)): who, what, when, the codes
    with their expected charges, who bills under which NPI and TIN, and the disclaimers."""

    title: str
    patient_name: str
    patient_birth_date: str | None = None
    service: str
    service_date: dt.date
    diagnosis_codes: list[str] = Field(default_factory=list)
    parties: list[GfeParty]
    items: list[GfeItem]
    total: AmountOut
    totals_by_party: dict[str, AmountOut]
    separately_scheduled: list[str] = Field(default_factory=list)
    disclaimers: list[str]
    issued_at: dt.datetime


class BillOut(BaseModel):
    amount: AmountOut
    billed_by: Literal["facility", "professional"] | None = None
    recorded_at: dt.datetime
    source: Literal["entered", "ehr"]
    over_estimate: AmountOut = Field(description="How much the bill is above the estimate.")
    flagged: bool = Field(
        description="At least $400 above the estimate: the patient may dispute the bill "
        "(patient-provider dispute resolution, 45 CFR 149.620)."
    )


class GfeOut(BaseModel):
    id: str
    status: Literal["open", "issued", "not_required", "cancelled"]
    reason: Literal["self_pay", "uninsured", "requested", "insurance_unknown"]
    patient_id: str
    appointment_id: str | None = None
    visit: VisitOut | None = Field(
        default=None, description="None until the visit type has billing codes configured."
    )
    service_date: dt.date
    opened_at: dt.datetime
    due_at: dt.datetime | None = Field(
        default=None, description="End of the business day it must be given by."
    )
    due_rule: str = Field(description="Why it is due then, in words.")
    overdue: bool = False
    notes: list[str] = Field(default_factory=list)
    issued_at: dt.datetime | None = None
    document: GfeDocument | None = None
    bills: list[BillOut] = Field(default_factory=list)
    flagged: bool = False


class IssueRequest(_In):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"diagnosis_codes": ["Z00.00"]}]},
    )

    diagnosis_codes: list[
        Annotated[str, Field(pattern=r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")]
    ] = Field(default_factory=list, max_length=12, description="ICD-10-CM, when known.")


class BillIn(_In):
    """A bill for the estimated care: entered by the desk, or read from the EHR."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "oneOf": [
                {"required": ["amount"], "not": {"required": ["from_ehr"]}},
                {
                    "required": ["from_ehr"],
                    "properties": {"from_ehr": {"const": True}},
                    "not": {"required": ["amount"]},
                },
            ],
            "examples": [{"amount": "612.40"}],
        },
    )

    amount: str | None = Field(
        default=None,
        pattern=_POSITIVE_AMOUNT,
        description='The billed amount in dollars and cents, as text: "612.40".',
    )
    billed_by: Literal["facility", "professional"] | None = None
    from_ehr: Literal[True] | None = Field(
        default=None, description="Read the bill from the EHR, where it offers invoices."
    )


# --- balance --------------------------------------------------------------------------------


class BalanceOut(BaseModel):
    """What the patient owes the hospital, as the EHR's billing accounts say."""

    patient_id: str
    source: str
    self_pay_balance: AmountOut | None = Field(
        default=None, description="The patient's (guarantor's) own balance; None if unknown."
    )
    says: str
    accounts: int = Field(description="Billing accounts read.")
    read_from: Literal["r5-cross-version", "oracle-health", "mixed", "none"]
    partial: bool = Field(
        default=False, description="Not every account could be read: the balance may be higher."
    )
    as_of: dt.datetime
