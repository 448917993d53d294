"""Today: the day's appointments at a location or for a practitioner, with check-in and
no-show. A thin reader of the same worklist and arrival services as API v1."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ...params import GatewayIdPath
from ...services import arrivals
from ...services.desk_time import day_bounds, parse_desk_day
from ...services.directory import DirectoryQuery
from ...services.worklist import WorklistQuery, day_worklist
from ..desk import Desk, DeskDep, FormDeskDep

router = APIRouter(prefix="/console", include_in_schema=False)
_ID = r"^(loc|prac):[A-Za-z0-9_-]{1,300}$"


def _day(desk: Desk, raw: str | None) -> date:
    if raw:
        return parse_desk_day("date", raw)
    return datetime.now(desk.zone).date()


async def _worklist(desk: Desk, day: date, where: str | None) -> dict[str, Any]:
    location = where[4:] if where and where.startswith("loc:") else None
    practitioner = where[5:] if where and where.startswith("prac:") else None
    first, after = day_bounds(day, desk.zone)
    desk.audit("appointment.worklist", sources=[h.id for h in desk.sources.all()])
    items, statuses = await day_worklist(
        desk.sources,
        desk.runtime.directory[desk.user.tenant],
        desk.runtime.coverage.store,
        WorklistQuery(
            start=first,
            end=after,
            day=day,
            location=location,
            practitioner=practitioner,
            with_coverage=True,
        ),
        deadline_seconds=desk.runtime.settings.source_deadline_seconds,
    )
    desk.audit(
        "appointment.worklist",
        patient_ids=[a.patient_id for a in items if a.patient_id],
        sources=[s.source for s in statuses],
    )
    query = {"date": day.isoformat(), **({"where": where} if where else {})}
    return {
        "items": items,
        "statuses": statuses,
        "day": day,
        "where": where or "",
        "query": urlencode(query),
        "today_path": "/console/today?" + urlencode(query),
        "generated": datetime.now(desk.zone),
    }


@router.get("/today")
async def today(
    desk: DeskDep,
    date: str | None = Query(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$"),
    where: str | None = Query(default=None, pattern=_ID),
) -> Response:
    day = _day(desk, date)
    worklist = await _worklist(desk, day, where or None)
    locations, _, _ = await desk.runtime.directory[desk.user.tenant].locations(DirectoryQuery())
    people: dict[str, str] = {}
    for item in worklist["items"]:
        for ref in item.practitioners:
            if ref.id and ref.display:
                people.setdefault(ref.id, ref.display)
    return desk.page(
        "today.html",
        nav="today",
        flash=await desk.take_flash(),
        locations=locations,
        practitioners=sorted(people.items(), key=lambda p: p[1]),
        **worklist,
    )


@router.get("/today/list")
async def today_list(
    desk: DeskDep,
    date: str | None = Query(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$"),
    where: str | None = Query(default=None, pattern=_ID),
) -> Response:
    """The list alone: the page refreshes it on its own (the filters are outside it)."""
    worklist = await _worklist(desk, _day(desk, date), where or None)
    return desk.page("_worklist.html", **worklist)


async def _arrive(desk: Desk, appointment_id: str, arrival: arrivals.Arrival) -> Response:
    action = "appointment.check_in" if arrival == "check-in" else "appointment.no_show"
    desk.audit(action)
    appointment = await arrivals.move(desk.sources, appointment_id, arrival, if_match=None)
    desk.audit(
        action,
        patient_ids=[appointment.patient_id] if appointment.patient_id else [],
        sources=[appointment.source.source],
    )
    day = _day(desk, desk.form.get("date") or None)
    where = desk.form.get("where") or None
    done = "checked in" if arrival == "check-in" else "marked as a no-show"
    if not desk.htmx:
        query = urlencode({"date": day.isoformat(), **({"where": where} if where else {})})
        return await desk.redirect(f"/console/today?{query}", f"Appointment {done}.")
    worklist = await _worklist(desk, day, where)
    return desk.page(
        "_worklist.html", focus=appointment_id, announce=f"Appointment {done}.", **worklist
    )


@router.post("/appointments/{appointment_id}/check-in")
async def check_in(desk: FormDeskDep, appointment_id: GatewayIdPath) -> Response:
    return await _arrive(desk, appointment_id, "check-in")


@router.post("/appointments/{appointment_id}/no-show")
async def no_show(desk: FormDeskDep, appointment_id: GatewayIdPath) -> Response:
    return await _arrive(desk, appointment_id, "no-show")
