"""Request and response bodies of the HTTP API (v1)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mappers.model import (
    Address,
    Appointment,
    Coding,
    ContactPoint,
    HumanName,
    Identifier,
    Slot,
)

from .money_schemas import CollectOut
from .params import GATEWAY_ID_PATTERN, HOLD_TOKEN_PATTERN, TEXT_PATTERN, BodyDate

__all__ = [
    "AppointmentOut",
    "BatchFailure",
    "BatchItem",
    "BatchStarted",
    "BatchStatus",
    "BatchSummary",
    "BookingRequest",
    "CancelRequest",
    "CandidateOut",
    "ConflictOut",
    "CoverageBadge",
    "CoverageBatchRequest",
    "CoverageCheckRequest",
    "CoverageIn",
    "HoldOut",
    "HoldRequest",
    "ListResponse",
    "LocationOut",
    "PatientBrief",
    "PatientChangesIn",
    "PatientLink",
    "PatientOut",
    "PractitionerOut",
    "Ref",
    "RegistrationRequest",
    "RescheduleRequest",
    "RescheduleResult",
    "SlotOut",
    "SourceStatusOut",
    "VisitTypeOut",
    "WaitlistEntryOut",
    "WaitlistOfferOut",
    "WaitlistRequest",
]

T = TypeVar("T")
_ID = Field(max_length=300, pattern=GATEWAY_ID_PATTERN)


def _text(max_length: int, default: Any = ...) -> Any:
    """A text field: no control characters or invisible formatting (``params``)."""
    return Field(default, min_length=1, max_length=max_length, pattern=TEXT_PATTERN)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SourceStatusOut(BaseModel):
    source: str
    status: Literal["ok", "error", "timeout"]
    detail: str | None = None


class ListResponse(BaseModel, Generic[T]):
    items: list[T]
    sources: list[SourceStatusOut]


class FieldAgreementOut(BaseModel):
    """How one field of two records compared, and what that weighed (log2 Bayes factor)."""

    field: str = Field(description="first_name, surname, dob, postcode, street, phone or sex")
    level: str = Field(
        description="exact, nickname, one edit, similar, swapped..., missing, different"
    )
    weight: float


class MatchExplanation(BaseModel):
    """Why the person index thinks two records are one person: the match model's verdict."""

    match_probability: float
    match_weight: float
    model_version: str
    fields: list[FieldAgreementOut]


class PatientLink(BaseModel):
    source: str
    id: str
    grade: Literal["self", "certain", "probable"]
    match: MatchExplanation | None = Field(
        default=None, description="The match model's explanation, when it scored this link."
    )
    decided_by_person: bool = Field(
        default=False, description="Linked because a supervisor said it is the same person."
    )


class PossibleDuplicateOut(BaseModel):
    id: str
    match: MatchExplanation | None = None


class PatientOut(BaseModel):
    """One person; ``links`` lists every source record merged into it."""

    id: str
    source: str
    identifiers: list[Identifier]
    name: HumanName | None
    other_names: list[HumanName]
    birth_date: str | None
    gender: str | None
    phones: list[ContactPoint]
    emails: list[ContactPoint]
    address: Address | None
    language: str | None
    active: bool | None
    version: str | None = Field(
        default=None, description="The primary record's version: If-Match for corrections."
    )
    links: list[PatientLink]
    possible_duplicates: list[str] = Field(
        default_factory=list,
        description="Ids of other patients that may be the same person; never merged silently.",
    )
    possible_duplicate_matches: list[PossibleDuplicateOut] = Field(
        default_factory=list,
        description="The same ids with the match model's explanation, where it scored them.",
    )
    warnings: list[str] = Field(default_factory=list)


class Ref(BaseModel):
    """Another record as a desk shows it: its gateway id (when known) and its name."""

    id: str | None = None
    display: str | None = None


class SlotOut(Slot):
    """A free slot as a desk shows it: who, where, and what kind of visit."""

    practitioners: list[Ref] = Field(default_factory=list)
    location: Ref | None = None
    service_type_display: str | None = None


