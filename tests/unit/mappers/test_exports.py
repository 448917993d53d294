from __future__ import annotations

import mappers

EXPECTED = {
    "SUPPORTED_TYPES",
    "Account",
    "Address",
    "Appointment",
    "Benefit",
    "CanonicalRecord",
    "Coding",
    "ContactPoint",
    "Coverage",
    "EligibilityError",
    "EligibilityRequest",
    "EligibilityResult",
    "GatewayId",
    "HealthcareService",
    "HumanName",
    "Identifier",
    "InvalidId",
    "Invoice",
    "Location",
    "MappedBundle",
    "MappedSearch",
    "MappingError",
    "NewCoverage",
    "NewPatient",
    "Organization",
    "Participant",
    "Patient",
    "PatientChanges",
    "Person",
    "Practitioner",
    "PractitionerRole",
    "Record",
    "RecordRef",
    "Schedule",
    "Slot",
    "SourceRef",
    "decode_id",
    "display_name",
    "encode_id",
    "from_bundle",
    "from_bundle_pages",
    "from_fhir",
}


def test_all_is_pinned() -> None:
    assert set(mappers.__all__) == EXPECTED
    assert len(mappers.__all__) == len(EXPECTED)


def test_every_export_exists_and_is_public() -> None:
    for name in mappers.__all__:
        assert not name.startswith("_")
        assert getattr(mappers, name) is not None, name


def test_entry_points_are_the_bundle_dispatch() -> None:
    assert mappers.from_fhir.__module__ == "mappers.bundle"
    assert mappers.from_bundle.__module__ == "mappers.bundle"
    assert mappers.from_bundle_pages.__module__ == "mappers.pages"
    assert mappers.display_name.__module__ == "mappers.names"
    assert issubclass(mappers.MappingError, ValueError)


def test_supported_types_are_the_design_types() -> None:
    assert {
        "Patient",
        "Schedule",
        "Slot",
        "Appointment",
        "Coverage",
        "CoverageEligibilityResponse",
        "Practitioner",
        "Organization",
        "Location",
        "PractitionerRole",
        "HealthcareService",
        "Account",
        "Invoice",
    } == mappers.SUPPORTED_TYPES


def test_outbound_all_is_pinned() -> None:
    import mappers.outbound

    assert set(mappers.outbound.__all__) == {
        "APPOINTMENT_TRANSITIONS",
        "BOOKING_IDENTIFIER_SYSTEM",
        "CHECK_IN_STATUSES",
        "COVERAGE_CLASS_SYSTEM",
        "ELIGIBILITY_IDENTIFIER_SYSTEM",
        "HOLD_IDENTIFIER_SYSTEM",
        "NPI_SYSTEM",
        "ORACLE_HEALTH_TRANSITIONS",
        "PAYER_ID_SYSTEM",
        "SELF_PAY_SYSTEM",
        "SERVICE_TYPE_SYSTEM",
        "SUBSCRIBER_RELATIONSHIP_SYSTEM",
        "InvalidTransition",
        "OutboundError",
        "PatientUpdate",
        "booking_identifier_value",
        "booking_if_none_exist",
        "build_booking_appointment",
        "build_cancellation",
        "build_coverage",
        "build_coverage_eligibility_request",
        "build_hold_appointment",
        "build_patient",
        "cancel_patch",
        "check_transition",
        "hold_parameters",
        "identifier_if_none_exist",
        "patient_if_none_exist",
        "patient_update",
        "status_patch",
        "with_status",
    }
    for name in mappers.outbound.__all__:
        assert getattr(mappers.outbound, name) is not None, name
    assert issubclass(mappers.outbound.InvalidTransition, mappers.outbound.OutboundError)
    assert issubclass(mappers.outbound.OutboundError, mappers.MappingError)
