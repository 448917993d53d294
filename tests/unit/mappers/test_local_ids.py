"""Resources without a server id: local ids from fullUrl or content, and references
between Bundle entries resolved by fullUrl (FHIR R4 Bundle, "Resolving references in
Bundles")."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappers import (
    Appointment,
    Coverage,
    HealthcareService,
    Location,
    MappingError,
    Organization,
    Patient,
    Practitioner,
    PractitionerRole,
    Schedule,
    Slot,
    decode_id,
    encode_id,
    from_bundle,
    from_fhir,
)
from mappers.local_ids import content_id, full_url_id

SHAPES = Path(__file__).parents[2] / "fixtures" / "fhir" / "vendor-shapes"
SOURCE = "ehr-a"
FHIR_ID = re.compile(r"[A-Za-z0-9.\-]{1,64}")
UUID = "6f1c2a3e-8d4b-4c61-9e2f-0a5b7c9d1e0"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SHAPES / name).read_text())
    return data


@pytest.mark.parametrize(
    ("full_url", "rtype", "expected"),
    [
        (
            "urn:uuid:0A1B2C3D-0000-4000-8000-00000000000F",
            "Slot",
            "0a1b2c3d-0000-4000-8000-00000000000f",
        ),
        ("urn:oid:1.2.840.114350.1.13", "Patient", "1.2.840.114350.1.13"),
        ("https://ehr.example.org/fhir/Slot/s-1", "Slot", "s-1"),
        ("https://ehr.example.org/fhir/Slot/s-1/_history/4", "Slot", "s-1"),
        ("https://ehr.example.org/fhir/Slot/s-1?x=1", "Slot", "s-1"),
    ],
)
def test_full_url_rules(full_url: str, rtype: str, expected: str) -> None:
    assert full_url_id(full_url, rtype) == expected


@pytest.mark.parametrize(
    "full_url",
    [
        "https://ehr.example.org/fhir/Schedule/s-1",  # RESTful, but of another type
        "https://ehr.example.org/fhir/Slot/has space",
        "urn:uuid:not-a-uuid",
        "urn:oid:" + ".1" * 40,  # an OID longer than a FHIR id
        "mailto:desk@example.org",
    ],
)
def test_other_full_urls_are_hashed(full_url: str) -> None:
    local = full_url_id(full_url, "Slot")
    assert re.fullmatch(r"u-[0-9a-f]{40}", local)
    assert full_url_id(full_url, "Slot") == local
    assert full_url_id(full_url + "x", "Slot") != local


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["Slot", "Patient", "Schedule"]))
def test_any_full_url_gives_a_valid_fhir_id(full_url: str, rtype: str) -> None:
    local = full_url_id(full_url, rtype)
    assert FHIR_ID.fullmatch(local)
    encode_id(SOURCE, rtype, local)  # and a valid gateway id


def test_content_id_follows_content_not_key_order() -> None:
    body = _load("patient-create-body.json")
    reordered = dict(reversed(list(body.items())))
    assert content_id(body) == content_id(reordered)
    changed = copy.deepcopy(body)
    changed["name"][0]["given"] = ["Maya"]
    assert content_id(changed) != content_id(body)
    assert re.fullmatch(r"c-[0-9a-f]{40}", content_id(body) or "")


def test_create_body_without_id_maps_with_a_stable_content_id() -> None:
    body = _load("patient-create-body.json")
    first = from_fhir(body, source=SOURCE, expect=Patient)
    again = from_fhir(json.loads(json.dumps(body)), source=SOURCE, expect=Patient)
    assert first == again
    assert first.source.id_origin == "content"
    assert first.source.id == content_id(body)
    assert decode_id(first.id) == (SOURCE, "Patient", first.source.id)
    assert first.name is not None and first.name.family == "Lindqvist"
    assert first.language == "sv"
    assert first.warnings == []


def test_a_resource_with_its_own_id_keeps_it() -> None:
    record = from_fhir({"resourceType": "Patient", "id": "p1"}, source=SOURCE, expect=Patient)
    assert record.source.id == "p1"
    assert record.source.id_origin == "resource"


def test_content_that_is_not_json_data_is_a_mapping_error() -> None:
    # Keys of mixed types can't be put in a canonical order: no stable id, so no record.
    with pytest.raises(MappingError) as err:
        from_fhir({"resourceType": "Patient", 1: "x"}, source=SOURCE)  # type: ignore[dict-item]
    assert err.value.path == "Patient.id"
    assert "stable local id" in err.value.reason


@pytest.fixture(scope="module")
def transaction() -> dict[str, Any]:
    return _load("transaction-new-clinic-day.json")


def _one(page: list[Any], kind: type[Any]) -> Any:
    found = [r for r in page if isinstance(r, kind)]
    assert len(found) == 1, kind
    return found[0]


def test_transaction_entries_map_with_ids_from_full_urls(transaction: dict[str, Any]) -> None:
    page = from_bundle(transaction, source=SOURCE)
    assert len(page) == 10
    assert page.warnings == []
    assert all(r.warnings == [] for r in page)
    for i, kind in enumerate(
        [Practitioner, Location, Schedule, Slot, Patient, Appointment, Organization, Coverage]
    ):
        record = _one(page, kind)
        assert record.source.id == f"{UUID}{i + 1}"  # the UUID, lower-cased
        assert record.source.id_origin == "full_url"
    role = _one(page, PractitionerRole)
    assert (role.source.id, role.source.id_origin) == ("role-7", "full_url")
    service = _one(page, HealthcareService)
    assert (service.source.id, service.source.id_origin) == ("hs-new-patient", "resource")


def test_references_between_entries_resolve_by_full_url(transaction: dict[str, Any]) -> None:
    page = from_bundle(transaction, source=SOURCE)
    doctor, place = _one(page, Practitioner), _one(page, Location)
    schedule, slot = _one(page, Schedule), _one(page, Slot)
    patient, appointment = _one(page, Patient), _one(page, Appointment)
    org, coverage = _one(page, Organization), _one(page, Coverage)
    role, service = _one(page, PractitionerRole), _one(page, HealthcareService)

    assert slot.schedule_id == schedule.id
    assert [a.id for a in schedule.actor_refs] == [doctor.id, place.id]
    assert schedule.actors == [f"Practitioner/{UUID}1", f"Location/{UUID}2"]
    assert appointment.patient_id == patient.id
    assert appointment.practitioner_ids == [doctor.id]
    assert appointment.location_ids == [place.id]
    assert appointment.slot_ids == [slot.id]
    assert coverage.beneficiary_id == patient.id
    assert place.managing_organization_id == org.id
    assert role.practitioner_id == doctor.id
    assert role.organization_id == org.id
    assert role.location_ids == [place.id]
    # A version-specific absolute URL matches the entry's fullUrl without its /_history/v.
    assert role.healthcare_service_ids == [service.id]
    assert service.location_ids == [place.id]
    assert service.provided_by_id == org.id


def test_the_same_bundle_maps_to_the_same_ids(transaction: dict[str, Any]) -> None:
    first = from_bundle(transaction, source=SOURCE)
    second = from_bundle(json.loads(json.dumps(transaction)), source=SOURCE)
    assert list(first) == list(second)


def test_an_unresolved_urn_is_a_warning_not_a_guess() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:11111111-2222-4333-8444-555555555555",
                "resource": {
                    "resourceType": "Slot",
                    "schedule": {"reference": "urn:uuid:99999999-2222-4333-8444-555555555555"},
                    "status": "free",
                    "start": "2026-12-07T09:00:00Z",
                    "end": "2026-12-07T09:30:00Z",
                },
            }
        ],
    }
    [slot] = from_bundle(bundle, source=SOURCE)
    assert isinstance(slot, Slot)
    assert slot.schedule_id is None
    assert slot.warnings == ["Slot.schedule: reference not resolvable"]


def test_an_absolute_reference_matches_a_non_restful_full_url() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "https://registry.example.org/schedules/abc",
                "resource": {
                    "resourceType": "Schedule",
                    "id": "sch-9",
                    "actor": [{"display": "X"}],
                },
            },
            {
                "fullUrl": "https://registry.example.org/schedules/abc-duplicate",
                "resource": {"resourceType": "Schedule", "id": "sch-10"},
            },
            {
                "fullUrl": "https://registry.example.org/slots/1",
                "resource": {
                    "resourceType": "Slot",
                    "id": "slot-1",
                    "schedule": {"reference": "https://registry.example.org/schedules/abc"},
                    "status": "free",
                    "start": "2026-12-07T09:00:00Z",
                },
            },
        ],
    }
    page = from_bundle(bundle, source=SOURCE)
    slot = page.get(encode_id(SOURCE, "Slot", "slot-1"), Slot)
    assert slot is not None
    assert slot.schedule_id == encode_id(SOURCE, "Schedule", "sch-9")
    assert page.get(slot.schedule_id, Schedule) is not None
    assert page.get(slot.schedule_id, Slot) is None


def test_first_entry_wins_when_full_urls_repeat() -> None:
    url = "urn:uuid:11111111-2222-4333-8444-555555555555"
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"fullUrl": url, "resource": {"resourceType": "Patient", "id": "first"}},
            {"fullUrl": url, "resource": {"resourceType": "Patient", "id": "second"}},
            {
                "resource": {
                    "resourceType": "Coverage",
                    "id": "c1",
                    "status": "active",
                    "beneficiary": {"reference": url},
                    "payor": [{"display": "Acme"}],
                }
            },
        ],
    }
    coverage = next(r for r in from_bundle(bundle, source=SOURCE) if isinstance(r, Coverage))
    assert coverage.beneficiary_id == encode_id(SOURCE, "Patient", "first")


def test_an_entry_without_id_or_full_url_gets_a_content_id() -> None:
    resource = {"resourceType": "Patient", "name": [{"family": "Okafor"}]}
    [record] = from_bundle(
        {"resourceType": "Bundle", "entry": [{"resource": resource}]}, source=SOURCE
    )
    assert isinstance(record, Patient)
    assert record.source.id == content_id(resource)
    assert record.source.id_origin == "content"
