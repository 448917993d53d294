"""Outbound builders: valid R4B resources with the booking rules, clear errors otherwise."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment as R4BAppointment
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest

from mappers import MappingError, encode_id
from mappers.model import Coding, EligibilityRequest, Person, Schedule, Slot, SourceRef
from mappers.outbound import (
    OutboundError,
    booking_identifier_value,
    booking_if_none_exist,
    build_booking_appointment,
    build_cancellation,
    build_coverage_eligibility_request,
    cancel_patch,
)

SPEC = Path(__file__).resolve().parents[2] / "fixtures" / "fhir" / "public" / "hl7-r4-spec"
EST = timezone(timedelta(hours=-5))
VALID_NPI = "1234567893"


def _slot(**fields: Any) -> Slot:
    base: dict[str, Any] = {
        "id": encode_id("ehr-a", "Slot", "s-42"),
        "source": SourceRef(source="ehr-a", resource_type="Slot", id="s-42"),
        "schedule_id": encode_id("ehr-a", "Schedule", "sch-1"),
        "start": datetime(2025, 6, 2, 9, 0, tzinfo=EST),
        "end": datetime(2025, 6, 2, 9, 20, tzinfo=EST),
        "status": "free",
        "service_types": ["57"],
    }
    base.update(fields)
    return Slot(**base)


def _schedule(actors: list[str]) -> Schedule:
    return Schedule(
        id=encode_id("ehr-a", "Schedule", "sch-1"),
        source=SourceRef(source="ehr-a", resource_type="Schedule", id="sch-1"),
        actors=actors,
    )


def _book(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "slot": _slot(),
        "schedule": _schedule(["Practitioner/dr-1", "Location/loc-1"]),
        "patient_id": "pat-9",
        "idempotency_key": "client-a:7d0c6a",
    }
    args.update(overrides)
    return build_booking_appointment(**args)


# --- booking ------------------------------------------------------------------------


def test_booking_is_a_valid_booked_appointment_for_one_slot() -> None:
    appt = _book(
        reason="Follow-up",
        comment="Bring glasses",
        created=datetime(2025, 6, 1, tzinfo=UTC),
    )
    R4BAppointment.model_validate(appt)
    assert appt["status"] == "booked"
    assert appt["slot"] == [{"reference": "Slot/s-42"}]
    assert appt["start"] == "2025-06-02T09:00:00-05:00"
    assert appt["end"] == "2025-06-02T09:20:00-05:00"
    assert appt["created"] == "2025-06-01T00:00:00Z"
    assert appt["serviceType"] == [{"coding": [{"code": "57"}]}]
    assert appt["reasonCode"] == [{"text": "Follow-up"}]
    assert appt["comment"] == "Bring glasses"


def test_booking_participants_patient_accepted_and_schedule_actors() -> None:
    appt = _book()
    actors = [(p["actor"]["reference"], p["status"], p["required"]) for p in appt["participant"]]
    assert actors == [
        ("Patient/pat-9", "accepted", "required"),
        ("Practitioner/dr-1", "accepted", "required"),
        ("Location/loc-1", "accepted", "required"),
    ]


def test_booking_overrides_replace_schedule_actors_of_their_kind() -> None:
    appt = _book(location_refs=["Location/loc-7"])
    refs = [p["actor"]["reference"] for p in appt["participant"]]
    assert refs == ["Patient/pat-9", "Practitioner/dr-1", "Location/loc-7"]


def test_booking_identifier_is_the_hash_of_the_key_not_the_key() -> None:
    appt = _book(identifier_system="urn:example:bookings")
    (identifier,) = appt["identifier"]
    assert identifier == {
        "system": "urn:example:bookings",
        "value": hashlib.sha256(b"client-a:7d0c6a").hexdigest(),
    }
    assert "7d0c6a" not in json.dumps(appt)
    assert booking_identifier_value("client-a:7d0c6a") == identifier["value"]


def test_booking_service_type_override_with_system() -> None:
    appt = _book(
        service_type="98", service_type_system="http://terminology.hl7.org/CodeSystem/service-type"
    )
    assert appt["serviceType"] == [
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "98"}]}
    ]


def test_booking_keeps_the_systems_the_slot_gave_its_codes() -> None:
    service = "http://terminology.hl7.org/CodeSystem/service-type"
    kinds = "http://terminology.hl7.org/CodeSystem/v2-0276"
    slot = _slot(
        service_types=["57", "124"],
        service_type_codings=[Coding(system=service, code="57"), Coding(code="124")],
        appointment_type="ROUTINE",
        appointment_type_coding=Coding(system=kinds, code="ROUTINE", display="Routine"),
    )
    appt = _book(slot=slot)
    assert appt["serviceType"] == [
        {"coding": [{"system": service, "code": "57"}]},
        {"coding": [{"code": "124"}]},  # the Slot had no system for it: none invented
    ]
    assert appt["appointmentType"] == {"coding": [{"system": kinds, "code": "ROUTINE"}]}


def test_slot_without_end_needs_minutes_duration() -> None:
    with pytest.raises(OutboundError) as info:
        _book(slot=_slot(end=None))
    assert info.value.path == "Slot.end"
    appt = _book(slot=_slot(end=None), minutes_duration=30)
    assert appt["end"] == "2025-06-02T09:30:00-05:00"


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "   "}, "idempotency_key"),
        ({"patient_id": "not an id!"}, "patient_id"),
        ({"created": datetime(2025, 6, 1, 12, 0)}, "created"),
        ({"slot": _slot(end=datetime(2025, 6, 2, 8, 0, tzinfo=EST))}, "Slot.end"),
        ({"schedule": _schedule(["garbage"])}, "Schedule.actors[0]"),
        ({"practitioner_refs": ["Patient/p"]}, "practitioner_refs[0]"),
        ({"identifier_system": "has space"}, "identifier_system"),
        ({"reason": "  "}, "reason"),
        (
            {"slot": _slot(source=SourceRef(source="ehr-a", resource_type="Schedule", id="x"))},
            "Slot.source.resource_type",
        ),
    ],
)
def test_booking_bad_inputs_raise_outbound_errors_naming_the_field(
    overrides: dict[str, Any], path: str
) -> None:
    with pytest.raises(OutboundError) as info:
        _book(**overrides)
    assert info.value.path == path
    assert isinstance(info.value, MappingError)


def test_booking_accepts_a_patient_reference_form() -> None:
    appt = _book(patient_id="Patient/pat-9")
    assert appt["participant"][0]["actor"]["reference"] == "Patient/pat-9"


def test_if_none_exist_query() -> None:
    assert (
        booking_if_none_exist("urn:frontdesk:booking", "abc123")
        == "identifier=urn:frontdesk:booking|abc123"
    )
    assert (
        booking_if_none_exist("http://x.org/id", "a&b c") == "identifier=http://x.org/id|a%26b%20c"
    )
    with pytest.raises(OutboundError):
        booking_if_none_exist("urn:frontdesk:booking", "")


# --- cancel -----------------------------------------------------------------------------


def test_cancellation_keeps_everything_else() -> None:
    original = json.loads((SPEC / "appointment-example.json").read_text(encoding="utf-8"))
    cancelled = build_cancellation(original, "Patient called to cancel")
    R4BAppointment.model_validate(cancelled)
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelationReason"] == {"text": "Patient called to cancel"}
    rest = {k: v for k, v in cancelled.items() if k not in {"status", "cancelationReason"}}
    assert rest == {k: v for k, v in original.items() if k not in {"status", "cancelationReason"}}
    assert original["status"] == "booked"  # the input is not modified


def test_cancellation_of_an_invalid_upstream_record_names_the_field() -> None:
    with pytest.raises(OutboundError) as info:
        build_cancellation(
            {
                "resourceType": "Appointment",
                "status": "booked",
                "start": "2025-06-02T09:00",  # no seconds, no offset: not an instant
                "participant": [{"actor": {"reference": "Patient/p"}, "status": "accepted"}],
            },
            "x",
        )
    assert info.value.path == "Appointment.start"
    with pytest.raises(OutboundError):
        build_cancellation({"resourceType": "Slot"}, "x")
    with pytest.raises(OutboundError):
        build_cancellation({"resourceType": "Appointment", "status": "booked"}, "")


def test_cancel_patch_ops() -> None:
    assert cancel_patch("No longer needed") == [
        {"op": "replace", "path": "/status", "value": "cancelled"},
        {"op": "add", "path": "/cancelationReason", "value": {"text": "No longer needed"}},
    ]


# --- CoverageEligibilityRequest ------------------------------------------------------------


def _request(**fields: Any) -> EligibilityRequest:
    base: dict[str, Any] = {
        "payer_id": "60054",
        "payer_name": "Acme Health",
        "provider_npi": VALID_NPI,
        "subscriber": Person(member_id="W123456789"),
        "service_types": ["30", "98"],
        "date_of_service": date(2025, 6, 2),
        "trace_number": "T-000123",
    }
    base.update(fields)
    return EligibilityRequest(**base)


def _cer(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "patient_ref": "Patient/pat-9",
        "coverage_ref": "Coverage/cov-1",
        "created": datetime(2025, 6, 1, 8, 30, tzinfo=UTC),
    }
    request = overrides.pop("request", None) or _request()
    args.update(overrides)
    return build_coverage_eligibility_request(request, **args)


def test_eligibility_request_is_valid_r4b_with_the_required_fields() -> None:
    cer = _cer()
    CoverageEligibilityRequest.model_validate(cer)
    assert cer["status"] == "active"
    assert cer["purpose"] == ["validation", "benefits"]
    assert cer["patient"] == {"reference": "Patient/pat-9"}
    assert cer["servicedDate"] == "2025-06-02"
    assert cer["created"] == "2025-06-01T08:30:00Z"
    assert cer["identifier"] == [{"system": "urn:frontdesk:eligibility-trace", "value": "T-000123"}]
    assert cer["insurance"] == [{"focal": True, "coverage": {"reference": "Coverage/cov-1"}}]
    assert cer["provider"] == {
        "identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": VALID_NPI}
    }
    assert cer["insurer"] == {
        "identifier": {"system": "urn:frontdesk:payer-id", "value": "60054"},
        "display": "Acme Health",
    }
    assert [i["category"]["coding"][0] for i in cer["item"]] == [
        {"system": "https://x12.org/codes/service-type-codes", "code": "30"},
        {"system": "https://x12.org/codes/service-type-codes", "code": "98"},
    ]


def test_eligibility_request_with_insurer_reference_and_no_coverage() -> None:
    cer = _cer(coverage_ref=None, insurer_ref="Organization/acme", purpose=["benefits"])
    assert "insurance" not in cer
    assert cer["insurer"] == {"reference": "Organization/acme", "display": "Acme Health"}
    assert cer["purpose"] == ["benefits"]


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"created": datetime(2025, 6, 1, 8, 30)}, "created"),
        ({"request": _request(provider_npi="1234567890")}, "EligibilityRequest.provider_npi"),
        ({"request": _request(trace_number=" ")}, "EligibilityRequest.trace_number"),
        ({"patient_ref": "pat-9"}, "patient_ref"),
        ({"coverage_ref": "Patient/pat-9"}, "coverage_ref"),
        ({"purpose": ["eligibility"]}, "purpose"),
        ({"purpose": []}, "purpose"),
        ({"request": _request(service_types=[""])}, "item[0].category"),
    ],
)
def test_eligibility_request_bad_inputs(overrides: dict[str, Any], path: str) -> None:
    with pytest.raises(OutboundError) as info:
        _cer(**overrides)
    assert info.value.path == path


def test_error_messages_carry_no_values() -> None:
    with pytest.raises(OutboundError) as info:
        _book(patient_id="Smith, John 1970-01-01")
    assert "Smith" not in str(info.value)
