"""Property-based tests: valid-shaped resources map and keep their key fields;
anything else raises MappingError and nothing else."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappers import (
    SUPPORTED_TYPES,
    Appointment,
    Coverage,
    MappingError,
    Patient,
    Schedule,
    Slot,
    decode_id,
    encode_id,
    from_bundle,
    from_fhir,
)

SOURCE = "ehr-a"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

fhir_ids = st.from_regex(r"[A-Za-z0-9.\-]{1,64}", fullmatch=True).filter(
    lambda s: s.strip(".") != ""
)
words = (
    st.text(alphabet=string.ascii_letters + string.digits + " -'", min_size=1, max_size=16)
    .map(str.strip)
    .filter(bool)
)
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
)
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 12, 31), timezones=zones
)


def fhir_instant(dt: datetime, zulu: bool) -> str:
    text = dt.isoformat()
    if zulu and text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


codings = st.builds(lambda code: {"coding": [{"system": "urn:codes", "code": code}]}, words)


@st.composite
def patients(draw: st.DrawFn) -> dict[str, Any]:
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)))
    precision = draw(st.sampled_from([4, 7, 10]))
    return {
        "resourceType": "Patient",
        "id": draw(fhir_ids),
        "identifier": draw(
            st.lists(st.builds(lambda s, v: {"system": s, "value": v}, words, words), max_size=3)
        ),
        "name": [
            {"use": "official", "family": draw(words), "given": draw(st.lists(words, max_size=2))},
            *draw(st.lists(st.builds(lambda f: {"use": "old", "family": f}, words), max_size=2)),
        ],
        "birthDate": born.isoformat()[:precision],
        "gender": draw(st.sampled_from(["male", "female", "other", "unknown"])),
        "telecom": [{"system": "phone", "value": draw(words)}],
        "extension": [{"url": "http://vendor.example.org/x", "valueString": draw(words)}],
    }


@st.composite
def slots(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(instants)
    return {
        "resourceType": "Slot",
        "id": draw(fhir_ids),
        "schedule": {"reference": f"Schedule/{draw(fhir_ids)}"},
        "status": draw(st.sampled_from(["free", "busy", "busy-tentative"])),
        "start": fhir_instant(start, draw(st.booleans())),
        "end": fhir_instant(start + timedelta(minutes=draw(st.integers(5, 240))), False),
        "serviceType": draw(st.lists(codings, max_size=2)),
    }


@st.composite
def appointments(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "id": draw(fhir_ids),
        "status": draw(st.sampled_from(["booked", "proposed", "cancelled", "fulfilled"])),
        "start": fhir_instant(draw(instants), True),
        "participant": [
            {"actor": {"reference": f"Patient/{draw(fhir_ids)}"}, "status": "accepted"},
            {"actor": {"display": draw(words)}, "status": "accepted"},
        ],
        "slot": [{"reference": f"Slot/{draw(fhir_ids)}"}],
    }


@st.composite
def coverages(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "id": draw(fhir_ids),
        "status": "active",
        "beneficiary": {"reference": f"Patient/{draw(fhir_ids)}"},
        "subscriberId": draw(words),
        "payor": [{"display": draw(words), "identifier": {"value": draw(words)}}],
        "class": [{"type": {"coding": [{"code": "group"}]}, "value": draw(words)}],
    }


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "resourceType": "Schedule",
        "id": draw(fhir_ids),
        "actor": [{"reference": f"Practitioner/{draw(fhir_ids)}"}],
        "serviceType": draw(st.lists(codings, max_size=2)),
    }


valid_resources = st.one_of(patients(), slots(), appointments(), coverages(), schedules())

_FHIR_KEYS = [
    "resourceType", "id", "meta", "name", "family", "given", "identifier", "value", "type",
    "coding", "code", "system", "reference", "display", "start", "end", "status", "actor",
    "participant", "schedule", "slot", "payor", "class", "period", "birthDate", "_birthDate",
    "telecom", "address", "communication", "language", "contained", "entry", "resource",
    "search", "mode", "link", "relation", "url", "issue", "insurance", "item", "benefit",
]  # fmt: skip
keys = st.sampled_from(_FHIR_KEYS) | st.text(max_size=6)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(sorted(SUPPORTED_TYPES))
    | instants.map(lambda d: d.isoformat())
)
garbage = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


def _assert_round_trips(record: Any) -> None:
    # Records are validated models: a dump re-validates to an equal record.
    assert type(record).model_validate(record.model_dump()) == record


@SETTINGS
@given(patients())
def test_valid_patients_keep_key_fields(resource: dict[str, Any]) -> None:
    record = from_fhir(resource, source=SOURCE)
    assert isinstance(record, Patient)
    assert decode_id(record.id).id == resource["id"]
    assert record.name is not None
    assert record.name.family == resource["name"][0]["family"]
    assert len(record.other_names) == len(resource["name"]) - 1
    assert record.birth_date == resource["birthDate"]
    assert [i.value for i in record.identifiers] == [i["value"] for i in resource["identifier"]]
    assert record.warnings == []
    _assert_round_trips(record)


@SETTINGS
@given(slots())
def test_valid_slots_keep_key_fields(resource: dict[str, Any]) -> None:
    record = from_fhir(resource, source=SOURCE)
    assert isinstance(record, Slot)
    assert record.start == datetime.fromisoformat(resource["start"])
    assert record.end == datetime.fromisoformat(resource["end"])
    assert record.status == resource["status"]
    schedule = resource["schedule"]["reference"].split("/", 1)[1]
    assert record.schedule_id == encode_id(SOURCE, "Schedule", schedule)
    assert record.warnings == []
    _assert_round_trips(record)


@SETTINGS
@given(appointments())
def test_valid_appointments_keep_key_fields(resource: dict[str, Any]) -> None:
    record = from_fhir(resource, source=SOURCE)
    assert isinstance(record, Appointment)
    patient = resource["participant"][0]["actor"]["reference"].split("/", 1)[1]
    assert record.patient_id == encode_id(SOURCE, "Patient", patient)
    assert record.status == resource["status"]
    assert len(record.participants) == 2
    assert len(record.slot_ids) == 1
    _assert_round_trips(record)


@SETTINGS
@given(coverages())
def test_valid_coverages_keep_key_fields(resource: dict[str, Any]) -> None:
    record = from_fhir(resource, source=SOURCE)
    assert isinstance(record, Coverage)
    assert record.member_id == resource["subscriberId"]
    assert record.payer_name == resource["payor"][0]["display"]
    assert record.payer_id == resource["payor"][0]["identifier"]["value"]
    assert record.group_number == resource["class"][0]["value"]
    _assert_round_trips(record)


@SETTINGS
@given(schedules())
def test_valid_schedules_keep_key_fields(resource: dict[str, Any]) -> None:
    record = from_fhir(resource, source=SOURCE)
    assert isinstance(record, Schedule)
    assert record.actors == [resource["actor"][0]["reference"]]
    _assert_round_trips(record)


@SETTINGS
@given(st.lists(valid_resources, max_size=6), st.lists(garbage, max_size=4), st.randoms())
def test_bundle_keeps_every_good_entry_among_garbage(
    good: list[dict[str, Any]], bad: list[Any], rnd: Any
) -> None:
    entries: list[Any] = [{"resource": r} for r in good] + [{"resource": b} for b in bad]
    rnd.shuffle(entries)
    page = from_bundle({"resourceType": "Bundle", "entry": entries}, source=SOURCE)
    mapped = {(r.source.resource_type, r.source.id) for r in page if r.source is not None}
    assert {(r["resourceType"], r["id"]) for r in good} <= mapped


def _only_mapping_error(value: Any) -> None:
    """Map ``value`` both ways; a MappingError must name a path, anything else fails."""
    for call in (from_fhir, from_bundle):
        error: MappingError | None = None
        try:
            call(value, source=SOURCE)
        except MappingError as exc:
            error = exc
        assert error is None or error.path


@SETTINGS
@given(garbage)
def test_garbage_raises_only_mapping_error(value: Any) -> None:
    _only_mapping_error(value)


@SETTINGS
@given(st.sampled_from(sorted(SUPPORTED_TYPES)), st.dictionaries(keys, garbage, max_size=8))
def test_garbage_with_a_known_type_raises_only_mapping_error(
    rtype: str, fields: dict[str, Any]
) -> None:
    _only_mapping_error({**fields, "resourceType": rtype, "id": "x1"})
    _only_mapping_error({**fields, "resourceType": rtype})
    _only_mapping_error({"resourceType": "Bundle", "entry": [{"resource": fields}, fields]})


@st.composite
def corrupted(draw: st.DrawFn) -> Any:
    """A valid resource with some of its values, at any depth, replaced by garbage."""

    def walk(value: Any) -> Any:
        if draw(st.integers(0, 7)) == 0:
            return draw(garbage)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(draw(valid_resources))


@SETTINGS
@given(corrupted())
def test_corrupted_resources_raise_only_mapping_error(value: Any) -> None:
    error: MappingError | None = None
    try:
        record = from_fhir(value, source=SOURCE)
    except MappingError as exc:
        error = exc
    if error is not None:
        assert error.path
        return
    _assert_round_trips(record)
    _only_mapping_error({"resourceType": "Bundle", "entry": [{"resource": value}]})
