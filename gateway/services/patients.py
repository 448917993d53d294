"""Find patients across the tenant's EHRs and merge records of one person."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mappers.model import Patient

from ..schemas import (
    FieldAgreementOut,
    MatchExplanation,
    PatientLink,
    PatientOut,
    PossibleDuplicateOut,
)
from ..sources import SourceHandle, TenantSources
from .errors import InvalidRequest, NotFound
from .fanout import SourceStatus, fan_out
from .matching import MatchGroup, match_patients
from .validation import check_partial_date, check_text

if TYPE_CHECKING:
    from ..identity.index import IndexRead, PersonIndex

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


def explain(match: Any, model_version: str) -> MatchExplanation:
    """The model's verdict on a pair (``identity.model.Match``) as the API shows it."""
    return MatchExplanation(
        match_probability=round(match.probability, 6),
        match_weight=round(match.weight, 3),
        model_version=model_version,
        fields=[
            FieldAgreementOut(field=f.field, level=f.level, weight=f.weight) for f in match.fields
        ],
    )


def to_out(group: MatchGroup, model_version: str = "") -> PatientOut:
    primary = group.records[0]
    links = [PatientLink(source=primary.source.source, id=primary.id, grade="self")]
    for record in group.records[1:]:
        grade = group.grades.get(record.id, "probable")
        match = group.evidence.get(record.id)
        links.append(
            PatientLink(
                source=record.source.source,
                id=record.id,
                grade="certain" if grade == "certain" else "probable",
                match=explain(match, model_version) if match is not None else None,
                decided_by_person=record.id in group.decided,
            )
        )
    return PatientOut(
        **{field: getattr(primary, field) for field in _PATIENT_FIELDS},
        source=primary.source.source,
        version=primary.source.version,
        links=links,
        possible_duplicates=group.possible_duplicates,
        possible_duplicate_matches=[
            PossibleDuplicateOut(
                id=other,
                match=explain(group.possible_evidence[other], model_version)
                if other in group.possible_evidence
                else None,
            )
            for other in group.possible_duplicates
        ],
        warnings=[w for r in group.records for w in r.warnings],
    )


async def _group(records: list[Patient], index: PersonIndex | None) -> tuple[list[MatchGroup], str]:
    if index is None:
        return match_patients(records), ""
    from ..identity.grouping import group

    decisions = await index.decisions([r.id for r in records])
    return group(records, index.model, decisions), index.model.version


def _unique(records: list[Patient]) -> list[Patient]:
    return list({r.id: r for r in records}.values())


async def search_patients(
    sources: TenantSources,
    query: PatientQuery,
    *,
    deadline_seconds: float,
    index: PersonIndex | None = None,
) -> tuple[list[PatientOut], list[SourceStatus]]:
    """Every EHR's own search, and the person index's candidates for the caller's words
    (read live, kept when the model says they are who was asked for, or the same person
    as a record found)."""
    query.validate()
    params = query.fhir_params()
    live_search = fan_out(
        sources.all(), lambda h: h.id, lambda h: _search_one(h, params), deadline_seconds
    )
    if index is None:
        outcomes = await live_search
        records = [p for o in outcomes if o.value for p in o.value]
        groups = match_patients(records)
        return [to_out(g) for g in groups], [o.status for o in outcomes]
    outcomes, found = await asyncio.gather(live_search, _from_index(index, query))
    live = [p for o in outcomes if o.value for p in o.value]
    records = _unique(live + _relevant(index, query, live, found))
    groups, version = await _group(records, index)
    index.observe(live)
    return [to_out(g, version) for g in groups], [o.status for o in outcomes]


async def _from_index(index: PersonIndex, query: PatientQuery) -> IndexRead:
    from ..identity.features import blocking_keys, query_row
    from ..identity.index import IndexRead

    if query.identifier and not (query.family or query.phone):
        return IndexRead()
    row = query_row(
        family=query.family, given=query.given, birthdate=query.birthdate, phone=query.phone
    )
    keys = blocking_keys(row, swapped=True)
    if query.family and not query.given and query.birthdate is None:
        return IndexRead()  # a family name alone: the EHRs' own search says it all
    return await index.candidates(keys)


def _relevant(
    index: PersonIndex, query: PatientQuery, live: list[Patient], found: IndexRead
) -> list[Patient]:
    """Index candidates worth showing: the caller's words describe them (at the review
    threshold), or the model ties them to a record the EHRs' own searches found."""
    from ..identity.features import query_row, row_of

    if not found.records:
        return []
    asked = query_row(
        family=query.family, given=query.given, birthdate=query.birthdate, phone=query.phone
    )
    policy = index.model.policy
    live_rows = [row_of(p) for p in live]
    out: list[Patient] = []
    for record in found.records:
        row = row_of(record)
        if index.model.score(asked, row).probability >= policy.review_probability or any(
            index.model.score(other, row).probability >= policy.review_probability
            for other in live_rows
        ):
            out.append(record)
    return out


def _linking_params(patient: Patient) -> dict[str, str] | None:
    """A search likely to find the same person elsewhere: family name and birth date."""
    if patient.name is None or not patient.name.family or not patient.birth_date:
        return None
    return {"family": patient.name.family, "birthdate": patient.birth_date, "_count": "20"}


async def get_patient(
    sources: TenantSources,
    patient_id: str,
    *,
    deadline_seconds: float,
    index: PersonIndex | None = None,
) -> tuple[PatientOut, list[SourceStatus]]:
    """The record, linked to the same person's records elsewhere: found by a search of
    the other EHRs on family name and birth date, and by the person index (the record's
    cluster and blocking keys), read live and scored."""
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
    if index is not None:
        from ..identity.features import blocking_keys, row_of

        ids = await index.linked_ids([record.id])
        ids += [
            i
            for i in await index.candidate_ids(blocking_keys(row_of(record)), exclude=[record.id])
            if i not in ids
        ]
        found = await index.read(ids)
        candidates += found.records
    groups, version = await _group(_unique([record, *candidates]), index)
    return to_out(groups[0], version), statuses
