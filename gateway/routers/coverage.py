from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from mappers.model import EligibilityResult

from ..deps import (
    CoverageDep,
    CoverageDeskDep,
    CurrentPrincipal,
    authorize,
    json_body,
    require_scope,
)
from ..middleware import note_audit
from ..request_only_route import RequestOnlyRoute
from ..runtime import Runtime
from ..schemas import CoverageBatchRequest, CoverageCheckRequest
from ..services import coverage_batch as batch
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


@router.post("/batch", dependencies=[_Check], operation_id="startCoverageBatch", status_code=202)
async def start_batch(
    request: Request, coverage: CoverageDep, desk: CoverageDeskDep, body: CoverageBatchRequest
) -> dict[str, Any]:
    """Queue a check of every patient with an appointment on ``date``; poll the job."""
    job, sources = await batch.start_batch(desk, coverage.queue, body.date)
    note_audit(
        request, "coverage.batch", patient_ids=job.items, sources=[h.id for h in desk.sources.all()]
    )
    status = await batch.batch_status(coverage.queue, job)
    return {**status, "sources": sources}


@router.get("/batch/{job_id}", dependencies=[_Check], operation_id="getCoverageBatch")
async def get_batch(
    request: Request,
    coverage: CoverageDep,
    principal: CurrentPrincipal,
    job_id: Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")],
) -> dict[str, Any]:
    """Progress and summary: active, inactive, needs attention (with the reasons)."""
    job = await coverage.queue.get(job_id)
    if job is None or job.tenant != principal.tenant or job.kind != batch.BATCH_KIND:
        raise NotFound("no such batch job")
    status = await batch.batch_status(coverage.queue, job)
    note_audit(
        request,
        "coverage.batch.read",
        patient_ids=[r["patient_id"] for r in status["needs_attention"]],
    )
    return status
