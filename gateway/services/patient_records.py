"""Keeping patients' records right: registering a new patient without making a second
record of someone the hospital knows, correcting demographics, and the insurance on file.

- Registration first looks for the person in every EHR of the tenant (by birth date, by
  family name, by phone) and grades each record found against the new one with the
  gateway's matcher; anything graded certain, probable or possible refuses the
  registration as ``possible_duplicate``, with the candidates and what agreed, until the
  desk confirms it is someone new. It is then a conditional create on the desk's
  identifier (If-None-Exist): a retried registration finds the first.
- Corrections are a PUT of the record as read with the changes applied (phones, emails,
  address, language, name parts; the rest untouched), If-Match on the version read or
  the one the client sends: a stale version answers ``version_conflict``, nothing lost.
- Insurance: a Coverage added, or put in place of one on file; either way that
  patient's cached coverage answers are forgotten.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connectors import PreconditionFailed
from mappers import from_fhir
from mappers.model import (
    Address,
    ContactPoint,
    Coverage,
    HumanName,
    Identifier,
    NewCoverage,
    NewPatient,
    Patient,
    PatientChanges,
    SourceRef,
)
from mappers.outbound import OutboundError
from mappers.outbound.coverage import build_coverage
from mappers.outbound.patient_update import patient_update
from mappers.outbound.registration import build_patient, patient_if_none_exist

from ..schemas import (
    CandidateOut,
    CoverageIn,
    PatientChangesIn,
    PatientOut,
    RegistrationRequest,
)
from ..sources import SourceHandle, TenantSources
from .arrivals import version_of_etag
from .eligibility_cache import EligibilityStore
from .errors import InvalidRequest, NotFound, ServiceError, VersionConflict
from .fanout import SourceStatus, fan_out
from .matching import MatchGroup, grade_pair
from .patients import MAX_PER_SOURCE, explain, to_out

if TYPE_CHECKING:
    from ..identity.index import PersonIndex

__all__ = [
    "PossibleDuplicate",
    "RecordPorts",
    "add_coverage",
    "coverages_of",
    "register",
    "update_patient",
]

MAX_COVERAGES = 20
_GRADE_ORDER = {"certain": 0, "probable": 1, "possible": 2}


class PossibleDuplicate(ServiceError):
    code = "possible_duplicate"
    title = "This patient may already be registered"


@dataclass(frozen=True)
class RecordPorts:
    sources: TenantSources
    store: EligibilityStore
    deadline_seconds: float
    # The person index: finds the person even where their record has a typo, and learns
    # every registration and correction at once.
    index: PersonIndex | None = None


@contextmanager
def _client_input() -> Iterator[None]:
    """A builder refusing what the client sent is the client's mistake (422), not the
    EHR's (the 502 a MappingError answers): say which field, never its value."""
    try:
        yield
    except OutboundError as exc:
        raise InvalidRequest(f"{exc.path}: {exc.reason}") from None


# --- registration -----------------------------------------------------------------------


def new_patient(body: RegistrationRequest) -> NewPatient:
    return NewPatient(
        identifier=Identifier(
            system=body.identifier.system, value=body.identifier.value, type=body.identifier.type
        ),
        name=HumanName(
            family=body.name.family,
            given=body.name.given,
            prefix=body.name.prefix,
            suffix=body.name.suffix,
        ),
        birth_date=body.birth_date,
        gender=body.gender,
        phones=[ContactPoint(system="phone", value=p.value, use=p.use) for p in body.phones],
        emails=[ContactPoint(system="email", value=e.value, use=e.use) for e in body.emails],
        address=Address(**body.address.model_dump()) if body.address else None,
        language=body.language,
    )


async def register(
    ports: RecordPorts, body: RegistrationRequest
) -> tuple[PatientOut, list[SourceStatus]]:
    """Register ``body`` in its source; ``PossibleDuplicate`` unless nobody like them is
    known or the desk confirmed it is someone new."""
    handle = ports.sources.get(body.source)
    if handle is None:
        raise NotFound("no such source")
    new = new_patient(body)
    statuses: list[SourceStatus] = []
    if not body.confirm_new:
        candidates, statuses = await duplicate_candidates(ports, new)
        if candidates:
            raise PossibleDuplicate(
                "someone like this patient is already registered: use their record, or "
                "confirm it is someone new (confirm_new)",
                extra={
                    "candidates": [c.model_dump(mode="json") for c in candidates],
                    "partial": any(s.status != "ok" for s in statuses),
                },
            )
    with _client_input():
        resource, condition = build_patient(new), patient_if_none_exist(new)
    created = await handle.client.create(resource, if_none_exist=condition)
    record = from_fhir(created, source=handle.id, expect=Patient)
    if ports.index is not None:
        await ports.index.upsert([record])
    return to_out(MatchGroup(records=[record])), statuses


