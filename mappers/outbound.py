"""What the gateway sends to FHIR servers, built strictly.

Outbound strict: every builder checks what FHIR R4 and the booking rules require
(fhir.resources does not enforce value sets or minimum cardinalities), then
validates the result with ``fhir.resources.R4B`` (the closest to R4 that
fhir.resources ships; never its default R5 models). Any failure raises
``OutboundError`` naming the field; messages never carry field values.

Builders return plain FHIR JSON dicts, ready for ``FhirClient.create``/``update``.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fhir.resources.R4B.appointment import Appointment as R4BAppointment
from fhir.resources.R4B.coverageeligibilityrequest import (
    CoverageEligibilityRequest as R4BCoverageEligibilityRequest,
)
from pydantic import ValidationError

from .errors import MappingError
from .ids import is_fhir_id
from .model import EligibilityRequest, Schedule, Slot
from .npi import NPI_SYSTEM, is_valid_npi

__all__ = [
    "BOOKING_IDENTIFIER_SYSTEM",
    "ELIGIBILITY_IDENTIFIER_SYSTEM",
    "NPI_SYSTEM",
    "PAYER_ID_SYSTEM",
    "SERVICE_TYPE_SYSTEM",
    "OutboundError",
    "booking_identifier_value",
    "booking_if_none_exist",
    "build_booking_appointment",
    "build_cancellation",
    "build_coverage_eligibility_request",
    "cancel_patch",
]

BOOKING_IDENTIFIER_SYSTEM = "urn:frontdesk:booking"
ELIGIBILITY_IDENTIFIER_SYSTEM = "urn:frontdesk:eligibility-trace"
SERVICE_TYPE_SYSTEM = "https://x12.org/codes/service-type-codes"
# There is no registered system for clearinghouse payer ids; ours says what it is.
PAYER_ID_SYSTEM = "urn:frontdesk:payer-id"

_REF = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9.\-]{1,64})")
_URI = re.compile(r"\S+")
# Schedule.actor types that may also take part in an Appointment (R4 Appointment.participant.actor).
_ACTOR_TYPES = frozenset(
    {"Practitioner", "PractitionerRole", "Location", "HealthcareService", "Device", "RelatedPerson"}
)
_PURPOSES = frozenset({"auth-requirements", "benefits", "discovery", "validation"})


class OutboundError(MappingError):
    """A resource we were about to send is not valid; ``path`` names the field."""


def booking_identifier_value(idempotency_key: str) -> str:
    """The Appointment.identifier value for a client's idempotency key.

    A SHA-256 hex digest, so the key (which a client may have built from patient
    data) never reaches the EHR, yet the same key always finds the same booking.
    Callers scope the key to the API client (e.g. ``"<client>:<key>"``) so two
    clients' keys cannot collide.
    """
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise OutboundError("idempotency_key", "must be a non-empty string")
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()


def booking_if_none_exist(identifier_system: str, value: str) -> str:
    """The If-None-Exist query for a conditional create: ``identifier=system|value``.

    Characters that would break the query (``&``, ``#``, spaces ...) are
    percent-encoded; ``:``, ``/`` and ``|`` stay readable, as servers expect.
    """
    _require_uri(identifier_system, "identifier_system")
    if not isinstance(value, str) or not value.strip():
        raise OutboundError("value", "must be a non-empty string")
    return "identifier=" + quote(f"{identifier_system}|{value}", safe=":/|")


def build_booking_appointment(
    *,
    slot: Slot,
    schedule: Schedule | None,
    patient_id: str,
    idempotency_key: str,
    identifier_system: str = BOOKING_IDENTIFIER_SYSTEM,
    service_type: str | None = None,
    service_type_system: str | None = None,
    minutes_duration: int | None = None,
    reason: str | None = None,
    comment: str | None = None,
    description: str | None = None,
    practitioner_refs: Sequence[str] | None = None,
    location_refs: Sequence[str] | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """A ``booked`` Appointment for one free Slot (the slot-search + create flow).

    Oracle Health's create needs exactly one ``slot`` and one patient participant
    with status ``accepted`` (docs.oracle.com .../mfrap/op-appointment-post.html);
    HAPI accepts the same shape. Practitioner/location participants come from the
    schedule's actors unless overridden; ``patient_id`` is the upstream Patient id.
    """
    slot_id = _slot_upstream_id(slot)
    start, end = _slot_period(slot, minutes_duration)
    patient = patient_id.removeprefix("Patient/") if isinstance(patient_id, str) else ""
    if not is_fhir_id(patient):
        raise OutboundError("patient_id", "must be a FHIR id")
    _require_uri(identifier_system, "identifier_system")

    participants: list[dict[str, Any]] = [
        {
            "actor": {"reference": f"Patient/{patient}"},
            "required": "required",
            "status": "accepted",
        }
    ]
    for ref in _actor_refs(schedule, practitioner_refs, location_refs):
        participants.append(
            {"actor": {"reference": ref}, "required": "required", "status": "accepted"}
        )

    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "identifier": [
            {"system": identifier_system, "value": booking_identifier_value(idempotency_key)}
        ],
        "status": "booked",
        "start": _instant(start),
        "end": _instant(end),
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "participant": participants,
    }
    codes = [service_type] if service_type is not None else list(slot.service_types)
    if codes:
        resource["serviceType"] = [
            _concept(code, service_type_system, f"serviceType[{i}]") for i, code in enumerate(codes)
        ]
    if slot.appointment_type:
        resource["appointmentType"] = {"coding": [{"code": slot.appointment_type}]}
    if reason is not None:
        resource["reasonCode"] = [{"text": _text(reason, "reason")}]
    if description is not None:
        resource["description"] = _text(description, "description")
    if comment is not None:
        resource["comment"] = _text(comment, "comment")
    if created is not None:
        resource["created"] = _instant(_aware(created, "created"))
    return _validated(R4BAppointment, resource)


def build_cancellation(appointment_json: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """The Appointment as read, now ``cancelled`` with a reason, for a PUT with If-Match.

    Everything else is kept. An upstream record that is not valid R4B raises
    ``OutboundError``; use ``cancel_patch`` on servers that accept PATCH.
    """
    if not isinstance(appointment_json, Mapping) or appointment_json.get("resourceType") != (
        "Appointment"
    ):
        raise OutboundError("Appointment.resourceType", "expected an Appointment")
    resource = copy.deepcopy(dict(appointment_json))
    resource["status"] = "cancelled"
    resource["cancelationReason"] = {"text": _text(reason, "reason")}
    return _validated(R4BAppointment, resource)


def cancel_patch(reason: str) -> list[dict[str, Any]]:
    """JSON Patch (RFC 6902) ops that cancel an Appointment (Argonaut cancel examples)."""
    return [
        {"op": "replace", "path": "/status", "value": "cancelled"},
        # "add" replaces the member when it exists, so one op serves both cases.
        {"op": "add", "path": "/cancelationReason", "value": {"text": _text(reason, "reason")}},
    ]


def build_coverage_eligibility_request(
    request: EligibilityRequest,
    *,
    patient_ref: str,
    coverage_ref: str | None,
    created: datetime,
    insurer_ref: str | None = None,
    payer_id_system: str = PAYER_ID_SYSTEM,
    provider_ref: str | None = None,
    purpose: Iterable[str] = ("validation", "benefits"),
    identifier_system: str = ELIGIBILITY_IDENTIFIER_SYSTEM,
) -> dict[str, Any]:
    """An R4 CoverageEligibilityRequest for one inquiry.

    The insurer is ``insurer_ref`` when the payer has a FHIR Organization, else the
    request's payer id as an identifier. The provider is identified by NPI (plus
    ``provider_ref`` when given). Each service type becomes an item category in
    the X12 service type code system; the trace number is the identifier.
    """
    patient = _reference(patient_ref, "patient_ref", {"Patient"})
    npi = request.provider_npi.strip()
    if not is_valid_npi(npi):
        raise OutboundError(
            "EligibilityRequest.provider_npi", "must be 10 digits with a valid check digit"
        )
    purposes = list(dict.fromkeys(purpose))
    if not purposes or not set(purposes) <= _PURPOSES:
        raise OutboundError("purpose", f"must be one or more of {sorted(_PURPOSES)}")
    trace = request.trace_number.strip()
    if not trace:
        raise OutboundError("EligibilityRequest.trace_number", "must not be empty")
    _require_uri(identifier_system, "identifier_system")

    insurer: dict[str, Any]
    if insurer_ref is not None:
        insurer = {"reference": _reference(insurer_ref, "insurer_ref", {"Organization"})}
    else:
        _require_uri(payer_id_system, "payer_id_system")
        if not request.payer_id.strip():
            raise OutboundError("EligibilityRequest.payer_id", "must not be empty")
        insurer = {"identifier": {"system": payer_id_system, "value": request.payer_id.strip()}}
    if request.payer_name:
        insurer["display"] = request.payer_name

    provider: dict[str, Any] = {"identifier": {"system": NPI_SYSTEM, "value": npi}}
    if provider_ref is not None:
        provider["reference"] = _reference(
            provider_ref, "provider_ref", {"Practitioner", "PractitionerRole", "Organization"}
        )
    if request.provider_name:
        provider["display"] = request.provider_name

    resource: dict[str, Any] = {
        "resourceType": "CoverageEligibilityRequest",
        "identifier": [{"system": identifier_system, "value": trace}],
        "status": "active",
        "purpose": purposes,
        "patient": {"reference": patient},
        "servicedDate": _date(request.date_of_service),
        "created": _instant(_aware(created, "created")),
        "provider": provider,
        "insurer": insurer,
    }
    if coverage_ref is not None:
        resource["insurance"] = [
            {
                "focal": True,
                "coverage": {"reference": _reference(coverage_ref, "coverage_ref", {"Coverage"})},
            }
        ]
    if request.service_types:
        resource["item"] = [
            {"category": _concept(code, SERVICE_TYPE_SYSTEM, f"item[{i}].category")}
            for i, code in enumerate(request.service_types)
        ]
    return _validated(R4BCoverageEligibilityRequest, resource)


# --- helpers -------------------------------------------------------------------


def _validated(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """Validate with fhir.resources R4B; the first error becomes an OutboundError."""
    rtype = resource["resourceType"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"] if p != "__root__")
        # pydantic's msg names the rule, not the value (the value is only in str(exc)).
        raise OutboundError(f"{rtype}.{path}" if path else rtype, first["msg"]) from None
    return resource


def _slot_upstream_id(slot: Slot) -> str:
    if slot.source.resource_type != "Slot":
        raise OutboundError("Slot.source.resource_type", "not a Slot")
    if not is_fhir_id(slot.source.id):
        raise OutboundError("Slot.source.id", "not a FHIR id")
    return slot.source.id


def _slot_period(slot: Slot, minutes_duration: int | None) -> tuple[datetime, datetime]:
    start = _aware(slot.start, "Slot.start")
    if slot.end is not None:
        end = _aware(slot.end, "Slot.end")
    elif minutes_duration is not None:
        if minutes_duration <= 0:
            raise OutboundError("minutes_duration", "must be positive")
        end = start + timedelta(minutes=minutes_duration)
    else:
        raise OutboundError("Slot.end", "slot has no end: pass minutes_duration")
    if end <= start:
        raise OutboundError("Slot.end", "must be after Slot.start")
    return start, end


def _actor_refs(
    schedule: Schedule | None,
    practitioner_refs: Sequence[str] | None,
    location_refs: Sequence[str] | None,
) -> list[str]:
    out: list[str] = []
    if practitioner_refs is None or location_refs is None:
        for i, ref in enumerate(schedule.actors if schedule is not None else []):
            m = _REF.fullmatch(ref)
            if m is None:
                raise OutboundError(f"Schedule.actors[{i}]", "not a Type/id reference")
            rtype = m.group(1)
            if rtype not in _ACTOR_TYPES:
                continue
            is_location = rtype == "Location"
            if (is_location and location_refs is None) or (
                not is_location and practitioner_refs is None
            ):
                out.append(ref)
    for name, refs, types in (
        ("practitioner_refs", practitioner_refs, _ACTOR_TYPES - {"Location"}),
        ("location_refs", location_refs, {"Location"}),
    ):
        for i, ref in enumerate(refs or []):
            out.append(_reference(ref, f"{name}[{i}]", types))
    return list(dict.fromkeys(out))


def _reference(ref: str, field: str, types: Iterable[str]) -> str:
    m = _REF.fullmatch(ref) if isinstance(ref, str) else None
    allowed = set(types)
    if m is None or m.group(1) not in allowed:
        raise OutboundError(field, f"must be a reference like {sorted(allowed)[0]}/<id>")
    return ref


def _concept(code: str, system: str | None, field: str) -> dict[str, Any]:
    if not isinstance(code, str) or not code.strip():
        raise OutboundError(field, "code must be a non-empty string")
    coding: dict[str, Any] = {"code": code.strip()}
    if system is not None:
        _require_uri(system, field + ".system")
        coding = {"system": system, **coding}
    return {"coding": [coding]}


def _require_uri(value: str, field: str) -> None:
    if not isinstance(value, str) or not _URI.fullmatch(value):
        raise OutboundError(field, "must be a URI without spaces")


def _text(value: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OutboundError(field, "must be non-empty text")
    return value.strip()


def _aware(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise OutboundError(field, "must be a timezone-aware datetime")
    return value


def _instant(value: datetime) -> str:
    """FHIR instant: seconds always, milliseconds when present, an explicit offset."""
    spec = "milliseconds" if value.microsecond else "seconds"
    text = value.isoformat(timespec=spec)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _date(value: date) -> str:
    return value.isoformat()
