"""The day's worklist: who is coming today, at this clinic or to this practitioner, across
the tenant's EHRs, with what a desk shows: the patient's name and age (never the birth
date), the practitioners and location in words, the visit type, the status, and, when
asked, the latest coverage answer as a badge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from mappers import display_name
from mappers.model import Appointment, EligibilityResult, Patient, RecordRef

from ..schemas import AppointmentOut, CoverageBadge, PatientBrief, Ref
from ..sources import SourceHandle, TenantSources
from .directory import Directory
from .eligibility_cache import EligibilityStore
from .errors import NotFound
from .fanout import SourceStatus, fan_out

__all__ = ["MAX_PER_SOURCE", "WorklistQuery", "age_on", "badge", "day_worklist"]

MAX_PER_SOURCE = 500


@dataclass(frozen=True)
class WorklistQuery:
    start: datetime
    end: datetime
    day: date
    location: str | None = None
    practitioner: str | None = None
    source: str | None = None
    with_coverage: bool = False


def age_on(birth_date: str | None, day: date) -> int | None:
    """Whole years on ``day``; None for a partial or missing birth date."""
    if birth_date is None or len(birth_date) != 10:
        return None
    try:
        born = date.fromisoformat(birth_date)
    except ValueError:
        return None
    years = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    return years if years >= 0 else None


def badge(result: EligibilityResult | None) -> CoverageBadge:
    """The coverage answer in one word a desk can scan, with the reasons behind it."""
    if result is None:
        return CoverageBadge(status="unknown", reasons=["not checked yet"])
    reasons = [e.description for e in result.errors]
    if result.stale:
        reasons.append("payer not answering: the answer shown is from an earlier check")
    if result.status == "unknown":
        reasons.extend(result.messages or ["coverage could not be verified"])
    status: Literal["active", "inactive", "needs_attention", "unknown", "self_pay"]
    if result.self_pay:
        status = "self_pay"
    elif result.status in ("active", "inactive") and not result.stale:
        status = result.status
    else:
        status = "needs_attention"
    return CoverageBadge(
        status=status,
        checked_at=result.checked_at,
        payer_name=result.payer_name,
        plan_name=result.plan_name,
        reasons=reasons,
    )


async def day_worklist(
    sources: TenantSources,
    directory: Directory,
    store: EligibilityStore,
    query: WorklistQuery,
    *,
    deadline_seconds: float,
) -> tuple[list[AppointmentOut], list[SourceStatus]]:
    handles = sources.all()
    actor: tuple[str, str] | None = None
    for gateway_id, rtype in ((query.location, "Location"), (query.practitioner, "Practitioner")):
        if gateway_id is not None:
            handle, ref = sources.resolve(gateway_id, rtype, rtype.lower())
            handles, actor = [handle], (rtype.lower(), f"{rtype}/{ref.id}")
    if query.source is not None:
        handles = [h for h in handles if h.id == query.source]
        if not handles:
            raise NotFound("no such source")

    async def one(handle: SourceHandle) -> list[AppointmentOut]:
        params: dict[str, str | list[str]] = {
            "date": [f"ge{query.start.isoformat()}", f"lt{query.end.isoformat()}"],
            "_include": "Appointment:patient",
            "_count": "200",
        }
        if actor is not None:
            params[actor[0]] = actor[1]
        found = await handle.search_pages("Appointment", params, max_pages=5)
        appointments = [a for a in found.matches if isinstance(a, Appointment)]
        refs = [
            RecordRef(resource_type=_type(p.kind), id=p.ref, display=p.display)
            for a in appointments
            for p in a.participants
            if p.kind in ("practitioner", "location")
        ]
        names = await directory.fill_displays(handle, refs)
        out: list[AppointmentOut] = []
        for appointment in appointments[:MAX_PER_SOURCE]:
            patient = found.get(appointment.patient_id, Patient)
            coverage = (
                badge(await store.latest(sources.tenant.id, appointment.patient_id))
                if query.with_coverage and appointment.patient_id
                else None
            )
            out.append(_shown(appointment, patient, names, query.day, coverage))
        return out

    outcomes = await fan_out(handles, lambda h: h.id, one, deadline_seconds)
    items = sorted(
        (a for o in outcomes if o.value for a in o.value),
        key=lambda a: (a.start is None, a.start, a.id),
    )
    return items, [o.status for o in outcomes]


def _type(kind: str) -> str:
    return "Practitioner" if kind == "practitioner" else "Location"


def _shown(
    appointment: Appointment,
    patient: Patient | None,
    names: dict[str, str],
    day: date,
    coverage: CoverageBadge | None,
) -> AppointmentOut:
    def ref(ref_id: str | None, display: str | None) -> Ref:
        return Ref(id=ref_id, display=display or (names.get(ref_id) if ref_id else None))

    people = [ref(p.ref, p.display) for p in appointment.participants if p.kind == "practitioner"]
    place = next(
        (ref(p.ref, p.display) for p in appointment.participants if p.kind == "location"), None
    )
    visit = next((c.display for c in appointment.service_type_codings if c.display), None)
    if visit is None and appointment.appointment_type_coding is not None:
        visit = appointment.appointment_type_coding.display
    brief = None
    if appointment.patient_id is not None:
        shown = next(
            (p.display for p in appointment.participants if p.kind == "patient" and p.display),
            None,
        )
        if patient is not None and patient.name is not None:
            shown = display_name(patient.name) or shown
        brief = PatientBrief(
            id=appointment.patient_id,
            display=shown,
            age=age_on(patient.birth_date, day) if patient is not None else None,
        )
    return AppointmentOut(
        **appointment.model_dump(),
        patient=brief,
        practitioners=people,
        location=place,
        visit_type=visit,
        coverage=coverage,
    )