class PatientBrief(BaseModel):
    """The patient as a list shows them: a name and an age, never the birth date."""

    id: str
    display: str | None = None
    age: int | None = None


class CoverageBadge(BaseModel):
    """The latest coverage answer in one word: active, inactive, self_pay, needs_attention
    (an error, a rejection, an unverified or stale answer: ``reasons`` says what to do),
    or unknown (not checked yet)."""

    status: Literal["active", "inactive", "self_pay", "needs_attention", "unknown"]
    checked_at: dt.datetime | None = None
    payer_name: str | None = None
    plan_name: str | None = None
    reasons: list[str] = Field(default_factory=list)


class AppointmentOut(Appointment):
    """An appointment as a desk shows it. The day's worklist fills ``patient``,
    ``practitioners``, ``location`` and ``visit_type``, and ``coverage`` and ``collect``
    (what to collect at the visit) when asked."""

    patient: PatientBrief | None = None
    practitioners: list[Ref] = Field(default_factory=list)
    location: Ref | None = None
    visit_type: str | None = None
    coverage: CoverageBadge | None = None
    collect: CollectOut | None = None


class ConflictOut(BaseModel):
    """Two of a patient's appointments that overlap (the tenant's buffer included)."""

    appointments: list[Appointment] = Field(min_length=2, max_length=2)


class PractitionerOut(BaseModel):
    id: str
    source: str
    display: str = Field(description="The name as a desk shows it, e.g. 'Dr Ana Rivera'.")
    name: HumanName | None = None
    npi: str | None = None
    active: bool | None = None
    specialties: list[Coding] = Field(default_factory=list)
    location_ids: list[str] = Field(
        default_factory=list, description="Where the practitioner works (their roles)."
    )
    role_ids: list[str] = Field(default_factory=list)


class LocationOut(BaseModel):
    id: str
    source: str
    name: str | None = None
    aliases: list[str] = Field(default_factory=list)
    status: str | None = None
    address: Address | None = None
    phones: list[ContactPoint] = Field(default_factory=list)


class VisitTypeOut(BaseModel):
    """A service type that schedules offer: a ``service_type`` value for slot searches."""

    code: str
    system: str | None = None
    display: str | None = None
    sources: list[str] = Field(default_factory=list)
    schedules: int = 0


class Override(_In):
    """Why a desk books against a rule; the reason goes to the audit stream."""

    reason: str = _text(500)


class BookingRequest(_In):
    slot_id: str = _ID
    patient_id: str = _ID
    reason: str | None = _text(500, None)
    comment: str | None = _text(1000, None)
    hold_token: str | None = Field(
        default=None,
        pattern=HOLD_TOKEN_PATTERN,
        description="The token of this client's hold on the slot (POST /v1/slots/{id}/hold).",
    )
    allow_conflict: Override | None = Field(
        default=None,
        description="Book although the patient has another appointment then (scope "
        "appointments:override).",
    )
    overbook: Override | None = Field(
        default=None,
        description="Book a busy slot, within the tenant's overbook limit (scope "
        "appointments:overbook).",
    )


class HoldRequest(_In):
    minutes: int = Field(default=5, ge=1, le=15, description="How long to hold, 1 to 15.")
    hold_token: str | None = Field(
        default=None,
        pattern=HOLD_TOKEN_PATTERN,
        description="The token of this client's own hold, to extend it.",
    )


class HoldOut(BaseModel):
    slot_id: str
    hold_token: str = Field(description="Proves the hold: send it with the booking.")
    expires_at: dt.datetime


class CancelRequest(_In):
    reason: str = _text(500)


class RescheduleRequest(_In):
    slot_id: str = _ID
    reason: str = _text(500, "rescheduled")
    allow_conflict: Override | None = Field(
        default=None,
        description="Book although the patient has another appointment then (scope "
        "appointments:override).",
    )


class RescheduleResult(BaseModel):
    """Both appointments of a finished reschedule. One that could not cancel the old
    appointment answers ``502 reschedule_incomplete`` with both instead."""

    status: Literal["rescheduled"]
    appointment: Appointment
    previous: Appointment


