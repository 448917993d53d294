"""The directory: Practitioner, Organization, Location, PractitionerRole and
HealthcareService map leniently, references become gateway ids, names display one way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mappers import (
    Coding,
    HealthcareService,
    HumanName,
    Location,
    MappedBundle,
    Organization,
    Practitioner,
    PractitionerRole,
    display_name,
    encode_id,
    from_bundle,
    from_fhir,
)

SHAPES = Path(__file__).parents[2] / "fixtures" / "fhir" / "vendor-shapes"
SOURCE = "ehr-a"
NUCC = "http://nucc.org/provider-taxonomy"


def gid(rtype: str, rid: str) -> str:
    return encode_id(SOURCE, rtype, rid)


@pytest.fixture(scope="module")
def page() -> MappedBundle:
    return from_bundle(json.loads((SHAPES / "directory-searchset.json").read_text()), source=SOURCE)


def test_roles_are_the_matches_people_and_places_included(page: MappedBundle) -> None:
    assert [type(r) for r in page] == [PractitionerRole, PractitionerRole]
    kinds: list[type[Any]] = [Practitioner, Practitioner, Location, Location]
    assert [type(r) for r in page.included] == kinds
    assert page.total == 2
    assert page.warnings == [
        "Bundle.entry[6] OperationOutcome: information informational: "
        "Some practitioners are not exposed to third-party applications"
    ]


def test_practitioner_role(page: MappedBundle) -> None:
    role = page.get(gid("PractitionerRole", "pr-role-1"), PractitionerRole)
    assert role is not None
    assert role.practitioner_id == gid("Practitioner", "pract-1")
    assert role.practitioner_display == "Ana Rivera, MD"
    assert role.organization_id == gid("Organization", "org-1")
    # Duplicates kept once; a display-only location has no id to keep.
    assert role.location_ids == [gid("Location", "loc-main")]
    assert role.codes == [
        Coding(system=NUCC, code="207Q00000X", display="Family Medicine Physician")
    ]
    # No coding display: the concept's text is the words.
    assert role.specialties == [Coding(system=NUCC, code="207Q00000X", display="Family Medicine")]
    assert [p.value for p in role.phones] == ["555-0141"]
    assert [e.value for e in role.emails] == ["frontdesk@clinic.example.org"]
    assert role.active is True
    assert page.get(role.practitioner_id, Practitioner) is not None


def test_practitioner_with_npi_names_and_qualifications(page: MappedBundle) -> None:
    doc = page.get(gid("Practitioner", "pract-1"), Practitioner)
    assert doc is not None
    assert doc.npi == "1987654328"
    assert doc.name is not None and doc.name.family == "Rivera"
    assert [n.family for n in doc.other_names] == ["Gomez"]
    assert display_name(doc.name) == "Ana Rivera"
    assert display_name(doc.name, with_prefix=True) == "Dr Ana Rivera"
    assert doc.qualifications == [
        Coding(
            system="http://terminology.hl7.org/CodeSystem/v2-0360",
            code="MD",
            display="Doctor of Medicine",
        ),
        Coding(display="Board certified, family medicine"),
    ]
    assert [i.value for i in doc.identifiers] == ["1987654328", "FAM001"]
    assert doc.source.version == "4"
    assert doc.warnings == []


def test_practitioner_with_a_bad_npi_keeps_it_as_an_identifier_only(page: MappedBundle) -> None:
    doc = page.get(gid("Practitioner", "pract-2"), Practitioner)
    assert doc is not None
    assert doc.npi is None
    assert [i.value for i in doc.identifiers] == ["1678901235"]
    assert doc.name is not None and display_name(doc.name) == "Wei Chen"
    assert doc.gender == "unspecified"
    assert doc.warnings == [
        "Practitioner.identifier[0].value: not a valid NPI (ten digits, check digit); not used",
        "Practitioner.gender: code outside the expected value set; kept as given",
    ]
    assert "1678901235" not in " ".join(doc.warnings)


@pytest.mark.parametrize(
    ("identifiers", "npi", "warned"),
    [
        (
            [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
            "1234567893",
            False,
        ),
        ([{"system": "http://hl7.org/fhir/sid/us-npi", "value": "123456789"}], None, True),
        (
            [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893 "}],
            "1234567893",
            False,
        ),
        ([{"system": "urn:other", "value": "1234567893"}], None, False),
        ([{"value": "1234567893"}], None, False),
        ([{"system": "urn:oid:2.16.840.1.113883.4.6", "value": "1234567893"}], None, False),
        (
            [
                {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"},
                {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1987654328"},
            ],
            "1234567893",
            True,
        ),
    ],
)
def test_npi_only_from_its_system_and_valid(
    identifiers: list[dict[str, Any]], npi: str | None, warned: bool
) -> None:
    for rtype in ("Practitioner", "Organization"):
        resource = {"resourceType": rtype, "id": "x1", "name": "N", "identifier": identifiers}
        if rtype == "Practitioner":
            resource["name"] = [{"family": "N"}]
        record = from_fhir(resource, source=SOURCE)
        assert isinstance(record, Practitioner | Organization)
        assert record.npi == npi
        assert any("identifier" in w for w in record.warnings) is warned


def test_location(page: MappedBundle) -> None:
    main = page.get(gid("Location", "loc-main"), Location)
    assert main is not None
    assert main.name == "Main Street Clinic"
    assert main.aliases == ["MSC"]
    assert main.status == "active"
    assert main.address is not None and main.address.city == "Springfield"
    assert [p.value for p in main.phones] == ["555-0140"]  # the fax is not a phone
    assert main.managing_organization_id == gid("Organization", "org-1")
    assert (main.latitude, main.longitude) == (39.7817, -89.6501)
    assert main.part_of_id is None
    assert main.warnings == []


def test_location_drops_impossible_positions(page: MappedBundle) -> None:
    annex = page.get(gid("Location", "loc-annex"), Location)
    assert annex is not None
    assert annex.part_of_id == gid("Location", "loc-main")
    assert annex.status == "suspended"
    assert (annex.latitude, annex.longitude) == (None, None)
    assert annex.warnings == [
        "Location.position.latitude: not a number of degrees in range; dropped",
        "Location.position.longitude: not a number of degrees in range; dropped",
    ]


def test_location_with_only_a_wrong_reference() -> None:
    record = from_fhir(
        {
            "resourceType": "Location",
            "id": "l1",
            "status": "closed",
            "partOf": {"reference": "Organization/o1"},
            "managingOrganization": "Organization/o1",
        },
        source=SOURCE,
    )
    assert isinstance(record, Location)
    assert (record.part_of_id, record.managing_organization_id) == (None, None)
    assert record.status == "closed"
    assert record.warnings == [
        "Location.name: missing",
        "Location.status: code outside the expected value set; kept as given",
        "Location.managingOrganization: not a Reference object",
        "Location.partOf: expected a Location reference, got Organization",
    ]


def test_organization() -> None:
    record = from_fhir(
        {
            "resourceType": "Organization",
            "id": "org-1",
            "active": "yes",
            "name": " Springfield Family Medicine ",
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1543210987"}],
            "telecom": [
                {"system": "phone", "value": "555-0140"},
                {"system": "email", "value": "a@b"},
            ],
            "address": [
                {"use": "old", "line": ["1 Old Road"], "period": {"end": "2020-01-01"}},
                {"use": "work", "line": ["100 Main Street"], "city": "Springfield"},
            ],
        },
        source=SOURCE,
    )
    assert isinstance(record, Organization)
    assert record.name == "Springfield Family Medicine"
    assert record.npi == "1543210987"
    assert record.active is None
    assert [p.value for p in record.phones] == ["555-0140"]
    assert record.address is not None and record.address.line == ["100 Main Street"]
    assert record.warnings == ["Organization.active: not a boolean; dropped"]


def test_healthcare_service() -> None:
    record = from_fhir(
        {
            "resourceType": "HealthcareService",
            "id": "hs-1",
            "active": True,
            "type": [
                {"coding": [{"system": "urn:visit", "code": "NEWPT"}], "text": "New-patient visit"}
            ],
            "specialty": [{"coding": [{"system": NUCC, "code": "207Q00000X"}]}],
            "location": [{"reference": "Location/loc-main"}, {"reference": "Practitioner/p1"}],
            "providedBy": {
                "reference": "Organization/org-1",
                "display": "Springfield Family Medicine",
            },
        },
        source=SOURCE,
    )
    assert isinstance(record, HealthcareService)
    assert record.name is None
    assert record.types == [Coding(system="urn:visit", code="NEWPT", display="New-patient visit")]
    assert record.specialties == [Coding(system=NUCC, code="207Q00000X")]
    assert record.location_ids == [gid("Location", "loc-main")]
    assert record.provided_by_id == gid("Organization", "org-1")
    assert record.warnings == [
        "HealthcareService.location[1]: expected a Location reference, got Practitioner"
    ]


def test_a_nameless_typeless_service_is_kept_with_a_warning() -> None:
    record = from_fhir({"resourceType": "HealthcareService", "id": "hs-2"}, source=SOURCE)
    assert isinstance(record, HealthcareService)
    assert record.warnings == [
        "HealthcareService.name: missing, and no type to name the service by"
    ]


def test_practitioner_role_without_practitioner() -> None:
    record = from_fhir({"resourceType": "PractitionerRole", "id": "r1"}, source=SOURCE)
    assert isinstance(record, PractitionerRole)
    assert record.practitioner_id is None
    assert record.warnings == ["PractitionerRole.practitioner: missing"]


@pytest.mark.parametrize(
    ("name", "plain", "with_prefix"),
    [
        (
            HumanName(family="Rivera", given=["Ana", "Lucia"], prefix=["Dr"]),
            "Ana Lucia Rivera",
            "Dr Ana Lucia Rivera",
        ),
        (HumanName(family="Rivera", prefix=["Dr"]), "Rivera", "Dr Rivera"),
        (HumanName(given=["Cher"]), "Cher", "Cher"),
        (HumanName(text="Ana Rivera, MD"), "Ana Rivera, MD", "Ana Rivera, MD"),
        (HumanName(text="ignored", family="Rivera"), "Rivera", "Rivera"),
        (HumanName(suffix=["Jr"], family="King", given=["Martin"]), "Martin King", "Martin King"),
        (HumanName(), "", ""),
    ],
)
def test_display_name(name: HumanName, plain: str, with_prefix: str) -> None:
    assert display_name(name) == plain
    assert display_name(name, with_prefix=True) == with_prefix
