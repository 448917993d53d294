"""Appointment status moves: which are possible, and the writes that make them.

The tables are data: the gateway picks one per source (its vendor profile) and the
same functions check and build the move. ``check_transition`` says whether a move is
needed (False: the appointment is already there, so a replayed check-in is a no-op)
and raises ``InvalidTransition`` for a move the table does not allow; the gateway
turns that into ``invalid_transition``. The writes are a JSON Patch (``status_patch``)
or the whole updated resource for a PUT (``with_status``), both with If-Match.

``APPOINTMENT_TRANSITIONS`` follows FHIR R4 Appointment (appointment.html, "Appointment
Statuses": proposed/pending/booked lead to arrived, checked-in and fulfilled; booked to
noshow; cancelled and entered-in-error end the life cycle). ``ORACLE_HEALTH_TRANSITIONS``
is exactly what Oracle Health documents: proposed→booked|cancelled,
booked→arrived|checked-in|cancelled, checked-in→fulfilled|cancelled
(docs.oracle.com .../mfrap/api-appointment.html); it has no no-show move.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any, Final

from fhir.resources.R4B.appointment import Appointment as R4BAppointment

from ._rules import OutboundError, validated

__all__ = [
    "APPOINTMENT_TRANSITIONS",
    "CHECK_IN_STATUSES",
    "ORACLE_HEALTH_TRANSITIONS",
    "InvalidTransition",
    "check_transition",
    "status_patch",
    "with_status",
]

Transitions = Mapping[str, Collection[str]]

_ERROR = "entered-in-error"
APPOINTMENT_TRANSITIONS: Final[Transitions] = MappingProxyType(
    {
        "proposed": frozenset({"pending", "booked", "waitlist", "cancelled", _ERROR}),
        "pending": frozenset({"booked", "cancelled", _ERROR}),
        "waitlist": frozenset({"pending", "booked", "cancelled", _ERROR}),
        "booked": frozenset({"arrived", "checked-in", "noshow", "cancelled", _ERROR}),
        "arrived": frozenset({"checked-in", "fulfilled", "cancelled", _ERROR}),
        "checked-in": frozenset({"fulfilled", "cancelled", _ERROR}),
        "fulfilled": frozenset({_ERROR}),
        "cancelled": frozenset({_ERROR}),
        "noshow": frozenset({_ERROR}),
        _ERROR: frozenset(),
    }
)
ORACLE_HEALTH_TRANSITIONS: Final[Transitions] = MappingProxyType(
    {
        "proposed": frozenset({"booked", "cancelled"}),
        "booked": frozenset({"arrived", "checked-in", "cancelled"}),
        "checked-in": frozenset({"fulfilled", "cancelled"}),
    }
)
# What a desk's check-in may write: R4 has both; a vendor profile says which its EHR takes.
CHECK_IN_STATUSES: Final = ("arrived", "checked-in")


class InvalidTransition(OutboundError):
    """The appointment cannot move from its status to the one asked for.

    ``current`` and ``target`` are status codes (never PHI), for the API's answer.
    """

    def __init__(self, current: str, target: str) -> None:
        super().__init__("Appointment.status", f"cannot move from {current} to {target}")
        self.current = current
        self.target = target


def check_transition(
    current: str, target: str, transitions: Transitions = APPOINTMENT_TRANSITIONS
) -> bool:
    """True when ``current`` → ``target`` is an allowed move, False when the appointment
    already has ``target`` (nothing to write); ``InvalidTransition`` otherwise."""
    if not isinstance(target, str) or not isinstance(current, str):
        raise OutboundError("Appointment.status", "must be a status code")
    if current == target:
        return False
    if target not in transitions.get(current, ()):
        raise InvalidTransition(_code(current), _code(target))
    return True


def status_patch(
    appointment_json: Mapping[str, Any],
    target: str,
    *,
    transitions: Transitions = APPOINTMENT_TRANSITIONS,
    test_current: bool = False,
) -> list[dict[str, Any]]:
    """JSON Patch (RFC 6902) ops that move the Appointment as read to ``target``; [] when
    it is already there. ``test_current`` adds a ``test`` of the status read, so a
    server that supports it refuses the patch if the status changed meanwhile (Oracle
    Health supports only ``replace`` on ``/status``: leave it off there)."""
    current = _status(appointment_json)
    if not check_transition(current, target, transitions):
        return []
    ops: list[dict[str, Any]] = []
    if test_current:
        ops.append({"op": "test", "path": "/status", "value": current})
    ops.append({"op": "replace", "path": "/status", "value": target})
    return ops


def with_status(
    appointment_json: Mapping[str, Any],
    target: str,
    *,
    transitions: Transitions = APPOINTMENT_TRANSITIONS,
) -> dict[str, Any]:
    """The Appointment as read, now in ``target``, validated R4B, for a PUT with If-Match
    (unchanged when it is already there). Everything else is kept."""
    current = _status(appointment_json)
    resource = copy.deepcopy(dict(appointment_json))
    if check_transition(current, target, transitions):
        resource["status"] = target
    return validated(R4BAppointment, resource)


def _status(appointment_json: Any) -> str:
    if not isinstance(appointment_json, Mapping):
        raise OutboundError("Appointment", "expected an Appointment JSON object")
    if appointment_json.get("resourceType") != "Appointment":
        raise OutboundError("Appointment.resourceType", "expected an Appointment")
    status = appointment_json.get("status")
    if not isinstance(status, str) or not status:
        raise OutboundError("Appointment.status", "missing or not a code")
    return status


def _code(value: str) -> str:
    """A status code fit for a message: codes are short lowercase words and hyphens."""
    if 0 < len(value) <= 32 and value.replace("-", "").isalpha() and value.isascii():
        return value
    return "(unrecognised)"