SlotList = ListResponse[Slot]
AppointmentList = ListResponse[Appointment]
PatientList = ListResponse[PatientOut]


_MEMBER = ("member_id", "payer_id", "first_name", "last_name", "birth_date")


class CoverageCheckRequest(_In):
    """Who to check (a gateway patient id, or member id + payer + name + birth date) and what."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            # The rule the service enforces, stated: one way to name the patient.
            "oneOf": [
                {
                    "required": ["patient_id"],
                    "properties": {"patient_id": {"type": "string"}},
                    "not": {"anyOf": [{"required": [f]} for f in ("member_id", "payer_id")]},
                },
                {
                    "required": list(_MEMBER),
                    "properties": {f: {"type": "string"} for f in _MEMBER},
                    "not": {"required": ["patient_id"]},
                },
            ],
            "examples": [
                {"patient_id": "ZWhyLWEvUGF0aWVudC9wLTEwMDE", "service_types": ["98"]},
                {
                    "member_id": "SIM-ACTIVE-1",
                    "payer_id": "SIMPAYER",
                    "first_name": "Jane",
                    "last_name": "Doe",
                    "birth_date": "1980-01-15",
                    "service_types": ["30", "98"],
                },
            ],
        },
    )

    patient_id: str | None = Field(default=None, max_length=300, pattern=GATEWAY_ID_PATTERN)
    member_id: str | None = _text(80, None)
    payer_id: str | None = _text(80, None)
    first_name: str | None = _text(35, None)
    last_name: str | None = _text(60, None)
    birth_date: BodyDate | None = None
    service_types: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,2}$")]] = Field(
        default_factory=lambda: ["30"],
        min_length=1,
        max_length=10,
        description="X12 service type codes: 30 health benefit plan, 98 office visit ...",
    )
    date_of_service: BodyDate | None = Field(
        default=None, description="Defaults to today in the tenant's time zone."
    )
    provider_npi: str | None = Field(
        default=None,
        pattern=r"^[12][0-9]{9}$",
        description="Ten digits, the last the NPI check digit of the first nine.",
    )


class CoverageBatchRequest(_In):
    date: BodyDate = Field(description="Check every patient with an appointment on this day.")


class BatchItem(BaseModel):
    """One patient's answer in a batch."""

    patient_id: str
    status: Literal["active", "inactive", "unknown", "error"]
    stale: bool = Field(description="The payer did not answer; this is its last answer.")
    payer_name: str | None = None
    plan_name: str | None = None
    reasons: list[str] = Field(description="What the desk should do about it, in words.")


class BatchFailure(BaseModel):
    """A patient the batch could not check after every try."""

    patient_id: str
    reason: str
    attempts: int


class BatchSummary(BaseModel):
    active: int
    inactive: int
    needs_attention: int
    failed: int


class BatchStatus(BaseModel):
    """Progress and outcome of a batch verification job."""

    id: str
    date: dt.date
    state: Literal["running", "done", "cancelled"]
    total: int = Field(description="Patients to check (each once, however many visits).")
    done: int = Field(description="Patients finished: answered or failed.")
    summary: BatchSummary
    needs_attention: list[BatchItem]
    inactive: list[BatchItem]
    failed: list[BatchFailure]


class BatchStarted(BatchStatus):
    """The queued batch, with which EHRs listed the day's appointments."""

    sources: list[SourceStatusOut]


# --- patient records (registration, corrections, insurance) -----------------------------

_Text40 = Annotated[str, Field(min_length=1, max_length=40, pattern=TEXT_PATTERN)]
_Text100 = Annotated[str, Field(min_length=1, max_length=100, pattern=TEXT_PATTERN)]
_URI = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s|]+$")]
_Use = Literal["home", "work", "temp", "old", "mobile"]


class IdentifierIn(_In):
    system: _URI
    value: _Text100
    type: str | None = Field(default=None, pattern=r"^[A-Z]{2,4}$", description="v2-0203: MR...")


