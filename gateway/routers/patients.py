from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from ..deps import RuntimeDep, TenantDep, require_scope
from ..middleware import note_audit
from ..params import FORBIDDEN_CHARACTERS, PARTIAL_DATE_PATTERN, GatewayIdPath, text
from ..schemas import ListResponse, PatientOut, SourceStatusOut
from ..services import patients as service

router = APIRouter(prefix="/v1/patients", tags=["patients"])
_Read = Depends(require_scope("patients:read"))
# system|value, both parts text.
_IDENTIFIER = rf"^[^|{FORBIDDEN_CHARACTERS}]+\|[^{FORBIDDEN_CHARACTERS}]+$"


@router.get("", dependencies=[_Read], operation_id="searchPatients")
async def search_patients(
    request: Request,
    runtime: RuntimeDep,
    sources: TenantDep,
    identifier: Annotated[
        str | None, Query(max_length=300, pattern=_IDENTIFIER, description="system|value")
    ] = None,
    family: Annotated[str | None, Query(**text(100))] = None,
    given: Annotated[str | None, Query(**text(100, "Needs family."))] = None,
    birthdate: Annotated[
        str | None,
        Query(pattern=PARTIAL_DATE_PATTERN, description="YYYY, YYYY-MM or YYYY-MM-DD."),
    ] = None,
    phone: Annotated[str | None, Query(**text(40))] = None,
) -> ListResponse[PatientOut]:
    """Find patients in all the tenant's EHRs at once; one person's records come back merged.

    Search by ``identifier``, by ``family`` (with ``given`` and ``birthdate`` when known)
    or by ``phone``: at least one of the three; ``given`` needs ``family``."""
    note_audit(request, "patient.search", sources=[h.id for h in sources.all()])
    query = service.PatientQuery(identifier, family, given, birthdate, phone)
    items, statuses = await service.search_patients(
        sources, query, deadline_seconds=runtime.settings.source_deadline_seconds
    )
    note_audit(
        request,
        "patient.search",
        patient_ids=[link.id for p in items for link in p.links],
        sources=[s.source for s in statuses],
    )
    request.state.audit_partial = any(s.status != "ok" for s in statuses)
    return ListResponse[PatientOut](
        items=items, sources=[SourceStatusOut(**vars(s)) for s in statuses]
    )


@router.get("/{patient_id}", dependencies=[_Read], operation_id="getPatient")
async def get_patient(
    request: Request,
    runtime: RuntimeDep,
    sources: TenantDep,
    patient_id: GatewayIdPath,
) -> PatientOut:
    """One patient, with links to the same person's records in the tenant's other EHRs."""
    note_audit(request, "patient.read", patient_ids=[patient_id])
    patient, statuses = await service.get_patient(
        sources, patient_id, deadline_seconds=runtime.settings.source_deadline_seconds
    )
    note_audit(
        request,
        "patient.read",
        patient_ids=[link.id for link in patient.links],
        sources=[s.source for s in statuses],
    )
    return patient
