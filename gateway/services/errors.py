"""What a service can refuse, each with a stable code the API exposes.

The HTTP status for each code lives at the edge (``gateway.errors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ConcurrentUpdate",
    "DateOutOfRange",
    "IdempotencyConflict",
    "InvalidRequest",
    "NotFound",
    "OverbookLimit",
    "OverbookUnsupported",
    "PatientNotInSource",
    "RescheduleIncomplete",
    "ServiceError",
    "SlotHeld",
    "SlotTaken",
    "SlotUnavailable",
    "VersionConflict",
]


class ServiceError(Exception):
    code = "service_error"
    title = "The request could not be completed"

    def __init__(self, detail: str, *, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = dict(extra or {})


class InvalidRequest(ServiceError):
    code = "validation_error"
    title = "The request is not valid"


class DateOutOfRange(InvalidRequest):
    code = "date_out_of_range"
    title = "A date is outside the range the gateway serves"


class NotFound(ServiceError):
    code = "not_found"
    title = "Not found"


class SlotTaken(ServiceError):
    code = "slot_taken"
    title = "The slot was just taken"


class SlotHeld(ServiceError):
    code = "slot_held"
    title = "Another desk is holding the slot"


class OverbookLimit(ServiceError):
    code = "overbook_limit"
    title = "The slot has as many bookings as it may take"


class OverbookUnsupported(ServiceError):
    code = "overbook_unsupported"
    title = "This EHR can't take an overbooking through the gateway"


class PatientNotInSource(ServiceError):
    """Booking a slot of one EHR for a patient record of another."""

    code = "patient_not_in_source"
    title = "The patient has no record in the slot's EHR"


class SlotUnavailable(ServiceError):
    code = "slot_unavailable"
    title = "The slot is not bookable"


class IdempotencyConflict(ServiceError):
    code = "idempotency_conflict"
    title = "Idempotency-Key reused with a different request"


class ConcurrentUpdate(ServiceError):
    code = "concurrent_update"
    title = "The record changed while we were updating it"


class VersionConflict(ServiceError):
    """The record changed since the client read it: nothing was written."""

    code = "version_conflict"
    title = "The record changed since it was read"


class RescheduleIncomplete(ServiceError):
    """The new appointment stands but the old one could not be cancelled."""

    code = "reschedule_incomplete"
    title = "New appointment booked; the old one is still booked"