class NameIn(_In):
    family: _Text100
    given: list[_Text100] = Field(default_factory=list, max_length=5)
    prefix: list[_Text40] = Field(default_factory=list, max_length=3)
    suffix: list[_Text40] = Field(default_factory=list, max_length=3)


class ContactIn(_In):
    value: _Text100
    use: _Use | None = None


_ADDRESS_PARTS = ("city", "state", "postal_code", "country")
# JSON Schema for "at least one of them": a line, or any other part present and not null.
_ADDRESS_ANY_OF: list[Any] = [
    {"required": ["line"], "properties": {"line": {"minItems": 1}}},
    *({"required": [part], "properties": {part: {"type": "string"}}} for part in _ADDRESS_PARTS),
]


class AddressIn(_In):
    """An address with at least a line, city, state, postal code or country."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"anyOf": _ADDRESS_ANY_OF},
    )

    line: list[_Text100] = Field(default_factory=list, max_length=3)
    city: _Text100 | None = None
    state: _Text40 | None = None
    postal_code: _Text40 | None = None
    country: _Text40 | None = None
    use: Literal["home", "work", "temp", "old", "billing"] | None = None

    @model_validator(mode="after")
    def _says_where(self) -> AddressIn:
        if not self.line and all(getattr(self, part) is None for part in _ADDRESS_PARTS):
            raise ValueError("needs at least a line, city, state, postal code or country")
        return self


_LANGUAGE = Field(
    default=None, pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$", description="BCP-47: en, es, pt-BR ..."
)


class RegistrationRequest(_In):
    """A new patient, registered in one of the tenant's EHRs (``source``)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "source": "ehr-a",
                    "identifier": {"system": "urn:hospital:mrn", "value": "MRN-20261207-4411"},
                    "name": {"family": "Okafor", "given": ["Chidi"]},
                    "birth_date": "1990-05-14",
                    "gender": "male",
                    "phones": [{"value": "555-0144", "use": "mobile"}],
                    "language": "en",
                }
            ]
        },
    )

    source: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    identifier: IdentifierIn = Field(
        description="The desk's key for this registration: a retried one finds the first."
    )
    name: NameIn
    birth_date: BodyDate | None = None
    gender: Literal["male", "female", "other", "unknown"] | None = None
    phones: list[ContactIn] = Field(default_factory=list, max_length=3)
    emails: list[ContactIn] = Field(default_factory=list, max_length=3)
    address: AddressIn | None = None
    language: str | None = _LANGUAGE
    confirm_new: bool = Field(
        default=False,
        description="Register although possible duplicates were found (after a 409).",
    )


class PatientChangesIn(_In):
    """Corrections to a patient's record; what is not given stays as it is."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"phones": [{"value": "555-0199", "use": "mobile"}], "language": "es"}]
        },
    )

    phones: list[ContactIn] = Field(default_factory=list, max_length=3)
    emails: list[ContactIn] = Field(default_factory=list, max_length=3)
    address: AddressIn | None = None
    language: str | None = _LANGUAGE
    family: _Text100 | None = None
    given: list[_Text100] | None = Field(default=None, max_length=5)


class CoverageIn(_In):
    """Insurance to add, or to put in place of one on file (``replaces``)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "payer_id": "SIMPAYER",
                    "payer_name": "SIMULATED PAYER",
                    "member_id": "SIM-ACTIVE-1",
                    "group_number": "GRP-7",
                    "relationship": "self",
                },
                {"self_pay": True},
            ],
            # The rules _payer_or_self_pay enforces, stated for clients and contract tests.
            "if": {
                "required": ["group_name"],
                "properties": {"group_name": {"type": "string"}},
            },
            "then": {
                "required": ["group_number"],
                "properties": {"group_number": {"type": "string"}},
            },
            "anyOf": [
                {"properties": {"self_pay": {"const": True}}, "required": ["self_pay"]},
                {
                    "properties": {
                        "payer_id": {"type": "string"},
                        "member_id": {"type": "string"},
                    },
                    "required": ["payer_id", "member_id"],
                },
            ],
        },
    )

    self_pay: bool = False
    payer_id: _Text40 | None = None
    payer_name: _Text100 | None = None
    member_id: _Text40 | None = None
    group_number: _Text40 | None = None
    group_name: _Text100 | None = None
    plan_name: _Text100 | None = None
    relationship: Literal["self", "spouse", "child", "parent", "common", "other", "injured"] = (
        "self"
    )
    period_start: BodyDate | None = None
    period_end: BodyDate | None = None
    order: int | None = Field(default=None, ge=1, le=9)
    replaces: str | None = Field(
        default=None,
        max_length=300,
        pattern=GATEWAY_ID_PATTERN,
        description="The id of the coverage on file this one replaces.",
    )

    @model_validator(mode="after")
    def _payer_or_self_pay(self) -> CoverageIn:
        if not self.self_pay and not (self.payer_id and self.member_id):
            raise ValueError("insurance needs payer_id and member_id, or self_pay")
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValueError("period_end comes before period_start")
        if self.group_name and not self.group_number:
            raise ValueError("a group name needs its group number")
        return self


