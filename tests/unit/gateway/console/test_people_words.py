"""How the console says why records are one person (the person index's explanation)."""

from __future__ import annotations

from datetime import date

from gateway.console.people import shown
from gateway.schemas import (
    FieldAgreementOut,
    MatchExplanation,
    PatientLink,
    PatientOut,
    PossibleDuplicateOut,
)


def _match(probability: float, *fields: tuple[str, str, float]) -> MatchExplanation:
    return MatchExplanation(
        match_probability=probability,
        match_weight=10.0,
        model_version="m1",
        fields=[FieldAgreementOut(field=f, level=lvl, weight=w) for f, lvl, w in fields],
    )


def _patient(links: list[PatientLink], dups: list[PossibleDuplicateOut]) -> PatientOut:
    return PatientOut(
        id="p-a",
        source="ehr-a",
        identifiers=[],
        name=None,
        other_names=[],
        birth_date="1980-02-03",
        gender=None,
        phones=[],
        emails=[],
        address=None,
        language=None,
        active=True,
        links=links,
        possible_duplicates=[d.id for d in dups],
        possible_duplicate_matches=dups,
    )


def test_a_link_the_index_made_says_how_alike_and_field_by_field():
    linked = _match(
        0.9731, ("surname", "one edit", 4.1), ("dob", "exact", 9.0), ("phone", "missing", 0.0)
    )
    person = shown(
        _patient(
            [
                PatientLink(source="ehr-a", id="p-a", grade="self"),
                PatientLink(source="ehr-b", id="p-b", grade="probable", match=linked),
                PatientLink(source="ehr-c", id="p-c", grade="probable", decided_by_person=True),
                PatientLink(source="ehr-d", id="p-d", grade="certain"),
            ],
            [PossibleDuplicateOut(id="p-x", match=_match(0.41, ("first_name", "swapped", 2.0)))],
        ),
        date(2026, 12, 6),
    )
    assert person.sources == [
        ("ehr-a", "this record"),
        ("ehr-b", "same person (97% alike: family name one edit, birth date exact)"),
        ("ehr-c", "same person (a supervisor said so)"),
        ("ehr-d", "same person (same identifier)"),
    ]
    assert person.duplicate_why == {"p-x": "41% alike: given name swapped"}


def test_a_duplicate_without_an_explanation_says_nothing_more():
    person = shown(_patient([], [PossibleDuplicateOut(id="p-y")]), date(2026, 12, 6))
    assert person.possible_duplicates == ["p-y"] and person.duplicate_why == {}
