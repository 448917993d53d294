"""Codes keep their contract fields; their words come along in Codings, so a desk shows
"New-patient visit", not NEWPT."""

from __future__ import annotations

from typing import Any

import pytest

from mappers import Appointment, Coding, Schedule, Slot, from_fhir
from mappers._primitives import read_concept, read_concepts

SOURCE = "ehr-a"
VISIT = "urn:example:visit-type"


@pytest.mark.parametrize(
    ("raw", "codes", "codings"),
    [
        (None, [], []),
        ("124", [], []),
        (
            [{"text": " New-patient visit "}],
            ["New-patient visit"],
            [Coding(display="New-patient visit")],
        ),
        (
            {"coding": [{"system": VISIT, "code": "NEWPT"}], "text": "New-patient visit"},
            ["NEWPT"],
            [Coding(system=VISIT, code="NEWPT", display="New-patient visit")],
        ),
        (
            [
                {
                    "coding": [
                        {"system": VISIT, "code": "NEWPT", "display": "New patient"},
                        {"code": "NEWPT", "system": VISIT},
                    ]
                }
            ],
            ["NEWPT"],
            [Coding(system=VISIT, code="NEWPT", display="New patient")],
        ),
        (
            [
                {"coding": [{"system": "a", "code": "X"}]},
                {"coding": [{"system": "b", "code": "X"}]},
            ],
            ["X"],
            [Coding(system="a", code="X"), Coding(system="b", code="X")],
        ),
        ([{"coding": [{"display": "Only words"}, 7, {}]}], [], [Coding(display="Only words")]),
        ([{"coding": [{}], "text": "T"}], ["T"], [Coding(display="T")]),
        ([{"concept": {"coding": [{"code": "R5"}]}}], ["R5"], [Coding(code="R5")]),
        ([{"coding": {"code": "lone"}}], ["lone"], [Coding(code="lone")]),
    ],
)
def test_read_concepts(raw: Any, codes: list[str], codings: list[Coding]) -> None:
    got_codes, got_codings = read_concepts(raw)
    assert got_codes == codes
    assert [Coding.model_validate(c) for c in got_codings] == codings


def test_read_concept_prefers_the_coding_of_the_first_code() -> None:
    code, coding = read_concept(
        {"coding": [{"display": "words only"}, {"code": "B", "display": "Bee"}]}
    )
    assert code == "B"
    assert coding == {"system": None, "code": "B", "display": "Bee"}
    assert read_concept(None) == (None, None)
    assert read_concept({"text": "T"}) == ("T", {"system": None, "code": None, "display": "T"})


def _slot(**fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": "s1",
        "schedule": {"reference": "Schedule/sch1"},
        "status": "free",
        "start": "2026-12-07T08:00:00-06:00",
        "end": "2026-12-07T08:30:00-06:00",
        **fields,
    }


def test_slot_carries_the_words_of_its_service_type_and_appointment_type() -> None:
    slot = from_fhir(
        _slot(
            serviceType=[
                {"coding": [{"system": VISIT, "code": "NEWPT"}], "text": "New-patient visit"}
            ],
            specialty=[
                {
                    "coding": [
                        {
                            "system": "http://snomed.info/sct",
                            "code": "394814009",
                            "display": "General practice",
                        }
                    ]
                }
            ],
            appointmentType={
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0276",
                        "code": "WALKIN",
                        "display": "A previously unscheduled walk-in visit",
                    }
                ]
            },
        ),
        source=SOURCE,
        expect=Slot,
    )
    assert slot.service_types == ["NEWPT"]
    assert slot.service_type_codings == [
        Coding(system=VISIT, code="NEWPT", display="New-patient visit")
    ]
    assert slot.specialty == ["394814009"]
    assert slot.specialty_codings[0].display == "General practice"
    assert slot.appointment_type == "WALKIN"
    assert slot.appointment_type_coding is not None
    assert slot.appointment_type_coding.display == "A previously unscheduled walk-in visit"


def test_schedule_and_appointment_carry_codings_too() -> None:
    concept = [{"coding": [{"system": VISIT, "code": "NEWPT", "display": "New-patient visit"}]}]
    schedule = from_fhir(
        {
            "resourceType": "Schedule",
            "id": "sch1",
            "actor": [{"reference": "Practitioner/p1"}],
            "serviceType": concept,
        },
        source=SOURCE,
        expect=Schedule,
    )
    assert schedule.service_type_codings[0].display == "New-patient visit"
    appointment = from_fhir(
        {
            "resourceType": "Appointment",
            "id": "a1",
            "status": "booked",
            "serviceType": concept,
            "appointmentType": {"text": "Follow-up"},
        },
        source=SOURCE,
        expect=Appointment,
    )
    assert appointment.service_types == ["NEWPT"]
    assert appointment.service_type_codings[0].display == "New-patient visit"
    assert appointment.appointment_type == "Follow-up"
    assert appointment.appointment_type_coding == Coding(display="Follow-up")


def test_schedule_actor_refs_keep_display_only_actors() -> None:
    schedule = from_fhir(
        {
            "resourceType": "Schedule",
            "id": "sch1",
            "actor": [
                {"reference": "Practitioner/p1", "display": "Dr Ana Rivera"},
                {"display": "Room 4", "type": "Location"},
                {"reference": "#contained"},
                {"reference": "Practitioner/p1"},
            ],
        },
        source=SOURCE,
        expect=Schedule,
    )
    assert schedule.actors == ["Practitioner/p1"]
    assert [(r.resource_type, r.display) for r in schedule.actor_refs] == [
        ("Practitioner", "Dr Ana Rivera"),
        ("Location", "Room 4"),
    ]
    assert schedule.actor_refs[1].id is None
    assert schedule.warnings == [
        "Schedule.actor[1]: not a resolvable reference; skipped",
        "Schedule.actor[2]: not a resolvable reference; skipped",
    ]


def test_minutes_duration_as_a_string_is_read_with_a_warning() -> None:
    appointment = from_fhir(
        {"resourceType": "Appointment", "id": "a1", "status": "booked", "minutesDuration": "60"},
        source=SOURCE,
        expect=Appointment,
    )
    assert appointment.minutes_duration == 60
    assert appointment.warnings == [
        "Appointment.minutesDuration: a string where an integer was expected; read"
    ]