class CandidateOut(BaseModel):
    """A patient the registration may duplicate, and why the gateway thinks so."""

    patient: PatientOut
    grade: Literal["certain", "probable", "possible"]
    agreeing: list[str] = Field(description="The fields that agree: family, given, birth_date...")
    match: MatchExplanation | None = Field(
        default=None, description="The match model's explanation of this candidate."
    )


class LinkDecisionIn(BaseModel):
    """A person's verdict on two records: the other record and why."""

    model_config = ConfigDict(extra="forbid")

    other_id: str = Field(pattern=GATEWAY_ID_PATTERN, max_length=300)
    reason: str | None = Field(default=None, max_length=500, pattern=TEXT_PATTERN)


class LinkDecisionOut(BaseModel):
    patient_id: str
    other_id: str
    verdict: Literal["different", "same"]
    by: str
    at: str
    reason: str | None = None


class WaitlistRequest(_In):
    """A patient waiting for a visit type: offered the first freed slot that fits."""

    patient_id: str = _ID
    service_type: str = Field(
        min_length=1, max_length=64, pattern=TEXT_PATTERN, description="The visit type code."
    )
    practitioner_id: str | None = Field(
        default=None, max_length=300, pattern=GATEWAY_ID_PATTERN, description="Only with them."
    )
    location_id: str | None = Field(
        default=None, max_length=300, pattern=GATEWAY_ID_PATTERN, description="Only there."
    )
    earliest: BodyDate = Field(description="The first day the patient could come.")
    latest: BodyDate = Field(description="The last day the patient could come.")
    min_notice_hours: int = Field(
        default=24, ge=0, le=720, description="Notice the patient needs before the visit."
    )
    priority: Literal["urgent", "soon", "routine"] = Field(
        default="routine", description="Offers go by priority, then by time waited."
    )
    note: str | None = _text(500, None)


class WaitlistEntryOut(BaseModel):
    id: str
    patient_id: str
    service_type: str
    practitioner_id: str | None = None
    location_id: str | None = None
    earliest: dt.date
    latest: dt.date
    min_notice_hours: int
    priority: Literal["urgent", "soon", "routine"]
    note: str | None = None
    created_at: dt.datetime
    created_by: str
    offer_slot_id: str | None = Field(
        default=None, description="The slot offered to this patient now, if any."
    )
    passed: list[str] = Field(
        default_factory=list, description="Slots the patient let pass (never offered again)."
    )


class WaitlistOfferOut(BaseModel):
    """A freed slot held for a waitlisted patient until ``expires_at``: book it for
    ``patient_id`` with ``hold_token`` (any desk of the hospital may), or decline it."""

    slot_id: str
    entry_id: str
    patient_id: str = Field(description="The patient's record in the slot's EHR: book for it.")
    hold_token: str
    offered_at: dt.datetime
    expires_at: dt.datetime
    seconds_left: int
    slot: SlotOut