async def duplicate_candidates(
    ports: RecordPorts, new: NewPatient
) -> tuple[list[CandidateOut], list[SourceStatus]]:
    """Records in the tenant's EHRs that may be the person about to be registered."""
    probe = _as_record(new)
    searches: list[dict[str, str]] = []
    if new.birth_date is not None:
        searches.append({"birthdate": new.birth_date.isoformat()})
    if new.name.family:
        searches.append({"family": new.name.family})
    searches += [{"phone": p.value} for p in new.phones[:1]]

    async def one(handle: SourceHandle) -> list[Patient]:
        found: dict[str, Patient] = {}
        for params in searches:
            for record in await handle.search_mapped(
                "Patient", {**params, "_count": str(MAX_PER_SOURCE)}, Patient, limit=MAX_PER_SOURCE
            ):
                found.setdefault(record.id, record)
        return list(found.values())

    outcomes = await fan_out(ports.sources.all(), lambda h: h.id, one, ports.deadline_seconds)
    found = {p.id: p for o in outcomes if o.value for p in o.value}
    statuses = [o.status for o in outcomes]
    index = ports.index
    if index is not None:
        from ..identity.features import blocking_keys, row_of

        read = await index.candidates(blocking_keys(row_of(probe)))
        for record in read.records:
            found.setdefault(record.id, record)
        statuses = _merge_statuses(statuses, read.statuses)
    candidates: list[CandidateOut] = []
    for record in found.values():
        grade = grade_pair(probe, record)
        match = None
        if index is not None:
            from ..identity.features import row_of

            match = index.model.score(row_of(probe), row_of(record))
            policy = index.model.policy
            if match.probability >= policy.link_probability and grade != "certain":
                grade = "probable"
            elif match.probability >= policy.review_probability and grade is None:
                grade = "possible"
        if grade is None:
            continue
        candidates.append(
            CandidateOut(
                patient=to_out(MatchGroup(records=[record])),
                grade=grade,
                agreeing=_agreeing(probe, record),
                match=explain(match, index.model.version) if match and index else None,
            )
        )
    # Strongest first: by grade, then the fields that agree exactly (what the desk sees),
    # then the model's weight (its probability saturates near 1).
    candidates.sort(
        key=lambda c: (
            _GRADE_ORDER[c.grade],
            -len(c.agreeing),
            -(c.match.match_weight if c.match is not None else 0.0),
            c.patient.id,
        )
    )
    return candidates, statuses


def _merge_statuses(first: list[SourceStatus], more: list[SourceStatus]) -> list[SourceStatus]:
    """One status per source: the worse of the two reads."""
    by_source = {s.source: s for s in first}
    for status in more:
        if status.status != "ok":
            by_source[status.source] = status
    return list(by_source.values())


def _as_record(new: NewPatient) -> Patient:
    """The new patient as a record the matcher can compare (it has no id yet)."""
    return Patient(
        id="new",
        source=SourceRef(source="new", resource_type="Patient", id="new"),
        identifiers=[new.identifier],
        name=new.name,
        birth_date=new.birth_date.isoformat() if new.birth_date else None,
        gender=new.gender,
        phones=new.phones,
        emails=new.emails,
        address=new.address,
    )


