"""The patient's other appointments at the same time, as the console shows them: the ones
a booking refusal names (``from_refusal``) and the marks on the day's list
(``day_marks``: one conflicts check per patient on the list, all at once, under the
sources' deadline)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from connectors import UpstreamError
from mappers import MappingError
from mappers.model import Appointment

from ..schemas import AppointmentOut
from ..services.conflicts import patient_conflicts
from ..services.errors import ServiceError
from ..services.fanout import SourceStatus
from ..sources import TenantSources

__all__ = ["Clash", "ConflictCheck", "Mark", "day_marks", "from_refusal"]

# Appointments on the list that still hold the patient's time (the others need no mark).
_ACTIVE = frozenset({"booked", "pending", "arrived", "checked-in"})


# ``conflicts.patient_conflicts``'s shape: (sources, patient, start, end, max_days=,
# deadline_seconds=) -> (overlapping pairs, each source's status).
ConflictCheck = Callable[
    ...,
    Awaitable[tuple[list[tuple[Appointment, Appointment]], list[SourceStatus]]],
]


@dataclass(frozen=True)
class Clash:
    """Another appointment of the patient's: when, where, in which EHR (no patient)."""

    start: datetime | None
    end: datetime | None
    location: str | None
    source: str
    status: str


@dataclass(frozen=True)
class Mark:
    """What the day's list says of one appointment: a clash with another of the patient's
    appointments, or a check that could not see every EHR (``partial``)."""

    kind: Literal["conflict", "partial"]
    others: list[Clash] = field(default_factory=list)
    # EHRs that did not answer the check (empty: the check itself did not finish).
    missing: list[str] = field(default_factory=list)


def _when(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def from_refusal(extra: Mapping[str, Any]) -> list[Clash]:
    """The other appointments a ``409 patient_conflict`` names."""
    return [
        Clash(
            start=_when(c.get("start")),
            end=_when(c.get("end")),
            location=c.get("location") or None,
            source=str(c.get("source") or "?"),
            status=str(c.get("status") or ""),
        )
        for c in extra.get("conflicts", [])
        if isinstance(c, Mapping)
    ]


def _clash(appointment: Appointment) -> Clash:
    place = next(
        (p.display for p in appointment.participants if p.kind == "location" and p.display), None
    )
    return Clash(
        appointment.start, appointment.end, place, appointment.source.source, appointment.status
    )


async def _check(
    check: ConflictCheck,
    sources: TenantSources,
    patient_id: str,
    start: datetime,
    end: datetime,
    *,
    max_days: int,
    deadline_seconds: float,
) -> tuple[list[tuple[Appointment, Appointment]], list[str]] | None:
    """The patient's overlapping pairs and the EHRs that did not answer; None when the
    check could not be made at all."""
    try:
        pairs, statuses = await asyncio.wait_for(
            check(
                sources,
                patient_id,
                start,
                end,
                max_days=max_days,
                deadline_seconds=deadline_seconds,
            ),
            deadline_seconds,
        )
    except (UpstreamError, MappingError, ServiceError, TimeoutError):
        return None
    return pairs, sorted({s.source for s in statuses if s.status != "ok"})


async def day_marks(
    sources: TenantSources,
    items: Iterable[AppointmentOut],
    start: datetime,
    end: datetime,
    *,
    max_days: int,
    deadline_seconds: float,
    check: ConflictCheck = patient_conflicts,
) -> dict[str, Mark]:
    """Appointment id -> its mark, for the appointments of [start, end) on the list. Each
    patient on the list is checked once, every check at the same time; a check that
    doesn't finish within ``deadline_seconds`` marks that patient's rows partial."""
    rows: dict[str, list[str]] = {}
    for item in items:
        if item.patient_id and item.status in _ACTIVE:
            rows.setdefault(item.patient_id, []).append(item.id)
    patients = list(rows)
    checks = await asyncio.gather(
        *(
            _check(
                check, sources, p, start, end, max_days=max_days, deadline_seconds=deadline_seconds
            )
            for p in patients
        )
    )
    marks: dict[str, Mark] = {}
    for patient_id, checked in zip(patients, checks, strict=True):
        if checked is None:
            for appointment_id in rows[patient_id]:
                marks[appointment_id] = Mark("partial")
            continue
        pairs, missing = checked
        others: dict[str, list[Clash]] = {}
        for first, second in pairs:
            others.setdefault(first.id, []).append(_clash(second))
            others.setdefault(second.id, []).append(_clash(first))
        for appointment_id in rows[patient_id]:
            if appointment_id in others:
                marks[appointment_id] = Mark("conflict", others[appointment_id], missing)
            elif missing:
                marks[appointment_id] = Mark("partial", missing=missing)
    return marks
