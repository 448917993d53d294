"""The search engine's criteria judge results with FHIR R4 search semantics (no network)."""

from __future__ import annotations

from typing import Any

from conformance.checks import directory, incremental, search
from conformance.checks.search_engine import (
    NAME_PARTS,
    Criterion,
    date,
    reference,
    string,
    token,
    values_at,
)
from conformance.context import RunContext


def never(ctx: RunContext) -> str:  # a pick these tests never call
    raise AssertionError


def judge(criterion: Criterion, resource: dict[str, Any], value: str) -> bool:
    return criterion.judge(resource, value)


def test_token_matches_system_and_code_as_written():
    ident = token("identifier", "identifier", never)
    patient = {"identifier": [{"system": "urn:a", "value": "7"}, {"value": "8"}]}
    assert judge(ident, patient, "urn:a|7")
    assert not judge(ident, patient, "urn:b|7")  # system|value is not value
    assert judge(ident, patient, "7")  # no system: any system
    assert judge(ident, patient, "|8") and not judge(ident, patient, "|7")  # |code: no system
    concept = token("specialty", "specialty", never)
    role = {"specialty": [{"coding": [{"system": "http://snomed.info/sct", "code": "394579002"}]}]}
    assert judge(concept, role, "http://snomed.info/sct|394579002")
    assert not judge(concept, role, "http://snomed.info/sct|394814009")
    assert judge(token("status", "status", never), {"status": "free"}, "free")


def test_token_where_keeps_only_the_chosen_contact_points():
    phone = token("phone", "telecom", never, where=("system", "phone"))
    person = {
        "telecom": [{"system": "email", "value": "5551"}, {"system": "phone", "value": "5552"}]
    }
    assert judge(phone, person, "5552")
    assert not judge(phone, person, "5551")


def test_string_is_a_case_and_accent_insensitive_prefix_of_any_part():
    name = string("name", NAME_PARTS, never)
    patient = {"name": [{"family": "Núñez", "given": ["Ana", "María"]}]}
    assert judge(name, patient, "nun")
    assert judge(name, patient, "MARI")
    assert not judge(name, patient, "unez")  # inside a part, not its start


def test_reference_matches_however_the_reference_is_written():
    patient = reference("patient", "participant.actor", never)
    for written in ("Patient/1", "http://ehr/fhir/Patient/1", "Patient/1/_history/3"):
        appointment = {
            "participant": [
                {"actor": {"reference": "Practitioner/9"}},
                {"actor": {"reference": written}},
            ]
        }
        assert judge(patient, appointment, "Patient/1"), written
    assert not judge(
        patient, {"participant": [{"actor": {"reference": "Patient/10"}}]}, "Patient/1"
    )
    assert not judge(patient, {"participant": [{"actor": {"reference": "Group/1"}}]}, "Patient/1")


def test_date_prefixes_compare_intervals():
    day = date("date", "start", never)
    appointment = {"start": "2031-05-05T15:00:00Z"}
    assert judge(day, appointment, "2031-05-05")
    assert not judge(day, appointment, "2031-05-06")
    ge = date("start", "start", never, prefix="ge")
    lt = date("start", "start", never, prefix="lt")
    at, after = {"start": "2031-05-05T11:00:00Z"}, {"start": "2031-05-05T12:00:00Z"}
    assert judge(ge, at, "2031-05-05T11:00:00Z") and not judge(lt, at, "2031-05-05T11:00:00Z")
    assert judge(lt, {"start": "2031-05-05T10:00:00Z"}, "2031-05-05T11:00:00Z")
    assert judge(ge, after, "2031-05-05T11:00:00Z")
    # Millisecond instants, as lastUpdated is written: gt is strictly later, le the rest.
    gt = date("_lastUpdated", "meta.lastUpdated", never, prefix="gt")
    le = date("_lastUpdated", "meta.lastUpdated", never, prefix="le")
    cutoff = "2026-12-06T14:24:55.624+00:00"
    same = {"meta": {"lastUpdated": cutoff}}
    later = {"meta": {"lastUpdated": "2026-12-06T14:24:55.625+00:00"}}
    assert not judge(gt, same, cutoff) and judge(le, same, cutoff)
    assert judge(gt, later, cutoff) and not judge(le, later, cutoff)
    # A Period with an open end reaches the end of time.
    assert judge(date("d", "period", never, prefix="gt"), {"period": {"start": "2020"}}, "2030")


def test_values_at_flattens_lists_on_the_way():
    resource = {"name": [{"given": ["A", "B"]}, {"given": ["C"]}, {"family": "D"}]}
    assert list(values_at(resource, "name.given")) == ["A", "B", "C"]
    assert list(values_at(resource, "name.prefix")) == []


def test_every_row_has_a_unique_id_a_spec_link_and_says_what_it_is_about():
    cases = [*search.CASES, *directory.CASES, *incremental.CASES]
    assert len({c.id for c in cases}) == len(cases)
    for case in cases:
        assert case.spec and case.queries and case.parameters
        sent = {c.parameter for q in case.queries for c in q} | {"_include"}
        assert set(case.parameters) <= sent, case.id
