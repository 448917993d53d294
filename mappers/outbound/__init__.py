"""What the gateway sends to FHIR servers, built strictly.

Outbound strict: every builder checks what FHIR R4 and the workflow rules require
(fhir.resources does not enforce value sets or minimum cardinalities), then
validates the result with ``fhir.resources.R4B`` (the closest to R4 that
fhir.resources ships; never its default R5 models). Any failure raises
``OutboundError`` (a ``MappingError``) naming the field; messages never carry values.

Builders return plain FHIR JSON: dicts ready for ``FhirClient.create``/``update``,
JSON Patch (RFC 6902) operation lists for PATCH, ``If-None-Exist`` queries.

- booking: ``build_booking_appointment``, ``build_cancellation``, ``cancel_patch``;
- holds: ``build_hold_appointment`` (status pending), ``hold_parameters`` ($hold);
- appointment status moves: ``APPOINTMENT_TRANSITIONS``, ``check_transition``,
  ``status_patch``, ``with_status`` (``InvalidTransition`` for impossible moves);
- patients: ``build_patient`` (registration), ``patient_if_none_exist``,
  ``patient_update`` (JSON Patch and the updated resource);
- insurance: ``build_coverage`` (payer or self-pay);
- eligibility: ``build_coverage_eligibility_request``.
"""

from __future__ import annotations

from ..npi import NPI_SYSTEM
from ._rules import OutboundError
from .appointment_status import (
    APPOINTMENT_TRANSITIONS,
    CHECK_IN_STATUSES,
    ORACLE_HEALTH_TRANSITIONS,
    InvalidTransition,
    check_transition,
    status_patch,
    with_status,
)
from .booking import (
    BOOKING_IDENTIFIER_SYSTEM,
    booking_identifier_value,
    booking_if_none_exist,
    build_booking_appointment,
    build_cancellation,
    cancel_patch,
    identifier_if_none_exist,
)
from .coverage import (
    COVERAGE_CLASS_SYSTEM,
    SELF_PAY_SYSTEM,
    SUBSCRIBER_RELATIONSHIP_SYSTEM,
    build_coverage,
)
from .eligibility_request import (
    ELIGIBILITY_IDENTIFIER_SYSTEM,
    PAYER_ID_SYSTEM,
    SERVICE_TYPE_SYSTEM,
    build_coverage_eligibility_request,
)
from .hold import HOLD_IDENTIFIER_SYSTEM, build_hold_appointment, hold_parameters
from .patient_update import PatientUpdate, patient_update
from .registration import build_patient, patient_if_none_exist

__all__ = [
    "APPOINTMENT_TRANSITIONS",
    "BOOKING_IDENTIFIER_SYSTEM",
    "CHECK_IN_STATUSES",
    "COVERAGE_CLASS_SYSTEM",
    "ELIGIBILITY_IDENTIFIER_SYSTEM",
    "HOLD_IDENTIFIER_SYSTEM",
    "NPI_SYSTEM",
    "ORACLE_HEALTH_TRANSITIONS",
    "PAYER_ID_SYSTEM",
    "SELF_PAY_SYSTEM",
    "SERVICE_TYPE_SYSTEM",
    "SUBSCRIBER_RELATIONSHIP_SYSTEM",
    "InvalidTransition",
    "OutboundError",
    "PatientUpdate",
    "booking_identifier_value",
    "booking_if_none_exist",
    "build_booking_appointment",
    "build_cancellation",
    "build_coverage",
    "build_coverage_eligibility_request",
    "build_hold_appointment",
    "build_patient",
    "cancel_patch",
    "check_transition",
    "hold_parameters",
    "identifier_if_none_exist",
    "patient_if_none_exist",
    "patient_update",
    "status_patch",
    "with_status",
]
