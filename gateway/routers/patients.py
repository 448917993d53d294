from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from mappers.model import Coverage

from ..deps import CurrentPrincipal, RecordsDep, RuntimeDep, TenantDep, require_scope
from ..middleware import note_audit
from ..params import (
    DESK_TIME_PATTERN,
    FORBIDDEN_CHARACTERS,
    PARTIAL_DATE_PATTERN,
    GatewayIdPath,
    text,
)
from ..schemas import (
    ConflictOut,
    CoverageIn,
    LinkDecisionIn,
    LinkDecisionOut,
    ListResponse,
    PatientChangesIn,
    PatientOut,
    RegistrationRequest,
    SourceStatusOut,
)
from ..security import Principal
from ..services import conflicts
from ..services import identity as identity_service
from ..services import patient_records as records_service
from ..services import patients as service
from ..services.desk_time import parse_desk_time

router = APIRouter(prefix="/v1/patients", tags=["patients"])
_Read = Depends(require_scope("patients:read"))
_AppointmentsRead = Depends(require_scope("appointments:read"))
_DESK_TIME = "A date (YYYY-MM-DD) or a date and time on the tenant's wall clock."
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
        sources,
        query,
        deadline_seconds=runtime.settings.source_deadline_seconds,
        index=runtime.identity.get(sources.tenant.id),
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
        sources,
        patient_id,
        deadline_seconds=runtime.settings.source_deadline_seconds,
        index=runtime.identity.get(sources.tenant.id),
    )
    note_audit(
        request,
        "patient.read",
        patient_ids=[link.id for link in patient.links],
        sources=[s.source for s in statuses],
    )
    return patient


@router.get(
    "/{patient_id}/conflicts", dependencies=[_AppointmentsRead], operation_id="patientConflicts"
)
async def patient_conflicts(
    request: Request,
    runtime: RuntimeDep,
    sources: TenantDep,
    patient_id: GatewayIdPath,
    start: Annotated[
        str,
        Query(alias="from", max_length=40, pattern=DESK_TIME_PATTERN, description=_DESK_TIME),
    ],
    end: Annotated[
        str,
        Query(
            alias="to",
            max_length=40,
            pattern=DESK_TIME_PATTERN,
            description=_DESK_TIME + " After from, at most the tenant's longest range later.",
        ),
    ],
) -> ListResponse[ConflictOut]:
    """Overlaps already on the books: the patient's appointments, in every EHR that knows
    them, that overlap each other (widened by the tenant's buffer)."""
    note_audit(request, "patient.conflicts", patient_ids=[patient_id])
    zone = ZoneInfo(sources.tenant.time_zone)
    pairs, statuses = await conflicts.patient_conflicts(
        sources,
        patient_id,
        parse_desk_time("from", start, zone),
        parse_desk_time("to", end, zone, end=True),
        max_days=runtime.settings.max_date_range_days,
        deadline_seconds=runtime.settings.source_deadline_seconds,
    )
    return ListResponse[ConflictOut](
        items=[ConflictOut(appointments=[a, b]) for a, b in pairs],
        sources=[SourceStatusOut(**vars(s)) for s in statuses],
    )


_Write = Depends(require_scope("patients:write"))
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        pattern=r'^(W/)?"?[A-Za-z0-9.\-]{1,64}"?$',
        description="The version read (its ETag): 409 version_conflict if it changed since.",
    ),
]


@router.post("", dependencies=[_Write], status_code=201, operation_id="registerPatient")
async def register_patient(
    request: Request, response: Response, ports: RecordsDep, body: RegistrationRequest
) -> PatientOut:
    """Register a new patient in one of the tenant's EHRs (``source``).

    Anyone like them in any EHR of the tenant (same birth date, family name or phone,
    graded by the matcher) refuses the registration with ``409 possible_duplicate`` and
    the ``candidates``, until it is sent again with ``confirm_new``. The desk's
    ``identifier`` makes it a conditional create: a retried registration finds the first."""
    note_audit(request, "patient.register", sources=[body.source])
    try:
        patient, _ = await records_service.register(ports, body)
    except records_service.PossibleDuplicate as exc:
        note_audit(
            request,
            "patient.register",
            patient_ids=[c["patient"]["id"] for c in exc.extra.get("candidates", [])],
            sources=[body.source],
        )
        raise
    note_audit(request, "patient.register", patient_ids=[patient.id], sources=[patient.source])
    response.headers["Location"] = f"/v1/patients/{patient.id}"
    return patient


