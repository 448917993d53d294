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
    "Account",
    "AccountBalance",
    "AccountBalanceOrigin",
    "Address",
    "Appointment",
    "Benefit",
    "BenefitKind",
    "CanonicalRecord",
    "Coding",
    "ContactPoint",
    "Coverage",
    "EligibilityError",
    "EligibilityOrigin",
    "EligibilityRequest",
    "EligibilityResult",
    "EligibilityStatus",
    "HealthcareService",
    "HumanName",
    "IdOrigin",
    "Identifier",
    "Invoice",
    "Location",
    "NewCoverage",
    "NewPatient",
    "Organization",
    "Participant",
    "Patient",
    "PatientChanges",
    "PayerKind",
    "Person",
    "Practitioner",
    "PractitionerRole",
    "Record",
    "RecordRef",
    "Schedule",
    "Slot",
    "SourceRef",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


IdOrigin = Literal["resource", "full_url", "content"]


class SourceRef(_Model):
    """Where a record came from: the upstream it was read from and its version.

    ``id_origin`` says where ``id`` came from: "resource" (the resource's own id, the
    server's), or, for a resource that had none (``mappers.local_ids``), "full_url"
    (derived from its Bundle entry's fullUrl) or "content" (a digest of its JSON).
    A derived id names the record in the gateway but can't be read from the server.
    """

    source: str
    resource_type: str
    id: str
    version: str | None = None
    last_updated: AwareDatetime | None = None
    id_origin: IdOrigin = "resource"


class Coding(_Model):
    """One coded value with its words: ``display`` is what a desk shows.

    ``display`` is the coding's own display, else the text of the CodeableConcept it
    came from; a concept with only text gives a Coding with only ``display``.
    """

    system: str | None = None
    code: str | None = None
    display: str | None = None


class RecordRef(_Model):
    """A reference to another record as the upstream gave it: ``id`` is the gateway id
    when it resolved (None for a display-only or contained reference)."""

    resource_type: str | None = None
    id: str | None = None
    display: str | None = None


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
    # The actors as gateway ids with the upstream's display, so a desk can name them
    # ("Dr Ana Rivera, Main Street Clinic"); a display-only actor is kept without an id.
    actor_refs: list[RecordRef] = Field(default_factory=list)
    # ``service_types``/``specialty`` hold codes; these hold the codes with their words.
    service_type_codings: list[Coding] = Field(default_factory=list)
    specialty_codings: list[Coding] = Field(default_factory=list)


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
    service_type_codings: list[Coding] = Field(default_factory=list)
    specialty_codings: list[Coding] = Field(default_factory=list)
    appointment_type_coding: Coding | None = None


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
    service_type_codings: list[Coding] = Field(default_factory=list)
    appointment_type_coding: Coding | None = None


PayerKind = Literal["organization", "patient", "related_person", "other"]


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
    # Self-pay: the payor is the patient or a related person (FHIR R4 Coverage.payor),
    # or the coverage is typed self-pay with no organisation paying. No payer to ask.
    self_pay: bool = False
    # Who the first usable payor is: an organisation (an insurer), the patient, a
    # related person, or something else (display or identifier only).
    payer_kind: PayerKind | None = None
    # Gateway id of the Patient or RelatedPerson who pays, for self-pay.
    paying_party_id: str | None = None


# --- the directory ------------------------------------------------------------------


class Practitioner(Record):
    identifiers: list[Identifier] = Field(default_factory=list)
    name: HumanName | None = None
    other_names: list[HumanName] = Field(default_factory=list)
    # Only from the NPI system, only ten digits with a valid check digit.
    npi: str | None = None
    active: bool | None = None
    gender: str | None = None
    phones: list[ContactPoint] = Field(default_factory=list)
    emails: list[ContactPoint] = Field(default_factory=list)
    qualifications: list[Coding] = Field(default_factory=list)


class Organization(Record):
    name: str | None = None
    identifiers: list[Identifier] = Field(default_factory=list)
    npi: str | None = None
    active: bool | None = None
    phones: list[ContactPoint] = Field(default_factory=list)
    address: Address | None = None


class Location(Record):
    name: str | None = None
    aliases: list[str] = Field(default_factory=list)
    # active | suspended | inactive (FHIR R4 Location.status).
    status: str | None = None
    address: Address | None = None
    phones: list[ContactPoint] = Field(default_factory=list)
    managing_organization_id: str | None = None
    part_of_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class PractitionerRole(Record):
    practitioner_id: str | None = None
    practitioner_display: str | None = None
    organization_id: str | None = None
    location_ids: list[str] = Field(default_factory=list)
    healthcare_service_ids: list[str] = Field(default_factory=list)
    codes: list[Coding] = Field(default_factory=list)
    specialties: list[Coding] = Field(default_factory=list)
    active: bool | None = None
    phones: list[ContactPoint] = Field(default_factory=list)
    emails: list[ContactPoint] = Field(default_factory=list)


