"""The directory a desk books from: practitioners, locations and visit types."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from ..deps import DirectoryDep, FreshDep, require_scope
from ..params import SourceQuery, text
from ..schemas import ListResponse, LocationOut, PractitionerOut, SourceStatusOut, VisitTypeOut
from ..services.directory import DirectoryQuery
from ..services.fanout import SourceStatus

router = APIRouter(prefix="/v1", tags=["directory"])
_Read = Depends(require_scope("slots:read"))
Source = SourceQuery
Name = Annotated[str | None, Query(**text(100, "Any part of the name."))]


def _statuses(statuses: list[SourceStatus]) -> list[SourceStatusOut]:
    return [SourceStatusOut(**vars(s)) for s in statuses]


def _cache_header(response: Response, cached: bool) -> None:
    response.headers["X-Cache"] = "hit" if cached else "miss"


@router.get("/practitioners", dependencies=[_Read], operation_id="searchPractitioners")
async def search_practitioners(
    response: Response,
    directory: DirectoryDep,
    fresh: FreshDep,
    name: Name = None,
    specialty: Annotated[
        str | None,
        Query(**text(100, "A specialty code, or system|code (PractitionerRole.specialty).")),
    ] = None,
    source: Source = None,
) -> ListResponse[PractitionerOut]:
    """Practitioners by name and/or specialty across the tenant's EHRs, with their
    specialties and locations; their ids filter ``GET /v1/slots?practitioner=``."""
    items, statuses, cached = await directory.practitioners(
        DirectoryQuery(name=name, specialty=specialty, source=source), fresh=fresh
    )
    _cache_header(response, cached)
    return ListResponse[PractitionerOut](items=items, sources=_statuses(statuses))


@router.get("/locations", dependencies=[_Read], operation_id="searchLocations")
async def search_locations(
    response: Response,
    directory: DirectoryDep,
    fresh: FreshDep,
    name: Name = None,
    source: Source = None,
) -> ListResponse[LocationOut]:
    """Locations by name or alias (all of them without a name) across the tenant's EHRs;
    their ids filter ``GET /v1/slots?location=`` and the day's worklist."""
    items, statuses, cached = await directory.locations(
        DirectoryQuery(name=name, source=source), fresh=fresh
    )
    _cache_header(response, cached)
    return ListResponse[LocationOut](items=items, sources=_statuses(statuses))


@router.get("/visit-types", dependencies=[_Read], operation_id="listVisitTypes")
async def list_visit_types(
    response: Response, directory: DirectoryDep, fresh: FreshDep, source: Source = None
) -> ListResponse[VisitTypeOut]:
    """The visit (service) types the sources' schedules offer, in words; a code is a
    ``service_type`` for ``GET /v1/slots``."""
    items, statuses, cached = await directory.visit_types(source, fresh=fresh)
    _cache_header(response, cached)
    return ListResponse[VisitTypeOut](items=items, sources=_statuses(statuses))
