"""The waitlist as the desk sees it: the entries in the order offers go to them and the
open offers, each with the patient's name (read from their EHR), the visit type, the
practitioner and place in words. Reads the same waitlist service as API v1."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mappers import InvalidId, decode_id
from mappers.model import RecordRef

from ..runtime import Runtime
from ..services import waitlist as service
from ..services.directory import Directory
from ..services.waitlist import OfferDesk, WaitlistEntry, WaitlistOffer
from ..sources import TenantSources
from .people import names_of

__all__ = [
    "PRIORITY_WORDS",
    "Board",
    "EntryRow",
    "OfferRow",
    "board_context",
    "read_board",
    "visit_words",
]

PRIORITY_WORDS = {"urgent": "Urgent", "soon": "Soon", "routine": "Routine"}


@dataclass(frozen=True)
class EntryRow:
    entry: WaitlistEntry
    name: str | None
    visit: str
    # "with Dr X", "at Clinic Y", both, or "any practitioner, anywhere"
    place: str


@dataclass(frozen=True)
class OfferRow:
    offer: WaitlistOffer
    name: str | None
    visit: str
    who: str
    where: str


@dataclass(frozen=True)
class Board:
    entries: list[EntryRow]
    offers: list[OfferRow]
    # EHRs that did not say a patient's name.
    missing: list[str]

    @property
    def patient_ids(self) -> list[str]:
        return [r.entry.patient_id for r in self.entries] + [
            r.offer.patient_id for r in self.offers
        ]


async def visit_words(directory: Directory) -> dict[str, str]:
    """Visit type code -> its words, as the sources' schedules name them."""
    types, _, _ = await directory.visit_types()
    return {v.code: v.display or v.code for v in types}


async def _place_names(
    sources: TenantSources, directory: Directory, entries: Iterable[WaitlistEntry]
) -> dict[str, str]:
    """Names of the practitioners and locations the entries ask for (directory lookups,
    one per source and type, cached)."""
    by_source: dict[str, list[RecordRef]] = {}
    for entry in entries:
        for gateway_id, rtype in (
            (entry.practitioner_id, "Practitioner"),
            (entry.location_id, "Location"),
        ):
            if gateway_id is None:
                continue
            try:
                source = decode_id(gateway_id).source
            except InvalidId:
                continue
            by_source.setdefault(source, []).append(RecordRef(resource_type=rtype, id=gateway_id))
    names: dict[str, str] = {}
    for source, refs in by_source.items():
        handle = sources.get(source)
        if handle is not None:
            names.update(await directory.fill_displays(handle, refs))
    return names


def _place(entry: WaitlistEntry, names: dict[str, str]) -> str:
    parts = []
    if entry.practitioner_id:
        parts.append(f"with {names.get(entry.practitioner_id, 'the chosen practitioner')}")
    if entry.location_id:
        parts.append(f"at {names.get(entry.location_id, 'the chosen location')}")
    return " ".join(parts) or "any practitioner, anywhere"


def _offer_row(offer: WaitlistOffer, name: str | None, visits: dict[str, str]) -> OfferRow:
    slot = offer.slot
    code = next(iter(slot.service_types), None)
    visit = slot.service_type_display or (visits.get(code, code) if code else None) or "a visit"
    who = ", ".join(p.display for p in slot.practitioners if p.display) or "any practitioner"
    where = slot.location.display if slot.location and slot.location.display else ""
    return OfferRow(offer, name, visit, who, where)


async def read_board(
    runtime: Runtime,
    tenant: str,
    *,
    patients: set[str] | None = None,
    without_offer: str | None = None,
) -> Board:
    """The tenant's waitlist and open offers (``patients``: only these records' entries;
    ``without_offer``: a slot just booked from its offer, gone even if the waitlist has
    not caught up yet)."""
    desk: OfferDesk = runtime.waitlists[tenant]
    directory = runtime.directory[tenant]
    sources = runtime.tenants[tenant]
    entries = await service.listing(desk, service.WaitlistFilter())
    offers = [o for o in await desk.open_offers() if o.slot_id != without_offer]
    if patients is not None:
        entries = [e for e in entries if e.patient_id in patients]
        mine = {e.id for e in entries}
        offers = [o for o in offers if o.entry_id in mine]
    if without_offer is not None:
        entries = [e for e in entries if e.offer_slot_id != without_offer]
    names, missing = await names_of(
        sources,
        [e.patient_id for e in entries] + [o.patient_id for o in offers],
        deadline_seconds=runtime.settings.source_deadline_seconds,
    )
    visits = await visit_words(directory)
    places = await _place_names(sources, directory, entries)
    return Board(
        entries=[
            EntryRow(
                e,
                names.get(e.patient_id),
                visits.get(e.service_type, e.service_type),
                _place(e, places),
            )
            for e in entries
        ],
        offers=[_offer_row(o, names.get(o.patient_id), visits) for o in offers],
        missing=missing,
    )


def board_context(board: Board) -> dict[str, Any]:
    return {"board": board, "priority_words": PRIORITY_WORDS}
