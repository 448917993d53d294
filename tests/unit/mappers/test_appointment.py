from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mappers import Appointment, MappingError, encode_id, from_fhir

SOURCE = "ehr-a"


def _appt(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Appointment", "id": "a1", "status": "booked", **fields}


def _map(resource: dict[str, Any]) -> Appointment:
    record = from_fhir(resource, source=SOURCE)
    assert isinstance(record, Appointment)
    return record


def _gid(rtype: str, rid: str) -> str:
    return encode_id(SOURCE, rtype, rid)


def test_maps_participants_and_their_ids() -> None:
    appt = _map(
        _appt(
            start="2025-03-03T14:00:00Z",
            end="2025-03-03T14:30:00Z",
            minutesDuration=30,
            participant=[
                {
                    "actor": {"reference": "Patient/p1", "display": "Jane"},
                    "status": "accepted",
                    "required": "required",
                },
                {"actor": {"reference": "Practitioner/pr1"}, "status": "accepted"},
                {"actor": {"reference": "PractitionerRole/role1"}, "status": "tentative"},
                {"actor": {"reference": "Location/loc1"}, "status": "accepted"},
                {"actor": {"reference": "Device/dev1"}, "status": "accepted"},
            ],
            slot=[{"reference": "Slot/s1"}],
            serviceType=[{"coding": [{"code": "124"}]}],
            appointmentType={"coding": [{"code": "FOLLOWUP"}]},
            reasonCode=[{"text": "Check-up"}, {"coding": [{"code": "123", "display": "Cough"}]}],
            description="Follow-up",
            comment="Arrive early",
            created="2025-02-01T10:00:00Z",
            identifier=[{"system": "urn:booking", "value": "bk-1"}],
        )
    )
    assert appt.status == "booked"
    assert appt.start == datetime(2025, 3, 3, 14, tzinfo=UTC)
    assert appt.end == datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
    assert appt.minutes_duration == 30
    assert appt.patient_id == _gid("Patient", "p1")
    assert appt.practitioner_ids == [_gid("Practitioner", "pr1"), _gid("PractitionerRole", "role1")]
    assert appt.location_ids == [_gid("Location", "loc1")]
    assert [p.kind for p in appt.participants] == [
        "patient",
        "practitioner",
        "practitioner",
        "location",
        "device",
    ]
    assert appt.participants[0].display == "Jane"
    assert appt.participants[0].required == "required"
    assert appt.participants[2].status == "tentative"
    assert appt.slot_ids == [_gid("Slot", "s1")]
    assert appt.service_types == ["124"]
    assert appt.appointment_type == "FOLLOWUP"
    assert appt.reason == ["Check-up", "Cough"]
    assert (appt.description, appt.comment) == ("Follow-up", "Arrive early")
    assert appt.created == datetime(2025, 2, 1, 10, tzinfo=UTC)
    assert [(i.system, i.value) for i in appt.identifiers] == [("urn:booking", "bk-1")]
    assert appt.warnings == []


def test_display_only_participants_are_kept_without_ref() -> None:
    appt = _map(
        _appt(
            participant=[
                {"actor": {"display": "Phone call"}, "status": "accepted"},
                {"actor": {"display": "Dr Who", "type": "Practitioner"}, "status": "accepted"},
            ]
        )
    )
    assert [(p.kind, p.ref, p.display) for p in appt.participants] == [
        ("other", None, "Phone call"),
        ("practitioner", None, "Dr Who"),
    ]
    assert appt.patient_id is None
    assert appt.practitioner_ids == []
    assert appt.warnings == []


def test_contained_actor_kind_comes_from_the_contained_resource() -> None:
    appt = _map(
        _appt(
            contained=[{"resourceType": "Patient", "id": "pt"}],
            participant=[{"actor": {"reference": "#pt", "display": "Walk-in"}}],
        )
    )
    assert appt.participants[0].kind == "patient"
    assert appt.participants[0].ref is None
    assert appt.patient_id is None


def test_absolute_and_versioned_references_resolve() -> None:
    appt = _map(
        _appt(
            participant=[
                {"actor": {"reference": "https://ehr.example.org/fhir/Patient/p9/_history/2"}}
            ],
            slot=[{"reference": "Slot/s1/_history/7"}],
        )
    )
    assert appt.patient_id == _gid("Patient", "p9")
    assert appt.slot_ids == [_gid("Slot", "s1")]


def test_participant_without_actor_is_an_unfilled_role() -> None:
    appt = _map(_appt(participant=[{"type": [{"coding": [{"code": "ATND"}]}]}]))
    assert appt.participants == []


@pytest.mark.parametrize("status", [None, 5])
def test_appointment_without_status_is_a_mapping_error(status: object) -> None:
    resource = _appt(status=status)
    if status is None:
        del resource["status"]
    with pytest.raises(MappingError) as err:
        from_fhir(resource, source=SOURCE)
    assert err.value.path == "Appointment.status"


def test_unknown_statuses_are_kept_with_warnings() -> None:
    appt = _map(
        _appt(status="scheduled", participant=[{"actor": {"display": "X"}, "status": "maybe"}])
    )
    assert appt.status == "scheduled"
    assert appt.participants[0].status == "maybe"
    assert appt.warnings == [
        "Appointment.status: code outside the expected value set; kept as given",
        "Appointment.participant[0].status: code outside the expected value set; kept as given",
    ]


def test_times_without_offset_and_date_only_created_are_warnings() -> None:
    appt = _map(_appt(start="2025-03-03T09:00:00", created="2025-02-01", minutesDuration=-5))
    assert appt.start is None
    assert appt.created is None
    assert appt.minutes_duration is None
    assert appt.warnings == [
        "Appointment.start: no UTC offset; the time is ambiguous and was dropped",
        "Appointment.minutesDuration: not a positive integer; dropped",
        "Appointment.created: a date without a time; dropped",
    ]


def test_cancellation_reason_is_read() -> None:
    appt = _map(
        _appt(
            status="cancelled",
            cancelationReason={"coding": [{"code": "pat", "display": "Patient"}]},
        )
    )
    assert appt.cancellation_reason == "Patient"


def test_slot_reference_of_the_wrong_type_is_dropped_with_a_warning() -> None:
    appt = _map(_appt(slot=[{"reference": "Schedule/x"}, {"reference": "Slot/ok"}]))
    assert appt.slot_ids == [_gid("Slot", "ok")]
    assert appt.warnings == ["Appointment.slot[0]: expected a Slot reference, got Schedule"]
