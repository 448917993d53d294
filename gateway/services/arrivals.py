"""A patient arrives, or doesn't: check-in and no-show.

Check-in writes ``arrived`` (FHIR R4) or ``checked-in`` where the EHR's vendor profile
says so (Oracle Health); no-show writes ``noshow``. Each move follows the EHR's table of
status moves (``mappers.outbound.appointment_status``): an impossible one is refused as
``invalid_transition``; asking again for the status already there changes nothing and
answers the appointment (a replayed click is harmless). A client that read a version
sends it as If-Match: a stale one answers ``version_conflict`` and nothing is written.
"""

from __future__ import annotations

from typing import Literal

from connectors import PreconditionFailed
from mappers import from_fhir
from mappers.model import Appointment
from mappers.outbound.appointment_status import InvalidTransition, check_transition

from ..sources import TenantSources
from .errors import ServiceError, VersionConflict
from .scheduling.status_moves import status_moves

__all__ = ["Arrival", "InvalidStatusMove", "move"]

Arrival = Literal["check-in", "no-show"]


class InvalidStatusMove(ServiceError):
    code = "invalid_transition"
    title = "The appointment can't move to that status"


async def move(
    sources: TenantSources, appointment_id: str, arrival: Arrival, *, if_match: str | None
) -> Appointment:
    handle, ref = sources.resolve(appointment_id, "Appointment", "appointment")
    record, current = await handle.read_mapped(
        "Appointment", ref.id, Appointment, what="appointment"
    )
    stale = (
        if_match is not None
        and record.source.version is not None
        and version_of_etag(if_match) != record.source.version
    )
    if stale:
        raise VersionConflict(
            "the appointment changed since it was read; read it again",
            extra={"current_version": record.source.version},
        )
    profile = handle.client.profile
    target = profile.check_in_status if arrival == "check-in" else "noshow"
    try:
        if not check_transition(record.status, target, status_moves(profile)):
            return record
    except InvalidTransition as exc:
        raise InvalidStatusMove(
            f"an appointment that is {exc.current} can't move to {exc.target}",
            extra={"status": exc.current, "wanted": exc.target},
        ) from None
    try:
        updated = await handle.scheduler.set_status(ref.id, current, target)
    except PreconditionFailed:
        raise VersionConflict("the appointment changed meanwhile; read it again") from None
    return from_fhir(updated, source=handle.id, expect=Appointment)


def version_of_etag(if_match: str) -> str:
    """The version an If-Match names: ``W/"3"``, ``"3"`` or ``3``."""
    value = if_match.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')
