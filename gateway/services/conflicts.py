"""One patient, two places at once: the check each EHR can't make alone.

Before a booking, the person's appointments are read in every EHR that holds one of
their linked records, and any that overlaps the new time (widened on both sides by the
tenant's buffer, e.g. travel time between clinics) is a conflict. A source that doesn't
answer in time doesn't block the booking: the check is then ``partial`` and says which
source is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mappers.model import Appointment

from ..schemas import PatientOut
from ..sources import TenantSources
from .appointments import person_appointments
from .errors import InvalidRequest, ServiceError
from .fanout import SourceStatus
from .patients import get_patient

__all__ = [
    "ConflictCheck",
    "PatientConflict",
    "conflicts_of",
    "overlapping_pairs",
    "patient_conflicts",
]

# Appointments that no longer hold the patient's time.
_INACTIVE = frozenset({"cancelled", "noshow", "entered-in-error", "proposed", "waitlist"})


class PatientConflict(ServiceError):
    code = "patient_conflict"
    title = "The patient has another appointment at that time"


@dataclass(frozen=True)
class ConflictCheck:
    conflicts: list[Appointment] = field(default_factory=list)
    # Sources that did not answer: their appointments were not seen.
    missing: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return bool(self.missing)


def _busy(appointment: Appointment) -> bool:
    return appointment.status not in _INACTIVE and appointment.start is not None


def _end(appointment: Appointment) -> datetime | None:
    if appointment.end is not None:
        return appointment.end
    if appointment.start is not None and appointment.minutes_duration:
        return appointment.start + timedelta(minutes=appointment.minutes_duration)
    return appointment.start


async def conflicts_of(
    sources: TenantSources,
    person: PatientOut,
    start: datetime,
    end: datetime,
    *,
    buffer: timedelta,
    ignore: frozenset[str] = frozenset(),
    deadline_seconds: float,
) -> ConflictCheck:
    """The person's active appointments overlapping [start - buffer, end + buffer)."""
    wide_start, wide_end = start - buffer, end + buffer
    # Appointments start before they overlap: look back a day for long ones.
    found, statuses = await person_appointments(
        sources,
        person,
        wide_start - timedelta(days=1),
        wide_end,
        deadline_seconds=deadline_seconds,
    )
    clashing = [
        a
        for a in found
        if a.id not in ignore
        and _busy(a)
        and a.start is not None
        and a.start < wide_end
        and (_end(a) or a.start) > wide_start
    ]
    return ConflictCheck(clashing, [s.source for s in statuses if s.status != "ok"])


def overlapping_pairs(
    appointments: list[Appointment], *, buffer: timedelta
) -> list[tuple[Appointment, Appointment]]:
    """Pairs of the person's active appointments that overlap (buffer widens each)."""
    timed = [(a.start, _end(a) or a.start, a) for a in appointments if _busy(a) and a.start]
    timed.sort(key=lambda entry: entry[0])
    pairs: list[tuple[Appointment, Appointment]] = []
    for i, (_, first_end, first) in enumerate(timed):
        for second_start, _, second in timed[i + 1 :]:
            if second_start - buffer < first_end + buffer:
                pairs.append((first, second))
    return pairs


async def patient_conflicts(
    sources: TenantSources,
    patient_id: str,
    start: datetime,
    end: datetime,
    *,
    max_days: int,
    deadline_seconds: float,
) -> tuple[list[tuple[Appointment, Appointment]], list[SourceStatus]]:
    """Overlaps already on the books for one person, across every EHR that knows them."""
    if end <= start or end - start > timedelta(days=max_days):
        raise InvalidRequest(f"to must be after from, at most {max_days} days later")
    person, statuses = await get_patient(sources, patient_id, deadline_seconds=deadline_seconds)
    found, searched = await person_appointments(
        sources, person, start, end, deadline_seconds=deadline_seconds
    )
    buffer = timedelta(minutes=sources.tenant.conflict_buffer_minutes)
    seen = {s.source for s in searched}
    return overlapping_pairs(found, buffer=buffer), searched + [
        s for s in statuses if s.source not in seen
    ]