class HealthcareService(Record):
    name: str | None = None
    types: list[Coding] = Field(default_factory=list)
    specialties: list[Coding] = Field(default_factory=list)
    location_ids: list[str] = Field(default_factory=list)
    provided_by_id: str | None = None
    active: bool | None = None


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
    # The insurance on file for the date of service is self-pay: no payer to ask; the
    # patient pays (a good-faith estimate is owed to them).
    self_pay: bool = False


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


# --- billing accounts ----------------------------------------------------------------

# Where a balance was read: the R5 cross-version extension (Account.balance in FHIR R4,
# http://hl7.org/fhir/5.0/StructureDefinition/extension-Account.balance) or Oracle
# Health's own account-balance extension.
AccountBalanceOrigin = Literal["r5-cross-version", "oracle-health"]


class AccountBalance(_Model):
    """One balance of an account, in USD."""

    amount: Decimal
    currency: str | None = None
    # Who is expected to pay this part (R5 account-aggregate: patient, insurance, total);
    # None where the EHR doesn't say (Oracle Health's extension: the account's balance,
    # whose meaning follows from the account's type).
    aggregate: str | None = None
    # How old the balance is (R5 account-balance-term: current, 30, 60, 90, 120).
    term: str | None = None
    estimate: bool | None = None
    origin: AccountBalanceOrigin


class Account(Record):
    """A billing account (FHIR R4 Account) with the balances the EHR states on it."""

    status: str | None = None
    # The coded type (v3-ActCode PBILLACCT ...) and its words; Oracle Health names its
    # account types (financial-account, guarantor-balance, statement ...) in type.text.
    type_code: str | None = None
    type_text: str | None = None
    name: str | None = None
    patient_ids: list[str] = Field(default_factory=list)
    guarantor_ids: list[str] = Field(default_factory=list)
    encounter_ids: list[str] = Field(default_factory=list)
    part_of_id: str | None = None
    service_period_start: AwareDatetime | None = None
    service_period_end: AwareDatetime | None = None
    balances: list[AccountBalance] = Field(default_factory=list)


class Invoice(Record):
    """A bill (FHIR R4 Invoice): to whom, when, and its totals in USD."""

    status: str | None = None
    patient_id: str | None = None
    date: AwareDatetime | None = None
    # totalNet: what is asked after discounts; totalGross: before them.
    total_net: Decimal | None = None
    total_gross: Decimal | None = None


# --- what the desk asks to write (outbound builders in ``mappers.outbound``) -------


class NewPatient(_Model):
    """A patient to register. ``identifier`` (system and value) is the desk's key for
    the conditional create, so a retried registration finds the first one."""

    identifier: Identifier
    name: HumanName
    other_names: list[HumanName] = Field(default_factory=list)
    birth_date: date | None = None
    gender: Literal["male", "female", "other", "unknown"] | None = None
    phones: list[ContactPoint] = Field(default_factory=list)
    emails: list[ContactPoint] = Field(default_factory=list)
    address: Address | None = None
    # BCP-47 language tag (en, es, pt-BR ...): the patient's preferred language.
    language: str | None = None


class PatientChanges(_Model):
    """Corrections to a patient's record: None (or empty) leaves a part as it is.

    A phone or email replaces the current one of the same ``use`` (the first current
    one when ``use`` is None), else is added; ``address`` replaces the current one of
    its use; ``language`` becomes the preferred one; name parts replace those of the
    current name (an empty list removes them).
    """

    phones: list[ContactPoint] = Field(default_factory=list)
    emails: list[ContactPoint] = Field(default_factory=list)
    address: Address | None = None
    language: str | None = None
    family: str | None = None
    given: list[str] | None = None
    prefix: list[str] | None = None
    suffix: list[str] | None = None


class NewCoverage(_Model):
    """Insurance to add or replace: the payer and member id the coverage check asks
    about, or self-pay (the patient pays; no payer)."""

    self_pay: bool = False
    payer_id: str | None = None
    payer_name: str | None = None
    # None: the gateway's payer id system (mappers.outbound.PAYER_ID_SYSTEM).
    payer_id_system: str | None = None
    member_id: str | None = None
    member_id_system: str | None = None
    # Coverage.subscriberId; the member id when not given.
    subscriber_id: str | None = None
    group_number: str | None = None
    group_name: str | None = None
    plan_name: str | None = None
    # subscriber-relationship code: self, spouse, child, parent, common, other, injured.
    relationship: str = "self"
    period_start: date | None = None
    period_end: date | None = None
    order: int | None = None
    network: str | None = None
    status: Literal["active", "cancelled", "draft", "entered-in-error"] = "active"


CanonicalRecord = (
    Patient
    | Schedule
    | Slot
    | Appointment
    | Coverage
    | EligibilityResult
    | Practitioner
    | Organization
    | Location
    | PractitionerRole
    | HealthcareService
    | Account
    | Invoice
)
