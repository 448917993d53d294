from __future__ import annotations

import mappers

EXPECTED = {
    "SUPPORTED_TYPES",
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
    "Location",
    "MappedBundle",
    "MappedSearch",
    "MappingError",
    "Organization",
    "Participant",
    "Patient",
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
    } == mappers.SUPPORTED_TYPES
