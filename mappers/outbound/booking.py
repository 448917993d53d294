"""Booking writes: the booked Appointment for a Slot, its idempotency identifier and
conditional-create query, and the cancellation (PUT body or JSON Patch)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fhir.resources.R4B.appointment import Appointment as R4BAppointment

from ..ids import is_fhir_id
from ..model import Schedule, Slot
from ._rules import (
    REF,
    OutboundError,
    aware,
    concept,
    instant,
    reference,
    require_uri,
    text,
    validated,
)

__all__ = [
    "BOOKING_IDENTIFIER_SYSTEM",
    "booking_identifier_value",
    "booking_if_none_exist",
    "build_booking_appointment",
    "build_cancellation",
    "cancel_patch",
    "identifier_if_none_exist",
    "slot_appointment",
]

BOOKING_IDENTIFIER_SYSTEM = "urn:frontdesk:booking"

# Schedule.actor types that may also take part in an Appointment (R4 Appointment.participant.actor).
_ACTOR_TYPES = frozenset(
    {"Practitioner", "PractitionerRole", "Location", "HealthcareService", "Device", "RelatedPerson"}
)


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


def identifier_if_none_exist(identifier_system: str, value: str) -> str:
    """The If-None-Exist query for a conditional create: ``identifier=system|value``.

    Characters that would break the query (``&``, ``#``, spaces ...) are
    percent-encoded; ``:``, ``/`` and ``|`` stay readable, as servers expect.
    """
    require_uri(identifier_system, "identifier_system")
    if not isinstance(value, str) or not value.strip():
        raise OutboundError("value", "must be a non-empty string")
    return "identifier=" + quote(f"{identifier_system}|{value}", safe=":/|")


# The name the booking flow has always used; any conditional create on an identifier.
booking_if_none_exist = identifier_if_none_exist


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
    return slot_appointment(
        status="booked",
        patient_status="accepted",
        slot=slot,
        schedule=schedule,
        patient_id=patient_id,
        identifier_system=identifier_system,
        identifier_value=booking_identifier_value(idempotency_key),
        service_type=service_type,
        service_type_system=service_type_system,
        minutes_duration=minutes_duration,
        reason=reason,
        comment=comment,
        description=description,
        practitioner_refs=practitioner_refs,
        location_refs=location_refs,
        created=created,
    )


def slot_appointment(
    *,
    status: str,
    patient_status: str,
    slot: Slot,
    schedule: Schedule | None,
    patient_id: str,
    identifier_system: str,
    identifier_value: str,
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
    """An Appointment in ``status`` for one Slot: the booking and the hold share it."""
    slot_id = _slot_upstream_id(slot)
    start, end = _slot_period(slot, minutes_duration)
    patient = patient_id.removeprefix("Patient/") if isinstance(patient_id, str) else ""
    if not is_fhir_id(patient):
        raise OutboundError("patient_id", "must be a FHIR id")
    require_uri(identifier_system, "identifier_system")

    participants: list[dict[str, Any]] = [
        {
            "actor": {"reference": f"Patient/{patient}"},
            "required": "required",
            "status": patient_status,
        }
    ]
    for ref in _actor_refs(schedule, practitioner_refs, location_refs):
        participants.append(
            {"actor": {"reference": ref}, "required": "required", "status": "accepted"}
        )

    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "identifier": [{"system": identifier_system, "value": identifier_value}],
        "status": status,
        "start": instant(start),
        "end": instant(end),
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "participant": participants,
    }
    codes = [service_type] if service_type is not None else list(slot.service_types)
    if codes:
        # A code keeps the system the Slot gave it: a bare code has no defined meaning.
        slot_systems = {c.code: c.system for c in slot.service_type_codings if c.code}
        resource["serviceType"] = [
            concept(code, service_type_system or slot_systems.get(code), f"serviceType[{i}]")
            for i, code in enumerate(codes)
        ]
    if slot.appointment_type:
        kind = slot.appointment_type_coding
        system = kind.system if kind is not None and kind.code == slot.appointment_type else None
        resource["appointmentType"] = concept(slot.appointment_type, system, "appointmentType")
    if reason is not None:
        resource["reasonCode"] = [{"text": text(reason, "reason")}]
    if description is not None:
        resource["description"] = text(description, "description")
    if comment is not None:
        resource["comment"] = text(comment, "comment")
    if created is not None:
        resource["created"] = instant(aware(created, "created"))
    return validated(R4BAppointment, resource)


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
    resource["cancelationReason"] = {"text": text(reason, "reason")}
    return validated(R4BAppointment, resource)


def cancel_patch(reason: str) -> list[dict[str, Any]]:
    """JSON Patch (RFC 6902) ops that cancel an Appointment (Argonaut cancel examples)."""
    return [
        {"op": "replace", "path": "/status", "value": "cancelled"},
        # "add" replaces the member when it exists, so one op serves both cases.
        {"op": "add", "path": "/cancelationReason", "value": {"text": text(reason, "reason")}},
    ]


# --- helpers -------------------------------------------------------------------


def _slot_upstream_id(slot: Slot) -> str:
    if slot.source.resource_type != "Slot":
        raise OutboundError("Slot.source.resource_type", "not a Slot")
    if not is_fhir_id(slot.source.id):
        raise OutboundError("Slot.source.id", "not a FHIR id")
    return slot.source.id


def _slot_period(slot: Slot, minutes_duration: int | None) -> tuple[datetime, datetime]:
    start = aware(slot.start, "Slot.start")
    if slot.end is not None:
        end = aware(slot.end, "Slot.end")
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
            m = REF.fullmatch(ref)
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
            out.append(reference(ref, f"{name}[{i}]", types))
    return list(dict.fromkeys(out))
