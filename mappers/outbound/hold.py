"""Holding a slot while the caller decides (Argonaut Scheduling ``$hold`` semantics).

Argonaut's ``Appointment/$hold`` takes a proposed appointment (``appt-id`` or
``appt-resource``) and answers it with status ``pending`` for as long as the server's
rules allow (fhir.org/guides/argonaut/scheduling, OperationDefinition appointment-hold);
``$book`` then books it. ``hold_parameters`` builds that operation's input.
``build_hold_appointment`` builds the ``pending`` Appointment itself, for a source
whose profile holds by creating one (conditional create on the hold identifier, like
a booking); booking the held slot later moves it to ``booked``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fhir.resources.R4B.appointment import Appointment as R4BAppointment
from fhir.resources.R4B.parameters import Parameters as R4BParameters

from ..model import Schedule, Slot
from ._rules import REF, OutboundError, validated
from .booking import booking_identifier_value, slot_appointment

__all__ = ["HOLD_IDENTIFIER_SYSTEM", "build_hold_appointment", "hold_parameters"]

HOLD_IDENTIFIER_SYSTEM = "urn:frontdesk:hold"


def build_hold_appointment(
    *,
    slot: Slot,
    schedule: Schedule | None,
    patient_id: str,
    hold_key: str,
    identifier_system: str = HOLD_IDENTIFIER_SYSTEM,
    service_type: str | None = None,
    service_type_system: str | None = None,
    minutes_duration: int | None = None,
    practitioner_refs: Sequence[str] | None = None,
    location_refs: Sequence[str] | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """A ``pending`` Appointment holding one Slot for a patient.

    Shaped like a booking (one slot, the schedule's actors, the patient) but
    ``pending``, with the patient ``tentative``: nobody has agreed to the time yet.
    ``hold_key`` becomes a digested identifier (as a booking's idempotency key does),
    so a retried hold finds the first one through ``If-None-Exist``.
    """
    return slot_appointment(
        status="pending",
        patient_status="tentative",
        slot=slot,
        schedule=schedule,
        patient_id=patient_id,
        identifier_system=identifier_system,
        identifier_value=booking_identifier_value(hold_key),
        service_type=service_type,
        service_type_system=service_type_system,
        minutes_duration=minutes_duration,
        practitioner_refs=practitioner_refs,
        location_refs=location_refs,
        created=created,
    )


def hold_parameters(
    *, appointment_id: str | None = None, appointment: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The Parameters of ``Appointment/$hold``: ``appt-id`` (a proposed appointment a
    ``$find`` returned, ``Appointment/<id>``) or ``appt-resource`` (the appointment
    itself, as ``$find`` or a prefetch gave it). Exactly one of the two."""
    if (appointment_id is None) == (appointment is None):
        raise OutboundError("hold_parameters", "give exactly one of appointment_id, appointment")
    parameter: dict[str, Any]
    if appointment_id is not None:
        ref = appointment_id if isinstance(appointment_id, str) else ""
        if not ref.startswith("Appointment/"):
            ref = f"Appointment/{ref}"
        m = REF.fullmatch(ref)
        if m is None or m.group(1) != "Appointment":
            raise OutboundError("appointment_id", "must be an Appointment id")
        parameter = {"name": "appt-id", "valueUri": ref}
    else:
        if not isinstance(appointment, Mapping) or appointment.get("resourceType") != (
            "Appointment"
        ):
            raise OutboundError("appointment.resourceType", "expected an Appointment")
        resource = validated(R4BAppointment, copy.deepcopy(dict(appointment)))
        parameter = {"name": "appt-resource", "resource": resource}
    return validated(R4BParameters, {"resourceType": "Parameters", "parameter": [parameter]})
