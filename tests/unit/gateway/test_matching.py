from __future__ import annotations

from gateway.services.matching import grade_pair, match_patients
from mappers.ids import encode_id
from mappers.model import HumanName, Identifier, Patient, SourceRef


def _p(
    source: str,
    pid: str,
    family: str,
    given: str,
    birth: str | None,
    gender: str = "female",
    identifiers: list[Identifier] | None = None,
    nickname: str | None = None,
) -> Patient:
    others = [HumanName(given=[nickname], family=family, use="nickname")] if nickname else []
    return Patient(
        id=encode_id(source, "Patient", pid),
        source=SourceRef(source=source, resource_type="Patient", id=pid),
        name=HumanName(family=family, given=[given], use="official"),
        other_names=others,
        birth_date=birth,
        gender=gender,
        identifiers=identifiers or [],
    )


def test_shared_identifier_is_certain_even_with_other_names():
    ssn = Identifier(system="http://hl7.org/fhir/sid/us-ssn", value="123-45-6789", type="SS")
    a = _p("ehr-a", "p-1", "Smith", "Anna", "1980-01-02", identifiers=[ssn])
    b = _p("ehr-b", "p-9", "Smyth", "Ann", "1980-02-01", identifiers=[ssn])
    assert grade_pair(a, b) == "certain"


def test_same_name_birth_and_sex_is_probable_accents_and_case_ignored():
    a = _p("ehr-a", "p-1", "Muñoz", "José", "1975-06-30", gender="male")
    b = _p("ehr-b", "p-2", "MUNOZ", "jose", "1975-06-30", gender="male")
    assert grade_pair(a, b) == "probable"


def test_nickname_typo_and_transposed_date_are_only_possible():
    legal = _p("ehr-a", "p-1", "Johnson", "William", "1990-03-07", gender="male")
    nick = _p("ehr-b", "p-2", "Johnson", "Bill", "1990-03-07", gender="male")
    typo = _p("ehr-b", "p-3", "Jonhson", "William", "1990-03-07", gender="male")
    swapped = _p("ehr-b", "p-4", "Johnson", "William", "1990-07-03", gender="male")
    assert grade_pair(legal, nick) == "possible"
    assert grade_pair(legal, typo) == "possible"
    assert grade_pair(legal, swapped) == "possible"


def test_different_people_do_not_match():
    a = _p("ehr-a", "p-1", "Johnson", "William", "1990-03-07", gender="male")
    b = _p("ehr-b", "p-2", "Garcia", "Maria", "1990-03-07")
    c = _p("ehr-b", "p-3", "Johnson", "William", "1990-03-07", gender="female")
    assert grade_pair(a, b) is None
    assert grade_pair(a, c) is None


def test_match_merges_probable_and_flags_possible_never_merging_it():
    a = _p("ehr-a", "p-1", "Lee", "Grace", "1985-11-12")
    b = _p("ehr-b", "p-1", "Lee", "Grace", "1985-11-12")  # same upstream id, other EHR
    c = _p("ehr-b", "p-7", "Lee", "Gracie", "1985-11-12")  # possible only
    groups = match_patients([a, b, c])
    assert [len(g.records) for g in groups] == [2, 1]
    merged, alone = groups
    assert merged.id == a.id
    assert merged.grades[b.id] == "probable"
    assert merged.possible_duplicates == [c.id]
    assert alone.possible_duplicates == [a.id]


def test_records_of_one_source_are_never_merged():
    a = _p("ehr-a", "p-1", "Lee", "Grace", "1985-11-12")
    b = _p("ehr-a", "p-2", "Lee", "Grace", "1985-11-12")
    assert [len(g.records) for g in match_patients([a, b])] == [1, 1]


def test_nickname_in_other_names_counts_as_given_variant():
    a = _p("ehr-a", "p-1", "Stone", "Margaret", "1950-01-01", nickname="Peggy")
    b = _p("ehr-b", "p-2", "Stone", "Peggy", "1950-01-01")
    assert grade_pair(a, b) == "possible"


def test_same_name_and_birth_day_in_another_year_is_no_match():
    a = _p("ehr-a", "p-1", "Perez", "Peter", "1941-05-10", gender="male")
    b = _p("ehr-b", "p-2", "Perez", "Peter", "1948-05-10", gender="male")
    assert grade_pair(a, b) is None
