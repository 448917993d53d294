"""Reading appointments: one by id, or a patient's in a date range across every EHR that
knows the patient."""

from __future__ import annotations

from datetime import datetime, timedelta

from mappers import decode_id
from mappers.model import Appointment

from ..schemas import PatientOut
from ..sources import SourceHandle, TenantSources
from .errors import InvalidRequest
from .fanout import SourceStatus, fan_out
from .patients import get_patient
from .validation import check_instant

__all__ = ["get_appointment", "list_appointments"]

MAX_APPOINTMENTS = 200


async def get_appointment(sources: TenantSources, appointment_id: str) -> Appointment:
    handle, ref = sources.resolve(appointment_id, "Appointment", "appointment")
    record, _ = await handle.read_mapped("Appointment", ref.id, Appointment, what="appointment")
    return record


async def list_appointments(
    sources: TenantSources,
    *,
    patient_id: str,
    start: datetime,
    end: datetime,
    max_days: int,
    deadline_seconds: float,
) -> tuple[list[Appointment], list[SourceStatus]]:
    check_instant("start", start)
    check_instant("end", end)
    if end <= start or end - start > timedelta(days=max_days):
        raise InvalidRequest(f"end must be after start, at most {max_days} days later")
    person, statuses = await get_patient(sources, patient_id, deadline_seconds=deadline_seconds)
    items, found = await person_appointments(
        sources, person, start, end, deadline_seconds=deadline_seconds
    )
    # The patient's own source answered already (get_patient); report each source once.
    seen = {s.source for s in found}
    return items, found + [s for s in statuses if s.source not in seen]


async def person_appointments(
    sources: TenantSources,
    person: PatientOut,
    start: datetime,
    end: datetime,
    *,
    deadline_seconds: float,
) -> tuple[list[Appointment], list[SourceStatus]]:
    """The appointments in [start, end) of every record linked into ``person``."""
    targets = [(sources.get(link.source), decode_id(link.id).id) for link in person.links]
    window = [f"ge{start.isoformat()}", f"lt{end.isoformat()}"]

    async def search(handle: SourceHandle, upstream_patient: str) -> list[Appointment]:
        params = {"patient": f"Patient/{upstream_patient}", "date": window, "_count": "100"}
        return await handle.search_mapped(
            "Appointment", params, Appointment, limit=MAX_APPOINTMENTS
        )

    pairs = [(h, pid) for h, pid in targets if h is not None]
    # An EHR with no Appointment search (Epic lists read only) can't be asked.
    unsearchable = [
        SourceStatus(h.id, "error", "this EHR offers no Appointment search")
        for h, _ in pairs
        if not _searchable(h)
    ]
    pairs = [(h, pid) for h, pid in pairs if _searchable(h)]
    outcomes = await fan_out(
        pairs, lambda pair: pair[0].id, lambda pair: search(*pair), deadline_seconds
    )
    items = sorted(
        (a for o in outcomes if o.value for a in o.value),
        key=lambda a: (a.start is None, a.start, a.id),
    )
    return items, [o.status for o in outcomes] + unsearchable


def _searchable(handle: SourceHandle) -> bool:
    interactions = handle.client.profile.interactions.get("Appointment")
    return interactions is None or "search-type" in interactions