@router.patch("/{patient_id}", dependencies=[_Write], operation_id="updatePatient")
async def update_patient(
    request: Request,
    ports: RecordsDep,
    patient_id: GatewayIdPath,
    body: PatientChangesIn,
    if_match: IfMatch = None,
) -> PatientOut:
    """Correct a patient's phone, email, address, preferred language or name parts in
    their EHR; nothing else of the record changes. A stale If-Match answers
    ``409 version_conflict`` and nothing is written."""
    note_audit(request, "patient.update", patient_ids=[patient_id])
    return await records_service.update_patient(ports, patient_id, body, if_match=if_match)


@router.get(
    "/{patient_id}/coverages",
    dependencies=[_Read],
    operation_id="listPatientCoverages",
)
async def list_coverages(
    request: Request, ports: RecordsDep, patient_id: GatewayIdPath
) -> list[Coverage]:
    """The insurance on file in the patient's EHR, active first, primary first."""
    note_audit(request, "patient.coverages", patient_ids=[patient_id])
    return await records_service.coverages_of(ports, patient_id)


@router.post(
    "/{patient_id}/coverages",
    dependencies=[_Write],
    status_code=201,
    operation_id="addPatientCoverage",
)
async def add_coverage(
    request: Request, ports: RecordsDep, patient_id: GatewayIdPath, body: CoverageIn
) -> Coverage:
    """Add insurance (payer, member id, group, relationship to the subscriber) or
    self-pay, or put it in place of a coverage on file (``replaces``). The patient's
    cached coverage answers are forgotten: the next check asks the payer."""
    note_audit(request, "patient.coverage.add", patient_ids=[patient_id])
    return await records_service.add_coverage(ports, patient_id, body)


_Link = Depends(require_scope("patients:link"))


async def _decide(
    request: Request,
    runtime: RuntimeDep,
    sources: TenantDep,
    principal: Principal,
    patient_id: str,
    body: LinkDecisionIn,
    verdict: Literal["different", "same"],
) -> LinkDecisionOut:
    note_audit(
        request,
        f"patient.identity.{verdict}",
        patient_ids=[patient_id, body.other_id],
        reason=body.reason,
    )
    index = runtime.identity.get(sources.tenant.id)
    decision = await identity_service.decide(
        sources,
        index,
        patient_id,
        body.other_id,
        verdict,
        by=principal.client_id,
        reason=body.reason,
    )
    return LinkDecisionOut(patient_id=patient_id, other_id=body.other_id, **decision)


@router.post("/{patient_id}/not-same", dependencies=[_Write], operation_id="markNotSamePerson")
async def mark_not_same(
    request: Request,
    runtime: RuntimeDep,
    sources: TenantDep,
    principal: CurrentPrincipal,
    patient_id: GatewayIdPath,
    body: LinkDecisionIn,
) -> LinkDecisionOut:
    """A person says these two records are not the same person: the gateway never merges
    or flags them again, and later builds of the person index keep them apart. Neither
    EHR record changes."""
    return await _decide(request, runtime, sources, principal, patient_id, body, "different")


@router.post("/{patient_id}/same", dependencies=[_Link], operation_id="markSamePerson")
async def mark_same(
    request: Request,
    runtime: RuntimeDep,
    sources: TenantDep,
    principal: CurrentPrincipal,
    patient_id: GatewayIdPath,
    body: LinkDecisionIn,
) -> LinkDecisionOut:
    """A supervisor (``patients:link``) says these two records are the same person: the
    gateway links them (``decided_by_person``) and later builds keep them together.
    Neither EHR record changes."""
    return await _decide(request, runtime, sources, principal, patient_id, body, "same")
