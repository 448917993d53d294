"""The cost panel's actions: an estimate for a visit, and a good-faith estimate printed.
Thin callers of the same services as ``POST /v1/estimates`` and
``GET /v1/gfe/{id}/document``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, Response

from ...money_schemas import EstimateRequest, VisitTypeIn
from ...params import GatewayIdPath
from ...services import gfe
from ...services.errors import InvalidRequest
from ...services.estimates import estimate_visit
from ..desk import DeskDep, FormDeskDep, security_headers
from ..money_panel import money_desk

router = APIRouter(prefix="/console", include_in_schema=False)


@router.post("/patients/{patient_id}/estimate")
async def estimate(desk: FormDeskDep, patient_id: GatewayIdPath) -> Response:
    money = money_desk(desk)
    visit = money.book.visit_by_id(desk.form.get("visit_type", ""))
    if visit is None:
        raise InvalidRequest("choose the visit from the list")
    raw_day = desk.form.get("date") or None
    try:
        day = date.fromisoformat(raw_day) if raw_day else None
    except ValueError:
        raise InvalidRequest("the date of the visit is not a date") from None
    code = visit.codes[0]
    desk.audit("estimate.create", patient_ids=[patient_id])
    out = await estimate_visit(
        money,
        EstimateRequest(
            patient_id=patient_id,
            visit_type=VisitTypeIn(code=code.code, system=code.system),
            date=day,
        ),
    )
    return desk.view(
        "estimate.html", "_estimate.html", nav="find", estimate=out, patient_id=patient_id
    )


@router.get("/gfe/{gfe_id}")
async def print_gfe(
    desk: DeskDep,
    gfe_id: Annotated[str, Path(pattern=r"^gfe-[A-Za-z0-9_-]{16}$")],
) -> Response:
    desk.audit("gfe.print")
    record = await gfe.get_gfe(money_desk(desk), gfe_id)
    desk.audit("gfe.print", patient_ids=[record.patient_id])
    page = security_headers(HTMLResponse(gfe.render_html(record)))
    # The printed estimate carries its own style: allowed by its hash, nothing else.
    page.headers["Content-Security-Policy"] = page.headers["Content-Security-Policy"].replace(
        "style-src 'self'", f"style-src 'self' '{gfe.STYLE_HASH}'"
    )
    return page
