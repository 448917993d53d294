"""Patients as the console shows them: a name, an age, which EHRs hold them and how
sure the gateway is that the records are one person."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from mappers import InvalidId, decode_id, display_name
from mappers.model import Patient

from ..schemas import MatchExplanation, PatientLink, PatientOut
from ..services.fanout import fan_out
from ..services.worklist import age_on
from ..sources import SourceHandle, TenantSources

__all__ = ["GRADE_WORDS", "Shown", "match_words", "names_of", "shown"]

# Records named in one search (the EHR's ``_id`` takes a list).
_PER_SEARCH = 50

GRADE_WORDS = {
    "self": "this record",
    "certain": "same person (same identifier)",
    "probable": "same person (same name, birth date and sex)",
    "possible": "may be the same person",
}
_FIELD_WORDS = {
    "first_name": "given name",
    "surname": "family name",
    "dob": "birth date",
    "postcode": "postcode",
    "street": "street",
    "phone": "phone",
    "sex": "sex",
}


@dataclass(frozen=True)
class Shown:
    id: str
    name: str
    age: int | None
    gender: str | None
    sources: list[tuple[str, str]]
    possible_duplicates: list[str]
    mrns: list[str]
    birth_date_matches: bool | None
    # Why a possible duplicate may be this person, in words (by its id).
    duplicate_why: dict[str, str]


def match_words(match: MatchExplanation) -> str:
    """The person index's verdict as a desk reads it: how sure, and how each field
    compared ("97% alike: family name one edit, birth date exact, phone different")."""
    parts = [
        f"{_FIELD_WORDS.get(f.field, f.field)} {f.level}"
        for f in match.fields
        if f.level != "missing"
    ]
    sure = f"{match.match_probability:.0%} alike"
    return f"{sure}: {', '.join(parts)}" if parts else sure


def _link_words(link: PatientLink) -> str:
    if link.decided_by_person:
        return "same person (a supervisor said so)"
    if link.match is not None and link.grade != "self":
        return f"same person ({match_words(link.match)})"
    return GRADE_WORDS[link.grade]


def shown(patient: PatientOut, today: date, typed_birth_date: str | None = None) -> Shown:
    return Shown(
        id=patient.id,
        name=(display_name(patient.name) if patient.name else "") or "(no name)",
        age=age_on(patient.birth_date, today),
        gender=patient.gender,
        sources=[(link.source, _link_words(link)) for link in patient.links],
        possible_duplicates=patient.possible_duplicates,
        duplicate_why={
            d.id: match_words(d.match)
            for d in patient.possible_duplicate_matches
            if d.match is not None
        },
        mrns=[i.value for i in patient.identifiers if i.type == "MR" and i.value],
        birth_date_matches=(
            patient.birth_date == typed_birth_date if typed_birth_date is not None else None
        ),
    )


async def names_of(
    sources: TenantSources, patient_ids: Iterable[str], *, deadline_seconds: float
) -> tuple[dict[str, str], list[str]]:
    """Display names of patient records (gateway ids), one ``_id`` search per EHR, every
    EHR at once; and the EHRs that did not answer (their records stay unnamed)."""
    wanted: dict[str, dict[str, str]] = {}
    for gateway_id in dict.fromkeys(patient_ids):
        try:
            ref = decode_id(gateway_id, resource_type="Patient")
        except InvalidId:
            continue
        if sources.get(ref.source) is not None:
            wanted.setdefault(ref.source, {})[ref.id] = gateway_id
    handles = [h for h in sources.all() if h.id in wanted]

    async def one(handle: SourceHandle) -> dict[str, str]:
        upstream = list(wanted[handle.id])
        asked = set(wanted[handle.id].values())
        names: dict[str, str] = {}
        for i in range(0, len(upstream), _PER_SEARCH):
            chunk = upstream[i : i + _PER_SEARCH]
            found = await handle.search_pages(
                "Patient", {"_id": ",".join(chunk), "_count": str(len(chunk))}, max_pages=1
            )
            for record in found.matches:
                if isinstance(record, Patient) and record.id in asked and record.name:
                    names[record.id] = display_name(record.name) or "(no name)"
        return names

    outcomes = await fan_out(handles, lambda h: h.id, one, deadline_seconds)
    named: dict[str, str] = {}
    for outcome in outcomes:
        named.update(outcome.value or {})
    return named, [o.status.source for o in outcomes if o.status.status != "ok"]
