"""The canonical front-desk model.

Every EHR and payer is normalised into these records. Names are a contract
(see DESIGN.md): extend them, never rename them. This module does no I/O.

Conventions:
- ``id`` fields and references to other records (``patient_id``, ``schedule_id``,
  ``slot_ids`` ...) hold gateway ids (``mappers.ids``): opaque, URL-safe and
  reversible to (source, resource type, upstream id).
- Datetimes are timezone-aware; money is ``Decimal`` in USD; percentages are
  ``Decimal`` fractions (0.2 = 20%).
- ``warnings`` lists what was usable but imperfect in the upstream record.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "Address",
    "Appointment",
    "Benefit",
    "BenefitKind",
    "CanonicalRecord",
    "ContactPoint",
    "Coverage",
    "EligibilityError",
    "EligibilityOrigin",
    "EligibilityRequest",
    "EligibilityResult",
    "EligibilityStatus",
    "HumanName",
    "Identifier",
    "Participant",
    "Patient",
    "Person",
    "Record",
    "Schedule",
    "Slot",
    "SourceRef",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class SourceRef(_Model):
    """Where a record came from: the upstream it was read from and its version."""

    source: str
    resource_type: str
    id: str
    version: str | None = None
    last_updated: AwareDatetime | None = None


class Identifier(_Model):
    system: str | None = None
    value: str
    # v2-0203 code where known (MR, MB, SS, ...).
    type: str | None = None


class HumanName(_Model):
    family: str | None = None
    given: list[str] = Field(default_factory=list)
    prefix: list[str] = Field(default_factory=list)
    suffix: list[str] = Field(default_factory=list)
    text: str | None = None
    # FHIR name.use (official, usual, nickname, old, maiden ...), kept for matching.
    use: str | None = None


class ContactPoint(_Model):
    system: str | None = None
    value: str
    use: str | None = None


class Address(_Model):
    line: list[str] = Field(default_factory=list)
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    use: str | None = None


class Record(_Model):
    id: str
    source: SourceRef
    warnings: list[str] = Field(default_factory=list)


class Patient(Record):
    identifiers: list[Identifier] = Field(default_factory=list)
    name: HumanName | None = None
    other_names: list[HumanName] = Field(default_factory=list)
    # ISO 8601 partial date as FHIR allows it: YYYY, YYYY-MM or YYYY-MM-DD.
    birth_date: str | None = None
    gender: str | None = None
    phones: list[ContactPoint] = Field(default_factory=list)
    emails: list[ContactPoint] = Field(default_factory=list)
    address: Address | None = None
    language: str | None = None
    active: bool | None = None
    deceased: bool | None = None


class Schedule(Record):
    active: bool | None = None
    # Gateway-style references "Practitioner/<id>" etc. as the upstream wrote them,
    # normalised to "Type/id" where they could be parsed.
    actors: list[str] = Field(default_factory=list)
    service_types: list[str] = Field(default_factory=list)
    specialty: list[str] = Field(default_factory=list)
    planning_horizon_start: AwareDatetime | None = None
    planning_horizon_end: AwareDatetime | None = None
    comment: str | None = None


class Slot(Record):
    schedule_id: str | None = None
    start: AwareDatetime
    end: AwareDatetime | None = None
    status: str
    service_types: list[str] = Field(default_factory=list)
    specialty: list[str] = Field(default_factory=list)
    appointment_type: str | None = None
    overbooked: bool | None = None
    comment: str | None = None


class Participant(_Model):
    """One Appointment.participant: who, as what, and whether they accepted."""

    kind: Literal["patient", "practitioner", "location", "device", "related_person", "other"]
    # Gateway id when the reference resolved to a record of the same source.
    ref: str | None = None
    display: str | None = None
    status: str | None = None
    required: str | None = None


class Appointment(Record):
    status: str
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    minutes_duration: int | None = None
    patient_id: str | None = None
    practitioner_ids: list[str] = Field(default_factory=list)
    location_ids: list[str] = Field(default_factory=list)
    participants: list[Participant] = Field(default_factory=list)
    service_types: list[str] = Field(default_factory=list)
    appointment_type: str | None = None
    reason: list[str] = Field(default_factory=list)
    description: str | None = None
    comment: str | None = None
    slot_ids: list[str] = Field(default_factory=list)
    created: AwareDatetime | None = None
    cancellation_reason: str | None = None
    identifiers: list[Identifier] = Field(default_factory=list)


class Coverage(Record):
    status: str
    beneficiary_id: str | None = None
    subscriber_id: str | None = None
    member_id: str | None = None
    relationship: str | None = None
    payer_name: str | None = None
    payer_id: str | None = None
    group_number: str | None = None
    group_name: str | None = None
    plan_name: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    order: int | None = None
    network: str | None = None
    type: str | None = None
    # Coverage.dependent: the dependent number within the subscriber's contract.
    dependent: str | None = None


BenefitKind = Literal[
    "active_coverage",
    "inactive",
    "copay",
    "coinsurance",
    "deductible",
    "out_of_pocket",
    "limitation",
    "non_covered",
    "other",
]
EligibilityStatus = Literal["active", "inactive", "unknown", "error"]
EligibilityOrigin = Literal["x12", "fhir", "ehr"]


class Benefit(_Model):
    kind: BenefitKind
    service_type: str | None = None
    service_type_display: str | None = None
    # IND, FAM, EMP ... (X12 EB02) or individual/family (FHIR).
    coverage_level: str | None = None
    in_network: bool | None = None
    amount: Decimal | None = None
    percent: Decimal | None = None
    # X12 EB06 code (23 calendar year, 29 remaining ...) or FHIR benefit type.
    time_period: str | None = None
    authorization_required: bool | None = None
    description: str | None = None
    quantity: Decimal | None = None
    quantity_qualifier: str | None = None
    messages: list[str] = Field(default_factory=list)


class EligibilityError(_Model):
    """A payer rejection (X12 AAA) in words a PSR can act on."""

    code: str
    description: str
    follow_up: str | None = None
    # Where the rejection was raised: payer, provider, subscriber, dependent, request.
    loop: str | None = None


class EligibilityResult(_Model):
    status: EligibilityStatus
    checked_at: AwareDatetime
    payer_id: str | None = None
    payer_name: str | None = None
    member_id: str | None = None
    plan_name: str | None = None
    group_number: str | None = None
    coverage_start: date | None = None
    coverage_end: date | None = None
    benefits: list[Benefit] = Field(default_factory=list)
    errors: list[EligibilityError] = Field(default_factory=list)
    messages: list[str] = Field(default_factory=list)
    origin: EligibilityOrigin
    cached: bool = False
    stale: bool = False
    group_name: str | None = None
    trace_number: str | None = None
    source: SourceRef | None = None
    warnings: list[str] = Field(default_factory=list)


class Person(_Model):
    """Who an eligibility inquiry is about (X12 2100C/2100D, FHIR patient)."""

    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    gender: Literal["male", "female", "unknown"] | None = None
    member_id: str | None = None


class EligibilityRequest(_Model):
    """One real-time eligibility question: is this member covered on this date, for these services.

    ``dependent`` is set when the patient is not the subscriber and has no member id
    of their own (X12 HL 23 loop).
    """

    payer_id: str
    payer_name: str | None = None
    provider_npi: str
    provider_name: str | None = None
    subscriber: Person
    dependent: Person | None = None
    service_types: list[str] = Field(default_factory=lambda: ["30"])
    date_of_service: date
    group_number: str | None = None
    # Caller's trace number (X12 TRN02, FHIR identifier); unique per inquiry.
    trace_number: str


CanonicalRecord = Patient | Schedule | Slot | Appointment | Coverage | EligibilityResult
