"""Request and response bodies of the HTTP API (v1)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from mappers.model import (
    Address,
    Appointment,
    Coding,
    ContactPoint,
    HumanName,
    Identifier,
    Slot,
)

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
    "CoverageBadge",
    "CoverageBatchRequest",
    "CoverageCheckRequest",
    "HoldOut",
    "HoldRequest",
    "ListResponse",
    "LocationOut",
    "PatientBrief",
    "PatientLink",
    "PatientOut",
    "PractitionerOut",
    "Ref",
    "RescheduleRequest",
    "RescheduleResult",
    "SlotOut",
    "SourceStatusOut",
    "VisitTypeOut",
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


class PatientLink(BaseModel):
    source: str
    id: str
    grade: Literal["self", "certain", "probable"]


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
    links: list[PatientLink]
    possible_duplicates: list[str] = Field(
        default_factory=list,
        description="Ids of other patients that may be the same person; never merged silently.",
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
    """The latest coverage answer in one word: active, inactive, needs_attention (an
    error, a rejection, an unverified or stale answer: ``reasons`` says what to do), or
    unknown (not checked yet)."""

    status: Literal["active", "inactive", "needs_attention", "unknown"]
    checked_at: dt.datetime | None = None
    payer_name: str | None = None
    plan_name: str | None = None
    reasons: list[str] = Field(default_factory=list)


class AppointmentOut(Appointment):
    """An appointment as a desk shows it. The day's worklist fills ``patient``,
    ``practitioners``, ``location`` and ``visit_type``, and ``coverage`` when asked."""

    patient: PatientBrief | None = None
    practitioners: list[Ref] = Field(default_factory=list)
    location: Ref | None = None
    visit_type: str | None = None
    coverage: CoverageBadge | None = None


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


class RescheduleResult(BaseModel):
    """Both appointments of a finished reschedule. One that could not cancel the old
    appointment answers ``502 reschedule_incomplete`` with both instead."""

    status: Literal["rescheduled"]
    appointment: Appointment
    previous: Appointment


SlotList = ListResponse[Slot]
AppointmentList = ListResponse[Appointment]
PatientList = ListResponse[PatientOut]


class CoverageCheckRequest(_In):
    """Who to check (a gateway patient id, or member id + payer + name + birth date) and what."""

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
