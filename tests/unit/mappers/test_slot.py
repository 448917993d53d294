from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from mappers import MappingError, Slot, decode_id, encode_id, from_fhir

SOURCE = "ehr-a"


def _slot(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Slot",
        "id": "s1",
        "schedule": {"reference": "Schedule/sch1"},
        "status": "free",
        "start": "2025-03-03T09:00:00-05:00",
        "end": "2025-03-03T09:30:00-05:00",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def _map(resource: dict[str, Any]) -> Slot:
    record = from_fhir(resource, source=SOURCE)
    assert isinstance(record, Slot)
    return record


def test_maps_times_schedule_and_codes() -> None:
    slot = _map(
        _slot(
            serviceType=[{"coding": [{"code": "124"}]}, {"coding": [{"code": "57"}]}],
            specialty=[{"coding": [{"code": "394814009"}]}],
            appointmentType={"coding": [{"code": "ROUTINE"}]},
            overbooked=False,
            comment="Bring card",
        )
    )
    est = timezone(timedelta(hours=-5))
    assert slot.start == datetime(2025, 3, 3, 9, 0, tzinfo=est)
    assert slot.end == datetime(2025, 3, 3, 9, 30, tzinfo=est)
    assert slot.start.utcoffset() == timedelta(hours=-5)
    assert slot.schedule_id == encode_id(SOURCE, "Schedule", "sch1")
    assert slot.status == "free"
    assert slot.service_types == ["124", "57"]
    assert slot.specialty == ["394814009"]
    assert slot.appointment_type == "ROUTINE"
    assert slot.overbooked is False
    assert slot.comment == "Bring card"
    assert slot.warnings == []
    assert decode_id(slot.id).id == "s1"


@pytest.mark.parametrize(
    "raw",
    ["2025-03-03T14:00:00Z", "2025-03-03T14:00:00.000Z", "2025-03-03T14:00:00.123456789+00:00"],
)
def test_start_with_z_or_offset_or_fraction(raw: str) -> None:
    assert _map(_slot(start=raw, end=None)).start.replace(microsecond=0) == datetime(
        2025, 3, 3, 14, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (None, "missing"),
        ("2025-03-03T09:00:00", "no UTC offset; the time is ambiguous and was dropped"),
        ("2025-03-03", "a date without a time; dropped"),
        ("tomorrow", "not a FHIR dateTime; dropped"),
        (20250303, "not a FHIR dateTime; dropped"),
        ("2025-02-30T09:00:00Z", "not a FHIR dateTime; dropped"),
    ],
)
def test_slot_without_usable_start_is_a_mapping_error(start: object, reason: str) -> None:
    resource = _slot()
    resource["start"] = start
    if start is None:
        del resource["start"]
    with pytest.raises(MappingError) as err:
        from_fhir(resource, source=SOURCE)
    assert err.value.path == "Slot.start"
    assert err.value.reason == reason


def test_missing_end_gives_none_and_a_warning() -> None:
    slot = _map(_slot(end=None))
    assert slot.end is None
    assert slot.warnings == ["Slot.end: missing"]


def test_end_without_offset_gives_none_and_a_warning() -> None:
    slot = _map(_slot(end="2025-03-03T09:30:00"))
    assert slot.end is None
    assert slot.warnings == ["Slot.end: no UTC offset; the time is ambiguous and was dropped"]


def test_end_before_start_is_dropped() -> None:
    slot = _map(_slot(end="2025-03-03T08:00:00-05:00"))
    assert slot.end is None
    assert slot.warnings == ["Slot.end: before start; dropped"]


def test_status_outside_value_set_is_kept_with_a_warning() -> None:
    slot = _map(_slot(status="open"))
    assert slot.status == "open"
    assert slot.warnings == ["Slot.status: code outside the expected value set; kept as given"]


@pytest.mark.parametrize("status", [None, 3, ""])
def test_missing_status_is_a_mapping_error(status: object) -> None:
    resource = _slot()
    if status is None:
        del resource["status"]
    else:
        resource["status"] = status
    with pytest.raises(MappingError) as err:
        from_fhir(resource, source=SOURCE)
    assert err.value.path == "Slot.status"


@pytest.mark.parametrize(
    "reference",
    [
        "Schedule/sch1",
        "https://ehr.example.org/fhir/Schedule/sch1",
        "Schedule/sch1/_history/4",
        "https://ehr.example.org/fhir/Schedule/sch1/_history/4",
    ],
)
def test_schedule_reference_forms(reference: str) -> None:
    slot = _map(_slot(schedule={"reference": reference}))
    assert slot.schedule_id == encode_id(SOURCE, "Schedule", "sch1")


def test_display_only_or_wrong_type_schedule() -> None:
    assert _map(_slot(schedule={"display": "Dr X clinic"})).schedule_id is None
    wrong = _map(_slot(schedule={"reference": "Location/1"}))
    assert wrong.schedule_id is None
    assert wrong.warnings == ["Slot.schedule: expected a Schedule reference, got Location"]
    missing = _map(_slot(schedule=None))
    assert missing.warnings == ["Slot.schedule: missing"]


def test_r5_style_service_type_concept_is_read() -> None:
    slot = _map(_slot(serviceType=[{"concept": {"coding": [{"code": "124"}]}}]))
    assert slot.service_types == ["124"]
