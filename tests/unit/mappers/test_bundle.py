from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mappers import (
    SUPPORTED_TYPES,
    EligibilityResult,
    MappedBundle,
    MappingError,
    Patient,
    Practitioner,
    Schedule,
    Slot,
    decode_id,
    from_bundle,
    from_fhir,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "fhir"
SOURCE = "ehr-a"


@pytest.fixture(scope="module")
def page() -> MappedBundle:
    raw = json.loads((FIXTURES / "handwritten" / "bundle-searchset-include.json").read_text())
    return from_bundle(raw, source=SOURCE)


def test_matches_and_includes_are_kept_apart(page: MappedBundle) -> None:
    assert isinstance(page, list)
    assert [type(r) for r in page] == [Slot, Slot]
    assert [decode_id(r.id).id for r in page if isinstance(r, Slot)] == ["s1", "s3"]
    kinds: list[type[Any]] = [Schedule, Practitioner]
    assert [type(r) for r in page.included] == kinds
    schedule, slot, doctor = page.included[0], page[0], page.included[1]
    assert isinstance(schedule, Schedule)
    assert isinstance(slot, Slot)
    assert isinstance(doctor, Practitioner)
    assert schedule.id == slot.schedule_id
    assert schedule.actor_refs[0].id == doctor.id
    assert schedule.actor_refs[0].display == "Dr Example"


def test_by_id_indexes_matches_and_includes(page: MappedBundle) -> None:
    index = page.by_id()
    assert set(index) == {
        r.id for r in [*page, *page.included] if not isinstance(r, EligibilityResult)
    }
    for slot in page:
        assert isinstance(slot, Slot)
        assert index[slot.id] is slot
        assert slot.schedule_id is not None
        assert index[slot.schedule_id] is page.get(slot.schedule_id, Schedule)


def test_paging_and_total(page: MappedBundle) -> None:
    assert page.total == 42
    assert page.next_link == "https://ehr.example.org/fhir?_getpages=abc&_getpagesoffset=3"


def test_warnings_name_the_entry_and_operation_outcome(page: MappedBundle) -> None:
    assert page.warnings == [
        "Bundle.entry[1].resource.start: no UTC offset; the time is ambiguous and was dropped;"
        " skipped",
        "Bundle.entry[4] OperationOutcome: warning processing: Some slots were filtered by policy",
        "Bundle.entry[4] OperationOutcome: information informational: Paging is cursor-based",
        "Bundle.entry[6].resource.resourceType: unsupported type Device; skipped",
    ]


def test_one_bad_entry_does_not_lose_the_page() -> None:
    good = {"resourceType": "Patient", "id": "p1"}
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Slot", "id": "s1", "status": "free"}},
            "junk",
            {"resource": good},
            {"fullUrl": "urn:uuid:1"},
            {"resource": {"id": "x"}},
            {"resource": {"resourceType": "Patient", "id": 7}},
        ],
    }
    page = from_bundle(bundle, source=SOURCE)
    assert [type(r) for r in page] == [Patient]
    assert page.warnings == [
        "Bundle.entry[0].resource.start: missing; skipped",
        "Bundle.entry[1]: not an object; skipped",
        "Bundle.entry[3].resource: missing or not an object; skipped",
        "Bundle.entry[4].resource.resourceType: missing; skipped",
        "Bundle.entry[5].resource.id: not a string; skipped",
    ]
    assert page.total is None
    assert page.next_link is None


def test_empty_bundle() -> None:
    page = from_bundle({"resourceType": "Bundle", "type": "searchset", "total": 0}, source=SOURCE)
    assert page == []
    assert page.included == []
    assert page.warnings == []
    assert page.total == 0


@pytest.mark.parametrize(
    ("bundle", "path"),
    [
        ([], "Bundle"),
        ("Bundle", "Bundle"),
        ({"resourceType": "Patient", "id": "p1"}, "Bundle.resourceType"),
        ({"entry": []}, "Bundle.resourceType"),
    ],
)
def test_non_bundle_is_a_mapping_error(bundle: Any, path: str) -> None:
    with pytest.raises(MappingError) as err:
        from_bundle(bundle, source=SOURCE)
    assert err.value.path == path


