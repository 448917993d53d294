"""Patients as the console shows them: a name, an age, which EHRs hold them and how
sure the gateway is that the records are one person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mappers import display_name

from ..schemas import PatientOut
from ..services.worklist import age_on

__all__ = ["GRADE_WORDS", "Shown", "shown"]

GRADE_WORDS = {
    "self": "this record",
    "certain": "same person (same identifier)",
    "probable": "same person (same name, birth date and sex)",
    "possible": "may be the same person",
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


def shown(patient: PatientOut, today: date, typed_birth_date: str | None = None) -> Shown:
    return Shown(
        id=patient.id,
        name=(display_name(patient.name) if patient.name else "") or "(no name)",
        age=age_on(patient.birth_date, today),
        gender=patient.gender,
        sources=[(link.source, GRADE_WORDS[link.grade]) for link in patient.links],
        possible_duplicates=patient.possible_duplicates,
        mrns=[i.value for i in patient.identifiers if i.type == "MR" and i.value],
        birth_date_matches=(
            patient.birth_date == typed_birth_date if typed_birth_date is not None else None
        ),
    )
