"""Find patients across the tenant's EHRs and merge records of one person."""

from __future__ import annotations

from dataclasses import dataclass

from mappers.model import Patient

from ..schemas import PatientLink, PatientOut
from ..sources import SourceHandle, TenantSources
from .errors import InvalidRequest, NotFound
from .fanout import SourceStatus, fan_out
from .matching import MatchGroup, match_patients
from .validation import check_partial_date, check_text

__all__ = ["PatientQuery", "get_patient", "search_patients"]

MAX_PER_SOURCE = 50


@dataclass(frozen=True)
class PatientQuery:
    identifier: str | None = None
    family: str | None = None
    given: str | None = None
    birthdate: str | None = None
    phone: str | None = None

    def validate(self) -> None:
        if not any((self.identifier, self.family, self.phone)):
            raise InvalidRequest(
                "search by identifier, by family (with given and birthdate if known) or by phone"
            )
        if self.given and not self.family:
            raise InvalidRequest("given needs family")
        for name, text in (("family", self.family), ("given", self.given), ("phone", self.phone)):
            check_text(name, text)
        check_partial_date("birthdate", self.birthdate)
        if self.identifier is not None:
            check_text("identifier", self.identifier, max_length=300)
            system, bar, value = self.identifier.partition("|")
            if not bar or not value or not system:
                raise InvalidRequest("identifier must be system|value")

    def fhir_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.identifier:
            params["identifier"] = self.identifier
        if self.family:
            params["family"] = self.family
        if self.given:
            params["given"] = self.given
        if self.birthdate:
            params["birthdate"] = self.birthdate
        if self.phone:
            params["phone"] = self.phone
        params["_count"] = str(MAX_PER_SOURCE)
        return params


async def _search_one(handle: SourceHandle, params: dict[str, str]) -> list[Patient]:
    return await handle.search_mapped("Patient", params, Patient, limit=MAX_PER_SOURCE)


# Demographics copied as they are from the primary record into the API's patient.
_PATIENT_FIELDS = {
    "id",
    "identifiers",
    "name",
    "other_names",
    "birth_date",
    "gender",
    "phones",
    "emails",
    "address",
    "language",
    "active",
}


def to_out(group: MatchGroup) -> PatientOut:
    primary = group.records[0]
    links = [PatientLink(source=primary.source.source, id=primary.id, grade="self")]
    for record in group.records[1:]:
        grade = group.grades.get(record.id, "probable")
        links.append(
            PatientLink(
                source=record.source.source,
                id=record.id,
                grade="certain" if grade == "certain" else "probable",
            )
        )
    return PatientOut(
        **{field: getattr(primary, field) for field in _PATIENT_FIELDS},
        source=primary.source.source,
        version=primary.source.version,
        links=links,
        possible_duplicates=group.possible_duplicates,
        warnings=[w for r in group.records for w in r.warnings],
    )


async def search_patients(
    sources: TenantSources, query: PatientQuery, *, deadline_seconds: float
) -> tuple[list[PatientOut], list[SourceStatus]]:
    query.validate()
    params = query.fhir_params()
    outcomes = await fan_out(
        sources.all(), lambda h: h.id, lambda h: _search_one(h, params), deadline_seconds
    )
    records = [p for o in outcomes if o.value for p in o.value]
    groups = match_patients(records)
    return [to_out(g) for g in groups], [o.status for o in outcomes]


def _linking_params(patient: Patient) -> dict[str, str] | None:
    """A search likely to find the same person elsewhere: family name and birth date."""
    if patient.name is None or not patient.name.family or not patient.birth_date:
        return None
    return {"family": patient.name.family, "birthdate": patient.birth_date, "_count": "20"}


async def get_patient(
    sources: TenantSources, patient_id: str, *, deadline_seconds: float
) -> tuple[PatientOut, list[SourceStatus]]:
    handle, ref = sources.resolve(patient_id, "Patient", "patient", malformed=NotFound)
    record, _ = await handle.read_mapped("Patient", ref.id, Patient, what="patient")
    others = [h for h in sources.all() if h.id != handle.id]
    params = _linking_params(record)
    statuses = [SourceStatus(handle.id, "ok")]
    candidates: list[Patient] = []
    if params is not None and others:
        outcomes = await fan_out(
            others, lambda h: h.id, lambda h: _search_one(h, params), deadline_seconds
        )
        statuses += [o.status for o in outcomes]
        candidates = [p for o in outcomes if o.value for p in o.value]
    groups = match_patients([record, *candidates])
    return to_out(groups[0]), statuses