@pytest.mark.parametrize(
    ("resource", "path"),
    [
        ([], "resource"),
        (None, "resource"),
        ({}, "resourceType"),
        ({"resourceType": "Device", "id": "x"}, "resourceType"),
        ({"resourceType": ["Patient"], "id": "x"}, "resourceType"),
    ],
)
def test_from_fhir_rejects_unusable_input(resource: Any, path: str) -> None:
    with pytest.raises(MappingError) as err:
        from_fhir(resource, source=SOURCE)
    assert err.value.path == path


def test_invalid_source_name_is_a_mapping_error() -> None:
    with pytest.raises(MappingError) as err:
        from_fhir({"resourceType": "Patient", "id": "p1"}, source="Not A Slug!")
    assert err.value.path == "Patient.id"


def test_coverage_eligibility_response_is_routed_to_its_mapper() -> None:
    sample = FIXTURES / "public" / "hl7-r4-spec" / "coverageeligibilityresponse-example.json"
    record = from_fhir(json.loads(sample.read_text()), source=SOURCE)
    assert isinstance(record, EligibilityResult)
    assert record.origin == "fhir"


def _public_samples() -> list[Path]:
    return sorted((FIXTURES / "public").rglob("*.json"))


def _mappable_samples() -> list[Path]:
    """Public samples the inbound mappers take (a CoverageEligibilityRequest is outbound only)."""
    out = []
    for path in _public_samples():
        rtype = json.loads(path.read_text()).get("resourceType")
        if rtype == "Bundle" or rtype in SUPPORTED_TYPES:
            out.append(path)
    return out


def _ours(resource: dict[str, Any]) -> bool:
    return resource.get("resourceType") in SUPPORTED_TYPES


@pytest.mark.parametrize("path", _mappable_samples(), ids=lambda p: p.name)
def test_every_public_sample_of_our_types_maps(path: Path) -> None:
    resource = json.loads(path.read_text())
    if resource.get("resourceType") == "Bundle":
        page = from_bundle(resource, source=SOURCE)
        expected = [e for e in resource.get("entry", []) if _ours(e.get("resource", {}))]
        assert len(page) + len(page.included) == len(expected)
        assert not any("skipped" in w and "unsupported" not in w for w in page.warnings)
        return
    record = from_fhir(resource, source=SOURCE)
    if not isinstance(record, EligibilityResult):
        assert decode_id(record.id).id == resource["id"]
        assert record.source.resource_type == resource["resourceType"]
    # Whatever the mapper built must be a valid model, field by field.
    assert type(record).model_validate(record.model_dump()) == record


def test_public_samples_are_present() -> None:
    assert len(_public_samples()) >= 10


def test_unexpected_mapper_failure_becomes_a_mapping_error_without_its_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mappers.bundle

    def boom(resource: Any, ctx: Any) -> Any:
        raise RuntimeError("value Jane Doe 1970-01-01")

    monkeypatch.setitem(mappers.bundle._MAPPERS, "Patient", boom)
    with pytest.raises(MappingError) as err:
        from_fhir({"resourceType": "Patient", "id": "p1"}, source=SOURCE)
    assert err.value.path == "Patient"
    assert err.value.reason == "unreadable (RuntimeError)"
    assert err.value.__cause__ is None
    assert err.value.__suppress_context__
    page = from_bundle(
        {
            "resourceType": "Bundle",
            "entry": [{"resource": {"resourceType": "Patient", "id": "p1"}}],
        },
        source=SOURCE,
    )
    assert page == []
    assert page.warnings == ["Bundle.entry[0].resource: unreadable (RuntimeError); skipped"]


def test_from_fhir_with_expect_types_the_record_or_refuses_another_kind() -> None:
    from mappers import from_fhir
    from mappers.model import Patient, Slot

    patient = {"resourceType": "Patient", "id": "p1"}
    assert isinstance(from_fhir(patient, source="ehr-a", expect=Patient), Patient)
    with pytest.raises(MappingError) as caught:
        from_fhir(patient, source="ehr-a", expect=Slot)
    assert caught.value.path == "resourceType"
    assert "Slot" in caught.value.reason
