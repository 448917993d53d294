"""The coverage answer for a patient, in desk words (the payer's whole answer behind a
disclosure for supervisors). A thin caller of the coverage check API v1 uses."""

from __future__ import annotations

import json
from datetime import date

from fastapi import APIRouter
from fastapi.responses import Response

from ...params import GatewayIdPath
from ...services.coverage import CoverageQuery, check_coverage
from ...services.errors import InvalidRequest
from ..coverage_words import in_desk_words
from ..desk import FormDeskDep
from .patients import VISIT_SERVICE_TYPES

router = APIRouter(prefix="/console", include_in_schema=False)


@router.post("/patients/{patient_id}/coverage")
async def check(desk: FormDeskDep, patient_id: GatewayIdPath) -> Response:
    service_type = desk.form.get("service_type") or "98"
    if service_type not in dict(VISIT_SERVICE_TYPES):
        raise InvalidRequest("choose what the visit is for from the list")
    raw_day = desk.form.get("date_of_service") or None
    try:
        day = date.fromisoformat(raw_day) if raw_day else None
    except ValueError:
        raise InvalidRequest("the date of service is not a date") from None
    desk.audit("coverage.check", patient_ids=[patient_id])
    answer = await check_coverage(
        desk.runtime.coverage.desks[desk.user.tenant],
        CoverageQuery(
            patient_id=patient_id,
            service_types=(service_type,),
            date_of_service=day,
            fresh=desk.form.get("fresh") == "1",
        ),
    )
    result = answer.result
    words = in_desk_words(result, service_type)
    raw = (
        json.dumps(json.loads(answer.body), indent=2, sort_keys=True)
        if desk.user.supervisor
        else None
    )
    return desk.view(
        "coverage.html",
        "_coverage.html",
        nav="find",
        answer=words,
        raw=raw,
        patient_id=patient_id,
        service_words=dict(VISIT_SERVICE_TYPES)[service_type],
    )
