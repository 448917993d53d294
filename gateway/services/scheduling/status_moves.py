"""Which table of Appointment status moves a source follows, from its vendor profile."""

from __future__ import annotations

from connectors import VendorProfile
from mappers.outbound.appointment_status import (
    APPOINTMENT_TRANSITIONS,
    ORACLE_HEALTH_TRANSITIONS,
    Transitions,
)

__all__ = ["status_moves"]

_TABLES: dict[str, Transitions] = {
    "r4": APPOINTMENT_TRANSITIONS,
    "oracle-health": ORACLE_HEALTH_TRANSITIONS,
}


def status_moves(profile: VendorProfile) -> Transitions:
    return _TABLES.get(profile.status_moves, APPOINTMENT_TRANSITIONS)
