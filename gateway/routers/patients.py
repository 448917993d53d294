from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from ..deps import RuntimeDep, TenantDep, require_scope
from ..middleware import note_audit
from ..schemas import ListResponse, PatientOut, SourceStatusOut
from ..services import patients as service

router = APIRouter(prefix="/v1/patients", tags=["patients"])
_Read = Depends(require_scope("patients:read"))
_ID_PATH = Path(min_length=1, max_length=300, pattern=r"^[A-Za-z0-9_-]+$")


@router.get("", dependencies=[_Read], operation_id="searchPatients")
async def search_patients(
    request: Request,
    runtime: RuntimeDep,
    sources: TenantDep,
    identifier: Annotated[str | None, Query(max_length=300, description="system|value")] = None,
    family: Annotated[str | None, Query(max_length=100)] = None,
    given: Annotated[str | None, Query(max_length=100)] = None,
    birthdate: Annotated[str | None, Query(max_length=10)] = None,
    phone: Annotated[str | None, Query(max_length=40)] = None,
) -> ListResponse[PatientOut]:
    """Find patients in all the tenant's EHRs at once; one person's records come back merged."""
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
    patient_id: Annotated[str, _ID_PATH],
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
