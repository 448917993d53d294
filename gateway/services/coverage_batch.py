"""The night-before verification: check every patient with an appointment on a day.

``start_batch`` lists the day's appointments in all the tenant's EHRs and queues one
item per patient; workers (any process) run ``check_coverage`` on each, at most
``per_payer`` checks in flight per payer in each worker; ``batch_status`` sums up:
active, inactive, and who needs attention, with the reasons.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from mappers import InvalidId, decode_id, encode_id
from mappers.model import Appointment, EligibilityRequest, EligibilityResult

from ..jobs import Handler, Job, JobQueue
from ..sources import SourceHandle
from .coverage import CoverageDesk, CoverageQuery, check_coverage
from .fanout import fan_out
from .payers import PayerPort
from .validation import check_date

__all__ = ["BATCH_KIND", "batch_handler", "batch_status", "start_batch"]

BATCH_KIND = "coverage-batch"
MAX_APPOINTMENTS_PER_SOURCE = 2000
_SKIP = frozenset({"cancelled", "noshow", "entered-in-error"})


async def _day_patients(handle: SourceHandle, start: datetime, end: datetime) -> list[str]:
    params: dict[str, str | list[str]] = {
        "date": [f"ge{start.isoformat()}", f"lt{end.isoformat()}"],
        "_count": "200",
    }
    appointments = await handle.search_mapped(
        "Appointment",
        params,
        Appointment,
        limit=MAX_APPOINTMENTS_PER_SOURCE,
        keep=lambda a: a.status not in _SKIP and a.patient_id is not None,
    )
    return [_gateway_patient_id(handle.id, a.patient_id) for a in appointments if a.patient_id]


def _gateway_patient_id(source: str, ref: str) -> str:
    try:
        decode_id(ref, resource_type="Patient")
        return ref
    except InvalidId:
        return encode_id(source, "Patient", ref.rsplit("/", 1)[-1])


async def start_batch(
    desk: CoverageDesk, queue: JobQueue, day: date
) -> tuple[Job, list[dict[str, Any]]]:
    """Queue the day's checks; also returns each EHR's status (one may not have answered)."""
    check_date("date", day)
    zone = ZoneInfo(desk.tenant.time_zone)
    start = datetime.combine(day, time.min, zone)
    end = start + timedelta(days=1)
    outcomes = await fan_out(
        desk.sources.all(),
        lambda h: h.id,
        lambda h: _day_patients(h, start, end),
        desk.source_deadline_seconds,
    )
    patients = list(dict.fromkeys(p for o in outcomes if o.value for p in o.value))
    job = await queue.submit(BATCH_KIND, desk.tenant.id, {"date": day.isoformat()}, patients)
    return job, [dataclasses.asdict(o.status) for o in outcomes]


class _Gated:
    """A payer port that lets at most ``limit`` batch checks through at once."""

    def __init__(self, port: PayerPort, gate: asyncio.Semaphore) -> None:
        self.origin: Literal["x12", "fhir"] = port.origin
        self._port = port
        self._gate = gate

    async def check(self, request: EligibilityRequest) -> EligibilityResult:
        async with self._gate:
            return await self._port.check(request)


def batch_handler(desks: dict[str, CoverageDesk], *, per_payer: int) -> Handler:
    gated: dict[str, CoverageDesk] = {}
    for tenant_id, desk in desks.items():
        payers = {pid: _Gated(p, asyncio.Semaphore(per_payer)) for pid, p in desk.payers.items()}
        gated[tenant_id] = dataclasses.replace(desk, payers=payers)

    async def handle(job: Job, index: int) -> dict[str, Any]:
        patient_id = job.items[index]
        query = CoverageQuery(
            patient_id=patient_id, date_of_service=date.fromisoformat(job.params["date"])
        )
        result = (await check_coverage(gated[job.tenant], query)).result
        return _outcome(patient_id, result)

    return handle


def _outcome(patient_id: str, result: EligibilityResult) -> dict[str, Any]:
    reasons = [e.description for e in result.errors]
    if result.stale:
        reasons.append("payer not answering: the answer shown is from an earlier check")
    if result.status == "unknown":
        reasons.extend(result.messages or ["coverage could not be verified"])
    return {
        "patient_id": patient_id,
        "status": result.status,
        "stale": result.stale,
        "payer_name": result.payer_name,
        "plan_name": result.plan_name,
        "reasons": reasons,
    }


async def batch_status(queue: JobQueue, job: Job) -> dict[str, Any]:
    results = await queue.results(job)
    done = [r for r in results if r is not None]
    attention = [r for r in done if r["status"] not in ("active", "inactive") or r.get("stale")]
    return {
        "id": job.id,
        "date": job.params["date"],
        "state": "done" if len(done) == len(job.items) else "running",
        "total": len(job.items),
        "done": len(done),
        "summary": {
            "active": sum(1 for r in done if r["status"] == "active" and not r.get("stale")),
            "inactive": sum(1 for r in done if r["status"] == "inactive" and not r.get("stale")),
            "needs_attention": len(attention),
        },
        "needs_attention": attention,
        "inactive": [r for r in done if r["status"] == "inactive" and not r.get("stale")],
    }
