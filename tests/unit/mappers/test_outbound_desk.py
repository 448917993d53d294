"""Outbound writes for the desk's day: registration, record corrections (JSON Patch),
insurance, appointment status moves, holds. Valid R4B, errors that name the field."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
from fhir.resources.R4B.appointment import Appointment as R4BAppointment
from fhir.resources.R4B.coverage import Coverage as R4BCoverage
from fhir.resources.R4B.parameters import Parameters as R4BParameters
from fhir.resources.R4B.patient import Patient as R4BPatient

from mappers import (
    Address,
    ContactPoint,
    Coverage,
    HumanName,
    Identifier,
    MappingError,
    Patient,
    encode_id,
    from_fhir,
)
from mappers.model import NewCoverage, NewPatient, PatientChanges, Schedule, Slot, SourceRef
from mappers.outbound import (
    APPOINTMENT_TRANSITIONS,
    CHECK_IN_STATUSES,
    HOLD_IDENTIFIER_SYSTEM,
    ORACLE_HEALTH_TRANSITIONS,
    PAYER_ID_SYSTEM,
    InvalidTransition,
    OutboundError,
    booking_identifier_value,
    build_coverage,
    build_hold_appointment,
    build_patient,
    check_transition,
    hold_parameters,
    patient_if_none_exist,
    patient_update,
    status_patch,
    with_status,
)

SPEC = Path(__file__).resolve().parents[2] / "fixtures" / "fhir" / "public" / "hl7-r4-spec"
SOURCE = "ehr-a"
REG = "urn:example:desk-registration"


def _new_patient(**fields: Any) -> NewPatient:
    base: dict[str, Any] = {
        "identifier": Identifier(system=REG, value="REG 0001&x"),
        "name": HumanName(family="Okafor", given=["Chidi", "Emeka"], prefix=["Mr"]),
        "birth_date": date(1988, 4, 12),
        "gender": "male",
        "phones": [ContactPoint(value="555-0101", use="mobile")],
        "emails": [ContactPoint(value="chidi@example.org")],
        "address": Address(line=["12 Elm St"], city="Springfield", state="IL", postal_code="62701"),
        "language": "ig",
    }
    base.update(fields)
    return NewPatient(**base)


# --- registration ------------------------------------------------------------------


def test_registration_builds_a_valid_patient_that_maps_back() -> None:
    resource = build_patient(_new_patient())
    R4BPatient.model_validate(resource)
    assert resource["identifier"] == [{"system": REG, "value": "REG 0001&x"}]
    assert resource["name"] == [
        {"use": "official", "family": "Okafor", "given": ["Chidi", "Emeka"], "prefix": ["Mr"]}
    ]
    assert resource["telecom"] == [
        {"system": "phone", "value": "555-0101", "use": "mobile"},
        {"system": "email", "value": "chidi@example.org"},
    ]
    assert resource["communication"] == [
        {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "ig"}]}, "preferred": True}
    ]
    assert "id" not in resource
    # What we write, our own mapper reads back the same (a create body has no id).
    record = from_fhir(resource, source=SOURCE, expect=Patient)
    assert record.source.id_origin == "content"
    assert record.name is not None and record.name.given == ["Chidi", "Emeka"]
    assert record.birth_date == "1988-04-12"
    assert record.language == "ig"
    assert [p.value for p in record.phones] == ["555-0101"]
    assert record.warnings == []


def test_registration_if_none_exist_is_the_desk_identifier_encoded() -> None:
    query = patient_if_none_exist(_new_patient())
    assert query == "identifier=urn:example:desk-registration|REG%200001%26x"


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"identifier": Identifier(value="1")}, "NewPatient.identifier.system"),
        ({"identifier": Identifier(system="has space", value="1")}, "NewPatient.identifier.system"),
        ({"identifier": Identifier(system=REG, value="  ")}, "NewPatient.identifier.value"),
        ({"name": HumanName(text="Chidi Okafor")}, "NewPatient.name"),
        ({"name": HumanName(family="O", use="nick")}, "NewPatient.name.use"),
        ({"phones": [ContactPoint(value="555", use="cell")]}, "NewPatient.phones[0].use"),
        ({"emails": [ContactPoint(system="phone", value="a@b")]}, "NewPatient.emails[0].system"),
        ({"address": Address(use="home")}, "NewPatient.address"),
        ({"language": "English"}, "NewPatient.language"),
        ({"other_names": [HumanName(given=[" "])]}, "NewPatient.other_names[0].given[0]"),
    ],
)
def test_registration_refuses_what_is_not_valid_naming_the_field(
    fields: dict[str, Any], path: str
) -> None:
    with pytest.raises(OutboundError) as err:
        build_patient(_new_patient(**fields))
    assert err.value.path == path
    assert "Okafor" not in str(err.value) and "555" not in str(err.value)


# --- record corrections ------------------------------------------------------------


@pytest.fixture
def current() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"versionId": "3"},
        "extension": [{"url": "http://vendor.example.org/x", "valueString": "keep me"}],
        "name": [
            {"use": "nickname", "given": ["Chi"]},
            {"use": "official", "family": "Okafor", "given": ["Chidi"], "text": "Chidi Okafor"},
        ],
        "telecom": [
            {"system": "phone", "value": "555-0100", "use": "home", "rank": 2},
            {"system": "phone", "value": "555-0101", "use": "mobile"},
            {"system": "email", "value": "old@example.org", "period": {"end": "2020-01-01"}},
            {"system": "fax", "value": "555-0199"},
        ],
        "address": [
            {"use": "old", "line": ["1 Old Rd"], "period": {"end": "2019-01-01"}},
            {"use": "home", "line": ["12 Elm St"], "city": "Springfield", "district": "North"},
        ],
        "communication": [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en"}]},
                "preferred": True,
            },
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "ig"}]}},
        ],
    }


def _apply(current: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = jsonpatch.apply_patch(current, ops)
    return result


def test_phone_change_replaces_the_same_use_and_keeps_the_rest(current: dict[str, Any]) -> None:
    before = copy.deepcopy(current)
    update = patient_update(
        current, PatientChanges(phones=[ContactPoint(value="555-0200", use="home")])
    )
    assert current == before  # the record read is not modified
    assert _apply(current, update.patch) == update.resource
    telecom = update.resource["telecom"]
    assert telecom[0] == {"system": "phone", "value": "555-0200", "use": "home", "rank": 2}
    assert telecom[1:] == current["telecom"][1:]
    assert update.patch == [{"op": "replace", "path": "/telecom/0/value", "value": "555-0200"}]
    assert update.resource["extension"] == current["extension"]


def test_email_change_skips_ended_contact_points_and_adds(current: dict[str, Any]) -> None:
    update = patient_update(current, PatientChanges(emails=[ContactPoint(value="new@example.org")]))
    assert update.resource["telecom"][2] == current["telecom"][2]  # ended: kept as history
    assert update.resource["telecom"][-1] == {"system": "email", "value": "new@example.org"}
    assert _apply(current, update.patch) == update.resource


def test_a_phone_with_a_new_use_is_added(current: dict[str, Any]) -> None:
    update = patient_update(
        current, PatientChanges(phones=[ContactPoint(value="555-0300", use="work")])
    )
    assert update.resource["telecom"][-1] == {"system": "phone", "value": "555-0300", "use": "work"}
    assert len(update.resource["telecom"]) == 5


def test_address_replaces_the_current_one_of_its_use_whole(current: dict[str, Any]) -> None:
    new = Address(
        use="home", line=["9 Oak Ave"], city="Shelbyville", state="IL", postal_code="62565"
    )
    update = patient_update(current, PatientChanges(address=new))
    assert update.resource["address"][0] == current["address"][0]
    assert update.resource["address"][1] == {
        "use": "home",
        "line": ["9 Oak Ave"],
        "city": "Shelbyville",
        "state": "IL",
        "postalCode": "62565",
    }  # no stale district
    assert _apply(current, update.patch) == update.resource


def test_language_becomes_the_preferred_one(current: dict[str, Any]) -> None:
    update = patient_update(current, PatientChanges(language="IG"))
    preferred = [c.get("preferred") for c in update.resource["communication"]]
    assert preferred == [False, True]
    assert len(update.resource["communication"]) == 2
    added = patient_update(current, PatientChanges(language="es-MX")).resource["communication"]
    assert [c.get("preferred") for c in added] == [False, None, True]
    assert added[-1]["language"]["coding"][0]["code"] == "es-MX"


def test_name_parts_change_on_the_official_name_only(current: dict[str, Any]) -> None:
    update = patient_update(current, PatientChanges(family="Okafor-Eze", prefix=["Dr"]))
    assert update.resource["name"][0] == current["name"][0]
    assert update.resource["name"][1] == {
        "use": "official",
        "family": "Okafor-Eze",
        "given": ["Chidi"],
        "prefix": ["Dr"],
    }  # the stale text is gone
    assert _apply(current, update.patch) == update.resource
    record = from_fhir(update.resource, source=SOURCE, expect=Patient)
    assert record.name is not None and record.name.family == "Okafor-Eze"


def test_no_changes_is_an_empty_patch(current: dict[str, Any]) -> None:
    update = patient_update(current, PatientChanges())
    assert update.patch == []
    assert update.resource == current


def test_a_patient_with_no_telecom_or_name_gets_them_added() -> None:
    bare = {"resourceType": "Patient", "id": "p2"}
    changes = PatientChanges(phones=[ContactPoint(value="555-0400")], family="Doe", given=["J"])
    update = patient_update(bare, changes)
    assert sorted(update.patch, key=lambda op: op["path"]) == [
        {
            "op": "add",
            "path": "/name",
            "value": [{"use": "official", "family": "Doe", "given": ["J"]}],
        },
        {"op": "add", "path": "/telecom", "value": [{"system": "phone", "value": "555-0400"}]},
    ]
    assert _apply(bare, update.patch) == update.resource
    R4BPatient.model_validate(update.resource)


PATIENT: dict[str, Any] = {"resourceType": "Patient"}
ONE_PHONE = PatientChanges(phones=[ContactPoint(value="1")])


@pytest.mark.parametrize(
    ("record", "changes", "path"),
    [
        ({"resourceType": "Slot"}, PatientChanges(), "Patient.resourceType"),
        ({**PATIENT, "telecom": {"value": "x"}}, ONE_PHONE, "Patient.telecom"),
        (
            PATIENT,
            PatientChanges(phones=[ContactPoint(value=" ")]),
            "PatientChanges.phones[0].value",
        ),
        (PATIENT, PatientChanges(language="not a tag"), "PatientChanges.language"),
        (
            {**PATIENT, "name": [{"use": "official", "given": ["A"]}]},
            PatientChanges(given=[]),
            "PatientChanges",
        ),
        (
            PATIENT,
            PatientChanges(address=Address(use="house", city="X")),
            "PatientChanges.address.use",
        ),
    ],
)
def test_update_errors_name_the_field(
    record: dict[str, Any], changes: PatientChanges, path: str
) -> None:
    with pytest.raises(OutboundError) as err:
        patient_update(record, changes)
    assert err.value.path == path


# --- insurance ---------------------------------------------------------------------


def _new_coverage(**fields: Any) -> NewCoverage:
    base: dict[str, Any] = {
        "payer_id": "60054",
        "payer_name": "Acme Health",
        "member_id": "W123456789",
        "group_number": "G-77",
        "group_name": "Springfield Schools",
        "plan_name": "Acme Gold PPO",
        "relationship": "self",
        "period_start": date(2026, 1, 1),
        "period_end": date(2026, 12, 31),
        "order": 1,
    }
    base.update(fields)
    return NewCoverage(**base)


def test_coverage_with_a_payer_maps_back_to_what_the_check_needs() -> None:
    resource = build_coverage(_new_coverage(), patient_ref="Patient/p1")
    R4BCoverage.model_validate(resource)
    assert resource["payor"] == [
        {"identifier": {"system": PAYER_ID_SYSTEM, "value": "60054"}, "display": "Acme Health"}
    ]
    assert resource["subscriber"] == {"reference": "Patient/p1"}
    record = from_fhir({**resource, "id": "c1"}, source=SOURCE, expect=Coverage)
    assert (record.payer_id, record.payer_name) == ("60054", "Acme Health")
    assert record.member_id == "W123456789"
    assert record.subscriber_id == "W123456789"
    assert (record.group_number, record.group_name) == ("G-77", "Springfield Schools")
    assert record.plan_name == "Acme Gold PPO"
    assert record.relationship == "self"
    assert (record.period_start, record.period_end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert record.order == 1
    assert record.beneficiary_id == encode_id(SOURCE, "Patient", "p1")
    assert record.self_pay is False
    assert record.warnings == []


def test_coverage_for_a_dependent_names_the_subscriber_and_replaces_by_id() -> None:
    resource = build_coverage(
        _new_coverage(relationship="child", subscriber_id="W1234567", member_id="W123456702"),
        patient_ref="Patient/kid",
        subscriber_ref="RelatedPerson/mum",
        coverage_id="cov-9",
    )
    assert resource["id"] == "cov-9"
    assert resource["subscriber"] == {"reference": "RelatedPerson/mum"}
    assert resource["subscriberId"] == "W1234567"
    assert resource["identifier"][0]["value"] == "W123456702"
    assert resource["relationship"]["coding"][0]["code"] == "child"


def test_self_pay_coverage_has_the_patient_as_payor_and_maps_to_self_pay() -> None:
    resource = build_coverage(NewCoverage(self_pay=True), patient_ref="Patient/p1")
    R4BCoverage.model_validate(resource)
    assert resource["payor"] == [{"reference": "Patient/p1"}]
    assert "identifier" not in resource
    record = from_fhir({**resource, "id": "c2"}, source=SOURCE, expect=Coverage)
    assert record.self_pay is True
    assert record.payer_kind == "patient"
    assert record.paying_party_id == encode_id(SOURCE, "Patient", "p1")


@pytest.mark.parametrize(
    ("fields", "kwargs", "path"),
    [
        ({"payer_id": None}, {}, "NewCoverage.payer_id"),
        ({"member_id": None}, {}, "NewCoverage.member_id"),
        ({"relationship": "cousin"}, {}, "NewCoverage.relationship"),
        ({"group_number": None}, {}, "NewCoverage.group_number"),
        ({"period_end": date(2025, 1, 1)}, {}, "NewCoverage.period_end"),
        ({"order": 0}, {}, "NewCoverage.order"),
        ({"payer_id_system": "not a uri"}, {}, "NewCoverage.payer_id_system"),
        ({}, {"patient_ref": "Practitioner/x"}, "patient_ref"),
        ({}, {"coverage_id": "bad id"}, "coverage_id"),
        ({}, {"subscriber_ref": "Organization/o"}, "subscriber_ref"),
    ],
)
def test_coverage_errors_name_the_field(
    fields: dict[str, Any], kwargs: dict[str, Any], path: str
) -> None:
    args: dict[str, Any] = {"patient_ref": "Patient/p1", **kwargs}
    with pytest.raises(OutboundError) as err:
        build_coverage(_new_coverage(**fields), **args)
    assert err.value.path == path
    assert "W123456789" not in str(err.value)


# --- appointment status moves --------------------------------------------------------


def _appointment(status: str) -> dict[str, Any]:
    resource: dict[str, Any] = json.loads((SPEC / "appointment-example.json").read_text())
    resource["status"] = status
    return resource


@pytest.mark.parametrize("target", CHECK_IN_STATUSES)
def test_check_in_from_booked(target: str) -> None:
    current = _appointment("booked")
    assert status_patch(current, target) == [{"op": "replace", "path": "/status", "value": target}]
    assert status_patch(current, target, test_current=True) == [
        {"op": "test", "path": "/status", "value": "booked"},
        {"op": "replace", "path": "/status", "value": target},
    ]
    updated = with_status(current, target)
    R4BAppointment.model_validate(updated)
    assert updated == {**current, "status": target}
    assert current["status"] == "booked"


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("booked", "noshow"),
        ("arrived", "fulfilled"),
        ("checked-in", "fulfilled"),
        ("pending", "booked"),
    ],
)
def test_allowed_moves(current: str, target: str) -> None:
    assert check_transition(current, target) is True
    assert (
        _apply(_appointment(current), status_patch(_appointment(current), target))["status"]
        == target
    )


def test_a_replayed_move_is_a_no_op() -> None:
    current = _appointment("arrived")
    assert check_transition("arrived", "arrived") is False
    assert status_patch(current, "arrived") == []
    assert with_status(current, "arrived") == current


@pytest.mark.parametrize(
    ("current", "target", "table"),
    [
        ("cancelled", "arrived", APPOINTMENT_TRANSITIONS),
        ("fulfilled", "noshow", APPOINTMENT_TRANSITIONS),
        ("noshow", "arrived", APPOINTMENT_TRANSITIONS),
        ("booked", "fulfilled", APPOINTMENT_TRANSITIONS),
        ("booked", "noshow", ORACLE_HEALTH_TRANSITIONS),
        ("arrived", "fulfilled", ORACLE_HEALTH_TRANSITIONS),
        ("proposed", "arrived", ORACLE_HEALTH_TRANSITIONS),
        ("booked", "Jane Doe", APPOINTMENT_TRANSITIONS),
    ],
)
def test_impossible_moves_are_refused(current: str, target: str, table: Any) -> None:
    with pytest.raises(InvalidTransition) as err:
        status_patch(_appointment(current), target, transitions=table)
    assert err.value.path == "Appointment.status"
    assert err.value.current == current
    assert isinstance(err.value, MappingError)
    assert "Jane" not in str(err.value)


def test_oracle_health_table_is_its_documented_moves() -> None:
    moves = {(a, b) for a, targets in ORACLE_HEALTH_TRANSITIONS.items() for b in targets}
    assert moves == {
        ("proposed", "booked"),
        ("proposed", "cancelled"),
        ("booked", "arrived"),
        ("booked", "checked-in"),
        ("booked", "cancelled"),
        ("checked-in", "fulfilled"),
        ("checked-in", "cancelled"),
    }


def test_every_generic_target_is_an_r4_status_and_terminal_states_only_go_to_error() -> None:
    statuses = set(APPOINTMENT_TRANSITIONS)
    assert all(set(t) <= statuses for t in APPOINTMENT_TRANSITIONS.values())
    for terminal in ("fulfilled", "cancelled", "noshow"):
        assert set(APPOINTMENT_TRANSITIONS[terminal]) == {"entered-in-error"}


@pytest.mark.parametrize(
    ("record", "path"),
    [
        ("x", "Appointment"),
        ({"resourceType": "Slot", "status": "free"}, "Appointment.resourceType"),
        ({"resourceType": "Appointment"}, "Appointment.status"),
    ],
)
def test_status_moves_need_an_appointment(record: Any, path: str) -> None:
    with pytest.raises(OutboundError) as err:
        status_patch(record, "arrived")
    assert err.value.path == path


# --- holds -----------------------------------------------------------------------


EST = timezone(timedelta(hours=-5))


def _slot() -> Slot:
    return Slot(
        id=encode_id(SOURCE, "Slot", "s-42"),
        source=SourceRef(source=SOURCE, resource_type="Slot", id="s-42"),
        schedule_id=encode_id(SOURCE, "Schedule", "sch-1"),
        start=datetime(2026, 12, 7, 9, 0, tzinfo=EST),
        end=datetime(2026, 12, 7, 9, 30, tzinfo=EST),
        status="free",
        service_types=["NEWPT"],
    )


def test_hold_is_a_pending_appointment_for_the_slot() -> None:
    schedule = Schedule(
        id=encode_id(SOURCE, "Schedule", "sch-1"),
        source=SourceRef(source=SOURCE, resource_type="Schedule", id="sch-1"),
        actors=["Practitioner/dr-1"],
    )
    resource = build_hold_appointment(
        slot=_slot(), schedule=schedule, patient_id="p1", hold_key="desk-3:hold-1"
    )
    R4BAppointment.model_validate(resource)
    assert resource["status"] == "pending"
    assert resource["slot"] == [{"reference": "Slot/s-42"}]
    assert [(p["actor"]["reference"], p["status"]) for p in resource["participant"]] == [
        ("Patient/p1", "tentative"),
        ("Practitioner/dr-1", "accepted"),
    ]
    assert resource["identifier"] == [
        {"system": HOLD_IDENTIFIER_SYSTEM, "value": booking_identifier_value("desk-3:hold-1")}
    ]
    # A hold is booked next: the generic table allows it.
    assert status_patch(resource, "booked") == [
        {"op": "replace", "path": "/status", "value": "booked"}
    ]


def test_hold_parameters_by_id_or_resource() -> None:
    by_id = hold_parameters(appointment_id="a-7")
    R4BParameters.model_validate(by_id)
    assert by_id["parameter"] == [{"name": "appt-id", "valueUri": "Appointment/a-7"}]
    proposed = _appointment("proposed")
    by_resource = hold_parameters(appointment=proposed)
    assert by_resource["parameter"][0]["name"] == "appt-resource"
    assert by_resource["parameter"][0]["resource"] == proposed


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({}, "hold_parameters"),
        ({"appointment_id": "a 7"}, "appointment_id"),
        ({"appointment_id": "Slot/1"}, "appointment_id"),
        ({"appointment": {"resourceType": "Slot"}}, "appointment.resourceType"),
        (
            {"appointment_id": "a1", "appointment": {"resourceType": "Appointment"}},
            "hold_parameters",
        ),
    ],
)
def test_hold_parameters_refuse_bad_input(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(OutboundError) as err:
        hold_parameters(**kwargs)
    assert err.value.path == path
