from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from mappers.model import EligibilityResult

from ..batch_queue import BatchMeta
from ..deps import (
    CoverageDep,
    CoverageDeskDep,
    CurrentPrincipal,
    authorize,
    json_body,
    require_scope,
)
from ..middleware import note_audit
from ..problems import ProblemError
from ..request_only_route import RequestOnlyRoute
from ..runtime import BatchRuntime, CoverageRuntime, Runtime
from ..schemas import (
    BatchStarted,
    BatchStatus,
    CoverageBatchRequest,
    CoverageCheckRequest,
)
from ..services import coverage_batch as batch_service
from ..services.coverage import CoverageQuery, check_coverage
from ..services.errors import NotFound

router = APIRouter(prefix="/v1/coverage-checks", tags=["coverage"])
_Check = Depends(require_scope("coverage:check"))


def _no_cache(cache_control: str | None) -> bool:
    return cache_control is not None and "no-cache" in cache_control.lower()


# The check reads its caller, body and header by hand and is served by a RequestOnlyRoute:
# on a cached check FastAPI's per-request dependency solving cost more than the whole
# answer (benchmarks/coverage.py). The OpenAPI document still describes body and header.
_CHECK_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": CoverageCheckRequest.model_json_schema()}},
    },
    "parameters": [
        {
            "name": "Cache-Control",
            "in": "header",
            "required": False,
            "description": "`no-cache` asks the payer again instead of answering from cache.",
            "schema": {"type": "string"},
        }
    ],
}


async def check(request: Request) -> Response:
    """Is the patient covered on the date of service, and what will the visit cost them.

    Answers within the real-time budget: fresh, cached (``cached: true``), the last good
    answer while the payer is away (``stale: true``) or ``status: error`` with words a PSR
    can act on. ``Cache-Control: no-cache`` asks the payer again.
    """
    principal = authorize(request, "coverage:check")
    body = await json_body(request, CoverageCheckRequest)
    runtime: Runtime = request.app.state.runtime
    desk = runtime.coverage.desks[principal.tenant]
    if body.patient_id:
        note_audit(request, "coverage.check", patient_ids=[body.patient_id])
    else:
        note_audit(request, "coverage.check")
    query = CoverageQuery(
        patient_id=body.patient_id,
        member_id=body.member_id,
        payer_id=body.payer_id,
        first_name=body.first_name,
        last_name=body.last_name,
        birth_date=body.birth_date,
        service_types=tuple(body.service_types),
        date_of_service=body.date_of_service,
        provider_npi=body.provider_npi,
        fresh=_no_cache(request.headers.get("cache-control")),
    )
    answer = await check_coverage(desk, query)
    # The body is the cached JSON as stored: the hot path never re-serialises.
    return Response(
        content=answer.body,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


router.add_api_route(
    "",
    check,
    methods=["POST"],
    operation_id="checkCoverage",
    response_model=EligibilityResult,
    responses={
        200: {"model": EligibilityResult},
        422: {
            "description": "The body is not a valid check (problem+json, code validation_error)",
            "content": {"application/problem+json": {"schema": {"type": "object"}}},
        },
    },
    openapi_extra=_CHECK_DOC,
    route_class_override=RequestOnlyRoute,
)


def _batch(coverage: CoverageRuntime) -> BatchRuntime:
    if coverage.batch is None:
        raise ProblemError(
            503,
            "upstream_unavailable",
            "Batch verification is not available",
            "batch verification needs Redis (cache.redis_url)",
        )
    return coverage.batch


_JOB_ID = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


async def _job(batch: BatchRuntime, job_id: str, tenant: str) -> BatchMeta:
    meta = await batch.queue.store.meta(job_id)
    if meta is None or meta.tenant != tenant:
        raise NotFound("no such batch job")
    return meta


@router.post(
    "/batch",
    dependencies=[_Check],
    operation_id="startCoverageBatch",
    status_code=202,
    response_model=BatchStarted,
)
async def start_batch(
    request: Request, coverage: CoverageDep, desk: CoverageDeskDep, body: CoverageBatchRequest
) -> dict[str, Any]:
    """Queue a check of every patient with an appointment on ``date``; poll the job.

    Workers (``frontdesk worker``) check the patients at the pace each payer allows; an
    item that keeps failing ends in ``failed`` with the reason."""
    batch = _batch(coverage)
    meta, sources = await batch_service.start_batch(
        desk, batch.queue, body.date, tries=batch.tries, heartbeat=batch.heartbeat
    )
    note_audit(
        request,
        "coverage.batch",
        patient_ids=meta.items,
        sources=[h.id for h in desk.sources.all()],
    )
    status = await batch_service.batch_status(batch.queue.store, meta)
    return {**status, "sources": [dataclasses.asdict(s) for s in sources]}


@router.get(
    "/batch/{job_id}",
    dependencies=[_Check],
    operation_id="getCoverageBatch",
    response_model=BatchStatus,
)
async def get_batch(
    request: Request, coverage: CoverageDep, principal: CurrentPrincipal, job_id: _JOB_ID
) -> dict[str, Any]:
    """Progress and summary: active, inactive, needs attention and failed (with reasons)."""
    batch = _batch(coverage)
    meta = await _job(batch, job_id, principal.tenant)
    status = await batch_service.batch_status(batch.queue.store, meta)
    note_audit(
        request,
        "coverage.batch.read",
        patient_ids=[
            r["patient_id"]
            for part in ("needs_attention", "inactive", "failed")
            for r in status[part]
        ],
    )
    return status


@router.post(
    "/batch/{job_id}/cancel",
    dependencies=[_Check],
    operation_id="cancelCoverageBatch",
    response_model=BatchStatus,
)
async def cancel_batch(
    request: Request, coverage: CoverageDep, principal: CurrentPrincipal, job_id: _JOB_ID
) -> dict[str, Any]:
    """Stop the batch: no further payer calls; checks in flight are stopped within seconds.
    What was answered stays readable."""
    batch = _batch(coverage)
    meta = await _job(batch, job_id, principal.tenant)
    await batch.queue.store.cancel(meta.id)
    note_audit(request, "coverage.batch.cancel")
    return await batch_service.batch_status(batch.queue.store, meta)
