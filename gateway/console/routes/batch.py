"""Tomorrow's batch: start the night-before coverage verification for a day, watch its
progress, then work the list that needs a human. The batch service API v1 uses."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from ...problems import ProblemError
from ...runtime import BatchRuntime
from ...services import coverage_batch as batch
from ...services.desk_time import day_bounds, parse_desk_day
from ...services.errors import NotFound
from ...services.worklist import WorklistQuery, day_worklist
from ..desk import Desk, DeskDep, FormDeskDep

router = APIRouter(prefix="/console", include_in_schema=False)
JobId = Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")


@router.get("/batch")
async def batch_page(desk: DeskDep) -> Response:
    tomorrow = datetime.now(desk.zone).date() + timedelta(days=1)
    return desk.page("batch.html", nav="batch", day=tomorrow, status=None)


def _queue(desk: Desk) -> BatchRuntime:
    queue = desk.runtime.coverage.batch
    if queue is None:
        raise ProblemError(
            503,
            "upstream_unavailable",
            "Batch verification is not available",
            "batch verification needs Redis (cache.redis_url)",
        )
    return queue


@router.post("/batch")
async def start(desk: FormDeskDep) -> Response:
    day = parse_desk_day("date", desk.form.get("date", ""))
    queue = _queue(desk)
    job, _ = await batch.start_batch(
        queue.desks[desk.user.tenant],
        queue.queue,
        day,
        tries=queue.tries,
        heartbeat=queue.heartbeat,
    )
    desk.audit("coverage.batch", patient_ids=job.items, sources=[h.id for h in desk.sources.all()])
    path = f"/console/batch/{job.id}"
    if desk.htmx:
        return Response(status_code=200, headers={"HX-Redirect": path})
    return await desk.redirect(path)


async def _names(desk: Desk, day: date) -> dict[str, tuple[str | None, int | None]]:
    """Who each patient of the day is (name and age), from the day's worklist."""
    first, after = day_bounds(day, desk.zone)
    items, _ = await day_worklist(
        desk.sources,
        desk.runtime.directory[desk.user.tenant],
        desk.runtime.coverage.store,
        WorklistQuery(start=first, end=after, day=day),
        deadline_seconds=desk.runtime.settings.source_deadline_seconds,
    )
    return {
        a.patient.id: (a.patient.display, a.patient.age) for a in items if a.patient is not None
    }


async def _status(desk: Desk, job_id: str) -> dict[str, Any]:
    store = _queue(desk).queue.store
    job = await store.meta(job_id)
    if job is None or job.tenant != desk.user.tenant:
        raise NotFound("no such batch")
    status = await batch.batch_status(store, job)
    names = (
        await _names(desk, date.fromisoformat(status["date"])) if status["state"] == "done" else {}
    )
    desk.audit(
        "coverage.batch.read", patient_ids=[r["patient_id"] for r in status["needs_attention"]]
    )
    return {
        "status": status,
        "names": names,
        "job_id": job_id,
        "day": date.fromisoformat(status["date"]),
    }


@router.get("/batch/{job_id}")
async def progress_page(desk: DeskDep, job_id: str = JobId) -> Response:
    return desk.page("batch.html", nav="batch", **await _status(desk, job_id))


@router.get("/batch/{job_id}/progress")
async def progress(desk: DeskDep, job_id: str = JobId) -> Response:
    return desk.page("_batch.html", **await _status(desk, job_id))
