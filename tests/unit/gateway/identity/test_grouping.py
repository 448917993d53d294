"""Grouping search results with the model and people's decisions."""

from __future__ import annotations

from gateway.identity.grouping import group
from gateway.identity.model import MatchModel
from mappers.model import HumanName, Patient, SourceRef


def _p(
    source: str, pid: str, family: str, given: str, dob: str, gender: str | None = None
) -> Patient:
    return Patient(
        id=f"{source}-{pid}",
        source=SourceRef(source=source, resource_type="Patient", id=pid),
        name=HumanName(family=family, given=[given]),
        birth_date=dob,
        gender=gender,
    )


def test_a_typo_links_without_sex_and_decisions_win():
    model = MatchModel.load()
    a = _p("ehr-a", "1", "Kowalski", "Anna", "1975-04-02", "female")
    b = _p("ehr-b", "9", "Kowalsky", "Anna", "1975-04-02")
    other = _p("ehr-b", "7", "Brown", "Tom", "1960-01-01", "male")
    [person, lone] = group([a, b, other], model, {})
    assert [r.id for r in person.records] == [a.id, b.id]
    assert person.evidence[b.id].probability >= model.policy.link_probability
    assert [r.id for r in lone.records] == [other.id]

    apart = group([a, b], model, {frozenset((a.id, b.id)): "different"})
    assert [len(g.records) for g in apart] == [1, 1]
    assert apart[0].possible_duplicates == [] and apart[1].possible_duplicates == []


def test_same_person_decision_links_what_the_model_would_not():
    model = MatchModel.load()
    a = _p("ehr-a", "1", "Kowalski", "Anna", "1975-04-02")
    b = _p("ehr-b", "9", "Nowak", "Anna", "1975-04-02")
    assert len(group([a, b], model, {})) == 2
    [person] = group([a, b], model, {frozenset((a.id, b.id)): "same"})
    assert person.decided == {a.id, b.id}


def test_two_records_of_one_source_are_flagged_not_merged():
    model = MatchModel.load()
    a = _p("ehr-a", "1", "Kowalski", "Anna", "1975-04-02", "female")
    b = _p("ehr-a", "2", "Kowalski", "Anna", "1975-04-02", "female")
    first, second = group([a, b], model, {})
    assert first.possible_duplicates == [second.id]
