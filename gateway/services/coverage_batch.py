"""The night-before verification: check every patient with an appointment on a day.

``start_batch`` lists the day's appointments in all the tenant's EHRs and queues one item
per patient on the batch queue (``gateway.batch_queue``: saq, Redis); workers in any
process run ``item_function`` on each: ``check_coverage`` under the payer's shared pace,
with a heartbeat while it runs and the batch's cancel flag watched. ``batch_status`` sums
up: active, inactive, who needs attention and which items failed, with the reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, NoReturn
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError

from connectors import UpstreamError
from mappers import InvalidId, MappingError, decode_id, encode_id
from mappers.model import Appointment, EligibilityResult

from ..batch_queue import BatchMeta, BatchQueue, BatchStore, ItemFunction
from ..logs import get_logger
from ..sources import SourceHandle
from .coverage import CoverageDesk, CoverageQuery, check_coverage
from .errors import NotFound
from .fanout import SourceStatus, fan_out
from .validation import check_date

__all__ = ["batch_status", "item_function", "start_batch"]

log = get_logger(__name__)

MAX_APPOINTMENTS_PER_SOURCE = 2000
_SKIP = frozenset({"cancelled", "noshow", "entered-in-error"})


class ItemFailed(Exception):
    """One try of an item failed; the message is the reason (never PHI)."""


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
    desk: CoverageDesk, queue: BatchQueue, day: date, *, tries: int, heartbeat: int
) -> tuple[BatchMeta, list[SourceStatus]]:
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
    meta = await queue.submit(desk.tenant.id, day, patients, tries=tries, heartbeat=heartbeat)
    return meta, [o.status for o in outcomes]


def _reason(exc: Exception) -> str:
    """Why a try failed, in words for the desk; type names and statuses only, no values."""
    if isinstance(exc, NotFound):
        return "the patient record was not found in the EHR"
    if isinstance(exc, UpstreamError):
        status = getattr(exc, "status", None)
        name = type(exc).__name__
        return f"the EHR did not answer ({name}{f', HTTP {status}' if status else ''})"
    if isinstance(exc, TimeoutError):
        return "the EHR did not answer in time"
    if isinstance(exc, MappingError):
        return f"the EHR's record could not be read ({exc.path})"
    return f"the check failed ({type(exc).__name__})"


def item_function(
    store: BatchStore, desks: Mapping[str, CoverageDesk], *, heartbeat: float
) -> ItemFunction:
    """The saq job of one item: ``desks`` are the batch's (their payers paced as batch)."""

    # A batch never changes once queued: each worker reads (and opens) it once, not once
    # per item; a few batches at a time at most.
    known: dict[str, BatchMeta] = {}

    async def meta_of(batch: str) -> BatchMeta | None:
        meta = known.get(batch)
        if meta is None:
            meta = await store.meta(batch)
            if meta is not None:
                if len(known) >= 8:
                    known.pop(next(iter(known)))
                known[batch] = meta
        return meta

    async def coverage_item(ctx: dict[str, Any], *, batch: str, index: int) -> None:
        meta = await meta_of(batch)
        if meta is None or not 0 <= index < len(meta.items) or await store.cancelled(batch):
            return
        desk = desks.get(meta.tenant)
        if desk is None:
            await _failed(store, batch, index, "the tenant is not configured on this worker")
        patient_id = meta.items[index]
        query = CoverageQuery(patient_id=patient_id, date_of_service=meta.day)
        work = asyncio.create_task(check_coverage(desk, query))
        try:
            if await _watch(work, store, batch, ctx["job"], heartbeat) == "cancelled":
                return
            answer = work.result()
        except Exception as exc:  # noqa: BLE001 - every failure is a reason, then a retry
            await _failed(store, batch, index, _reason(exc))
        finally:
            if not work.done():
                work.cancel()
        await store.record(batch, index, _outcome(patient_id, answer.result))

    return coverage_item


async def _failed(store: BatchStore, batch: str, index: int, reason: str) -> NoReturn:
    await store.note_error(batch, index, reason)
    # Without the original as context: saq stores and logs the traceback it is given.
    raise ItemFailed(reason) from None


async def _watch(
    work: asyncio.Task[Any], store: BatchStore, batch: str, job: Any, heartbeat: float
) -> Literal["done", "cancelled"]:
    """Wait for ``work``, beating the job's heartbeat and stopping it if the batch is
    cancelled."""
    while True:
        await asyncio.wait({work}, timeout=heartbeat / 2)
        if work.done():
            return "done"
        try:
            # Without this beat the sweep takes the job for a dead worker's and re-runs it.
            await job.update()
            stop = await store.cancelled(batch)
        except RedisError as exc:
            log.warning("batch_heartbeat_failed", error=type(exc).__name__)
            continue
        if stop:
            work.cancel()
            await asyncio.wait({work})
            return "cancelled"


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


async def batch_status(store: BatchStore, meta: BatchMeta) -> dict[str, Any]:
    results = await store.results(meta.id)
    done = [r["outcome"] for r in results.values() if "outcome" in r]
    failed = [
        {"patient_id": meta.items[i], "reason": r["failed"], "attempts": r.get("attempts", 0)}
        for i, r in sorted(results.items())
        if "failed" in r and 0 <= i < len(meta.items)
    ]
    attention = [r for r in done if r["status"] not in ("active", "inactive") or r.get("stale")]
    inactive = [r for r in done if r["status"] == "inactive" and not r.get("stale")]
    finished = len(done) + len(failed)
    if await store.cancelled(meta.id):
        state = "cancelled"
    else:
        state = "done" if finished >= len(meta.items) else "running"
    return {
        "id": meta.id,
        "date": meta.day.isoformat(),
        "state": state,
        "total": len(meta.items),
        "done": finished,
        "summary": {
            "active": sum(1 for r in done if r["status"] == "active" and not r.get("stale")),
            "inactive": len(inactive),
            "needs_attention": len(attention),
            "failed": len(failed),
        },
        "needs_attention": attention,
        "inactive": inactive,
        "failed": failed,
    }
