"""Money questions at the desk: what a visit will cost, good-faith estimates, balances."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from ..deps import MoneyDep, RuntimeDep, require_scope
from ..middleware import note_audit
from ..money_schemas import (
    BalanceOut,
    BillIn,
    EstimateOut,
    EstimateRequest,
    GfeOut,
    GfeRequest,
    IssueRequest,
)
from ..params import DESK_TIME_PATTERN, GatewayIdPath, GatewayIdQuery
from ..schemas import ListResponse
from ..services import balance as balances
from ..services import gfe as gfes
from ..services.desk_time import day_bounds, parse_desk_time
from ..services.estimates import estimate_visit

router = APIRouter(prefix="/v1", tags=["money"])
_Read = Depends(require_scope("billing:read"))
_Write = Depends(require_scope("billing:write"))
GfeId = Annotated[
    str,
    Path(
        pattern=r"^gfe-[A-Za-z0-9_-]{16}$",
        description="A good-faith estimate's id (gfe-...).",
    ),
]


@router.post("/estimates", dependencies=[_Read], operation_id="estimateVisit")
async def estimate(request: Request, money: MoneyDep, body: EstimateRequest) -> EstimateOut:
    """What the visit will cost the patient: the payer's negotiated rate with the coverage
    answer (a copay; or the deductible left, then coinsurance; capped by the out-of-pocket
    maximum left), or the cash price for a self-pay or uninsured patient; each step in
    words. Anything unknown (no rate for that payer, a stale or failed coverage answer)
    answers ``could_not_be_determined`` with the reasons, never $0. The coverage check
    behind it is the one ``POST /v1/coverage-checks`` makes (cached the same way)."""
    named = [body.patient_id] if body.patient_id else []
    note_audit(request, "estimate.create", patient_ids=named)
    out = await estimate_visit(money, body)
    note_audit(request, "estimate.create", patient_ids=[out.patient_id] if out.patient_id else [])
    return out


@router.get("/gfe", dependencies=[_Read], operation_id="listGoodFaithEstimates")
async def list_gfes(
    request: Request,
    money: MoneyDep,
    due_before: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=DESK_TIME_PATTERN,
            description="Estimates still to give that are due by then (a date: by the end "
            "of that day, tenant time zone). Default: by the end of today.",
        ),
    ] = None,
    patient: Annotated[
        GatewayIdQuery, Query(description="Instead: every estimate of this patient.")
    ] = None,
) -> ListResponse[GfeOut]:
    """Good-faith estimates still to give, soonest due first (``overdue`` when late); or
    a patient's estimates, whatever their state."""
    if patient is not None:
        note_audit(request, "gfe.list", patient_ids=[patient])
        items = await gfes.list_for_patient(money, patient)
    else:
        if due_before is None:
            before = day_bounds(money.today(), money.zone)[1] - timedelta(microseconds=1)
        else:
            before = parse_desk_time("due_before", due_before, money.zone, end=True)
        note_audit(request, "gfe.list")
        items = await gfes.list_due(money, before)
    note_audit(
        request,
        "gfe.list",
        patient_ids=sorted({g.patient_id for g in items}),
    )
    return ListResponse[GfeOut](items=items, sources=[])


@router.post(
    "/gfe", dependencies=[_Write], status_code=201, operation_id="requestGoodFaithEstimate"
)
async def request_gfe(
    request: Request, response: Response, money: MoneyDep, body: GfeRequest
) -> GfeOut:
    """A patient asks for a good-faith estimate (due within 3 business days). For an
    appointment that has one already, that one is answered (opened now if it wasn't
    required). Bookings of uninsured and self-pay patients open theirs on their own."""
    note_audit(request, "gfe.request", patient_ids=[body.patient_id] if body.patient_id else [])
    record = await gfes.request_gfe(money, body)
    note_audit(request, "gfe.request", patient_ids=[record.patient_id])
    response.headers["Location"] = f"/v1/gfe/{record.id}"
    return record


@router.get("/gfe/{gfe_id}", dependencies=[_Read], operation_id="getGoodFaithEstimate")
async def get_gfe(request: Request, money: MoneyDep, gfe_id: GfeId) -> GfeOut:
    """One estimate, with its document once issued and the bills compared with it."""
    note_audit(request, "gfe.read")
    record = await gfes.get_gfe(money, gfe_id)
    note_audit(request, "gfe.read", patient_ids=[record.patient_id])
    return record


@router.post("/gfe/{gfe_id}/issue", dependencies=[_Write], operation_id="issueGoodFaithEstimate")
async def issue_gfe(
    request: Request, money: MoneyDep, gfe_id: GfeId, body: IssueRequest | None = None
) -> GfeOut:
    """Issue the estimate: the document (patient, service and date, each code with its
    expected charge, who bills under which NPI and TIN, the disclaimers) is built from the
    EHR and the price list and kept as issued. ``409 gfe_incomplete`` says what is
    missing; issuing again answers the same document."""
    note_audit(request, "gfe.issue")
    record = await gfes.issue_gfe(money, gfe_id, body or IssueRequest())
    note_audit(request, "gfe.issue", patient_ids=[record.patient_id])
    return record


@router.get(
    "/gfe/{gfe_id}/document",
    dependencies=[_Read],
    operation_id="printGoodFaithEstimate",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
async def print_gfe(request: Request, money: MoneyDep, gfe_id: GfeId) -> HTMLResponse:
    """The issued estimate as a printable page."""
    note_audit(request, "gfe.print")
    record = await gfes.get_gfe(money, gfe_id)
    note_audit(request, "gfe.print", patient_ids=[record.patient_id])
    return HTMLResponse(gfes.render_html(record), headers={"Cache-Control": "no-store"})


@router.post("/gfe/{gfe_id}/bills", dependencies=[_Write], operation_id="recordGfeBill")
async def record_bill(request: Request, money: MoneyDep, gfe_id: GfeId, body: BillIn) -> GfeOut:
    """A bill for the estimated care, entered or read from the EHR (where it keeps
    invoices): flagged when it is $400 or more above the estimate for a provider or
    facility, which the patient may dispute."""
    note_audit(request, "gfe.bill")
    record = await gfes.record_bill(money, gfe_id, body)
    note_audit(request, "gfe.bill", patient_ids=[record.patient_id])
    return record


@router.get("/patients/{patient_id}/balance", dependencies=[_Read], operation_id="patientBalance")
async def patient_balance(
    request: Request, runtime: RuntimeDep, money: MoneyDep, patient_id: GatewayIdPath
) -> BalanceOut:
    """What the patient owes, as the EHR's billing accounts say (self-pay balance), where
    the EHR's profile can read it; ``404 balance_unavailable`` where it can't ("this EHR
    doesn't share balances; check the billing system")."""
    note_audit(request, "patient.balance", patient_ids=[patient_id])
    return await balances.patient_balance(
        money.sources,
        patient_id,
        deadline_seconds=runtime.settings.source_deadline_seconds,
        wall=money.wall,
    )