def _agreeing(a: Patient, b: Patient) -> list[str]:
    """Which fields of two records agree, in words a desk reads (no values)."""

    def norm(text: str | None) -> str:
        return (text or "").strip().casefold()

    out: list[str] = []
    if {(i.system, i.value) for i in a.identifiers} & {(i.system, i.value) for i in b.identifiers}:
        out.append("identifier")
    if a.name and b.name and a.name.family and norm(a.name.family) == norm(b.name.family):
        out.append("family")
    if (
        a.name
        and b.name
        and a.name.given
        and b.name.given
        and norm(a.name.given[0]) == norm(b.name.given[0])
    ):
        out.append("given")
    if a.birth_date and a.birth_date == b.birth_date:
        out.append("birth_date")
    if a.gender and a.gender == b.gender:
        out.append("gender")
    digits = {"".join(c for c in p.value if c.isdigit()) for p in a.phones}
    if digits & {"".join(c for c in p.value if c.isdigit()) for p in b.phones}:
        out.append("phone")
    return out


# --- corrections ------------------------------------------------------------------------


async def update_patient(
    ports: RecordPorts, patient_id: str, body: PatientChangesIn, *, if_match: str | None
) -> PatientOut:
    handle, ref = ports.sources.resolve(patient_id, "Patient", "patient")
    record, current = await handle.read_mapped("Patient", ref.id, Patient, what="patient")
    version = record.source.version
    if if_match is not None and version is not None and version_of_etag(if_match) != version:
        raise VersionConflict(
            "the record changed since it was read; read it again and redo the change",
            extra={"current_version": version},
        )
    changes = PatientChanges(
        phones=[ContactPoint(system="phone", value=p.value, use=p.use) for p in body.phones],
        emails=[ContactPoint(system="email", value=e.value, use=e.use) for e in body.emails],
        address=Address(**body.address.model_dump()) if body.address else None,
        language=body.language,
        family=body.family,
        given=body.given,
    )
    with _client_input():
        update = patient_update(current, changes)
    if not update.patch:
        return to_out(MatchGroup(records=[record]))
    try:
        written = await handle.client.update(update.resource, if_match=version)
    except PreconditionFailed:
        raise VersionConflict(
            "the record changed meanwhile; read it again and redo the change"
        ) from None
    if "resourceType" not in written:  # Prefer: return=minimal
        written = await handle.client.read("Patient", ref.id)
    corrected = from_fhir(written, source=handle.id, expect=Patient)
    if ports.index is not None:
        await ports.index.upsert([corrected])
    return to_out(MatchGroup(records=[corrected]))


# --- insurance --------------------------------------------------------------------------


async def coverages_of(ports: RecordPorts, patient_id: str) -> list[Coverage]:
    handle, ref = ports.sources.resolve(patient_id, "Patient", "patient")
    await handle.read_mapped("Patient", ref.id, Patient, what="patient")
    params = {"beneficiary": f"Patient/{ref.id}", "_count": str(MAX_COVERAGES)}
    found = await handle.search_mapped("Coverage", params, Coverage, limit=MAX_COVERAGES)
    return sorted(found, key=lambda c: (c.status != "active", c.order or 99, c.id))


async def add_coverage(ports: RecordPorts, patient_id: str, body: CoverageIn) -> Coverage:
    """Add the coverage, or put it in place of ``body.replaces``; the patient's cached
    coverage answers are forgotten either way."""
    handle, ref = ports.sources.resolve(patient_id, "Patient", "patient")
    # Whose insurance: the EHR must know the patient (else "not found", not its refusal).
    await handle.read_mapped("Patient", ref.id, Patient, what="patient")
    new = NewCoverage(**body.model_dump(exclude={"replaces"}))
    replaced_id: str | None = None
    version: str | None = None
    if body.replaces is not None:
        old_handle, old_ref = ports.sources.resolve(body.replaces, "Coverage", "coverage")
        if old_handle.id != handle.id:
            raise NotFound("no such coverage")
        old, _ = await handle.read_mapped("Coverage", old_ref.id, Coverage, what="coverage")
        if old.beneficiary_id != patient_id:
            raise NotFound("no such coverage")
        replaced_id, version = old_ref.id, old.source.version
    with _client_input():
        resource = build_coverage(new, patient_ref=f"Patient/{ref.id}", coverage_id=replaced_id)
    try:
        if replaced_id is None:
            written = await handle.client.create(resource)
        else:
            written = await handle.client.update(resource, if_match=version)
    except PreconditionFailed:
        raise VersionConflict("the coverage changed meanwhile; read it again") from None
    await ports.store.forget_patient(ports.sources.tenant.id, patient_id)
    return from_fhir(written, source=handle.id, expect=Coverage)
