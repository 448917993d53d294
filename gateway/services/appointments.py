"""Reading appointments: one by id, or a patient's within a date range."""

from __future__ import annotations

from datetime import datetime, timedelta

from mappers import InvalidId, MappingError, decode_id, from_fhir
from mappers.model import Appointment

from ..sources import TenantSources
from .errors import InvalidRequest, NotFound
from .fanout import SourceStatus, fan_out

__all__ = ["list_appointments"]

MAX_APPOINTMENTS = 200


async def list_appointments(
    sources: TenantSources,
    *,
    patient_id: str,
    start: datetime,
    end: datetime,
    max_days: int,
    deadline_seconds: float,
) -> tuple[list[Appointment], list[SourceStatus]]:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidRequest("start and end need a time zone offset")
    if end <= start or end - start > timedelta(days=max_days):
        raise InvalidRequest(f"end must be after start, at most {max_days} days later")
    try:
        ref = decode_id(patient_id, resource_type="Patient")
    except InvalidId:
        raise NotFound("no such patient") from None
    handle = sources.get(ref.source)
    if handle is None:
        raise NotFound("no such patient")
    params: dict[str, str | list[str]] = {
        "patient": f"Patient/{ref.id}",
        "date": [f"ge{start.isoformat()}", f"lt{end.isoformat()}"],
        "_count": "100",
    }

    async def search() -> list[Appointment]:
        out: list[Appointment] = []
        async for resource in handle.client.search("Appointment", params):
            try:
                record = from_fhir(resource, source=handle.id)
            except MappingError:
                continue
            if isinstance(record, Appointment):
                out.append(record)
            if len(out) >= MAX_APPOINTMENTS:
                break
        return out

    outcomes = await fan_out([handle], lambda h: h.id, lambda h: search(), deadline_seconds)
    items = sorted(
        (a for o in outcomes if o.value for a in o.value),
        key=lambda a: (a.start is None, a.start, a.id),
    )
    return items, [o.status for o in outcomes]
