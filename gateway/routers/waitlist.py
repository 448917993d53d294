"""The waitlist: who waits for which visit, and the freed slots offered to them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.convertors import Convertor, register_url_convertor

from ..deps import CurrentPrincipal, WaitlistDep, require_scope
from ..middleware import note_audit
from ..params import GatewayIdPath, GatewayIdQuery, text
from ..schemas import ListResponse, WaitlistEntryOut, WaitlistOfferOut, WaitlistRequest
from ..services import waitlist as service
from ..services.errors import NotFound
from ..services.waitlist import WaitlistEntry, WaitlistOffer

router = APIRouter(prefix="/v1/waitlist", tags=["waitlist"])


class _EntryIdConvertor(Convertor[str]):
    """Only an entry id routes to an entry: ``/v1/waitlist/offers`` stays the offers'
    path for every method (another method answers 405, not a refused entry id)."""

    regex = "wl-[0-9a-f]{24}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("waitlist_entry", _EntryIdConvertor())
_Read = Depends(require_scope("waitlist:read"))
_Write = Depends(require_scope("waitlist:write"))
ENTRY_ID_PATTERN = r"^wl-[0-9a-f]{24}$"
EntryId = Annotated[str, Path(pattern=ENTRY_ID_PATTERN, description="A waitlist entry's id.")]


def _out(entry: WaitlistEntry) -> WaitlistEntryOut:
    return WaitlistEntryOut.model_validate(entry.model_dump(exclude={"offered_as"}))


def _offer_out(offer: WaitlistOffer, seconds_left: int) -> WaitlistOfferOut:
    return WaitlistOfferOut(**offer.model_dump(exclude={"upstream"}), seconds_left=seconds_left)


@router.post("", dependencies=[_Write], status_code=201, operation_id="joinWaitlist")
async def join_waitlist(
    request: Request,
    response: Response,
    desk: WaitlistDep,
    principal: CurrentPrincipal,
    body: WaitlistRequest,
) -> WaitlistEntryOut:
    """Put a patient on the waitlist for a visit type (with a practitioner, at a location,
    or anywhere), for a window of days. When a slot that fits frees (a cancellation
    through the gateway or seen in the EHR), it is held for the first patient in line
    (priority, then time waited) and offered: ``GET /v1/waitlist/offers``."""
    note_audit(request, "waitlist.join", patient_ids=[body.patient_id])
    entry = await service.join(
        desk,
        service.WaitlistAsk(**body.model_dump()),
        client_id=principal.client_id,
    )
    response.headers["Location"] = f"/v1/waitlist/{entry.id}"
    return _out(entry)


@router.get("", dependencies=[_Read], operation_id="listWaitlist")
async def list_waitlist(
    request: Request,
    desk: WaitlistDep,
    patient: GatewayIdQuery = None,
    service_type: Annotated[str | None, Query(**text(64, "A visit type code."))] = None,
    priority: Literal["urgent", "soon", "routine"] | None = None,
    offered: Annotated[
        bool | None, Query(description="Only entries with (true) or without an open offer.")
    ] = None,
) -> ListResponse[WaitlistEntryOut]:
    """The waitlist in the order offers go: by priority, then longest waiting first."""
    entries = await service.listing(
        desk,
        service.WaitlistFilter(
            patient_id=patient, service_type=service_type, priority=priority, offered=offered
        ),
    )
    note_audit(request, "waitlist.list", patient_ids=[e.patient_id for e in entries])
    return ListResponse[WaitlistEntryOut](items=[_out(e) for e in entries], sources=[])


@router.get("/offers", dependencies=[_Read], operation_id="listWaitlistOffers")
async def list_offers(
    request: Request, desk: WaitlistDep, patient: GatewayIdQuery = None
) -> ListResponse[WaitlistOfferOut]:
    """Open offers, soonest to expire first (``patient``: only that patient's, as a desk
    on the phone with them asks). Accept one by booking its slot for its patient with its
    ``hold_token`` (``POST /v1/appointments``); decline it to offer the slot to the next
    in line. An offer not taken in time passes on by itself."""
    offers = [o for o in await desk.open_offers() if patient in (None, o.patient_id)]
    now = desk.wall()
    note_audit(request, "waitlist.offers", patient_ids=[o.patient_id for o in offers])
    return ListResponse[WaitlistOfferOut](
        items=[_offer_out(o, max(0, int((o.expires_at - now).total_seconds()))) for o in offers],
        sources=[],
    )


@router.post(
    "/offers/{slot_id}/decline",
    dependencies=[_Write],
    status_code=204,
    operation_id="declineWaitlistOffer",
)
async def decline_offer(request: Request, desk: WaitlistDep, slot_id: GatewayIdPath) -> Response:
    """The patient doesn't want the slot: it goes to the next patient in line, and is
    never offered to this one again."""
    offer = await desk.offer_of(slot_id)
    if offer is None:
        raise NotFound("no such offer")
    note_audit(request, "waitlist.decline", patient_ids=[offer.patient_id])
    await desk.decline(slot_id)
    return Response(status_code=204)


@router.get("/{entry_id:waitlist_entry}", dependencies=[_Read], operation_id="getWaitlistEntry")
async def get_entry(request: Request, desk: WaitlistDep, entry_id: EntryId) -> WaitlistEntryOut:
    entry = await desk.entries.get(desk.tenant, entry_id)
    if entry is None:
        raise NotFound("no such waitlist entry")
    note_audit(request, "waitlist.read", patient_ids=[entry.patient_id])
    return _out(entry)


@router.delete(
    "/{entry_id:waitlist_entry}",
    dependencies=[_Write],
    status_code=204,
    operation_id="leaveWaitlist",
)
async def leave_waitlist(request: Request, desk: WaitlistDep, entry_id: EntryId) -> Response:
    """Take a patient off the waitlist (booked elsewhere, no longer needed); an open offer
    to them goes to the next in line."""
    note_audit(request, "waitlist.leave")
    entry = await service.leave(desk, entry_id)
    note_audit(request, "waitlist.leave", patient_ids=[entry.patient_id])
    return Response(status_code=204)
