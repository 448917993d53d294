from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from mappers import MappingError, Patient, decode_id, from_fhir

FIXTURES = Path(__file__).parents[2] / "fixtures" / "fhir" / "handwritten"
SOURCE = "ehr-a"


def _map(resource: dict[str, Any]) -> Patient:
    record = from_fhir(resource, source=SOURCE)
    assert isinstance(record, Patient)
    return record


def _patient(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", **fields}


@pytest.fixture(scope="module")
def messy() -> Patient:
    return _map(json.loads((FIXTURES / "patient-messy.json").read_text()))


def test_id_and_source_carry_provenance(messy: Patient) -> None:
    assert decode_id(messy.id) == (SOURCE, "Patient", "messy-1")
    assert messy.source.source == SOURCE
    assert messy.source.resource_type == "Patient"
    assert messy.source.id == "messy-1"
    assert messy.source.version == "3"
    assert messy.source.last_updated == datetime(
        2024, 11, 2, 13, 30, 0, 123000, tzinfo=UTC
    ).astimezone(timezone(timedelta(hours=-5)))


def test_current_official_name_wins_and_the_rest_are_kept(messy: Patient) -> None:
    assert messy.name is not None
    assert messy.name.family == "Current"
    assert messy.name.given == ["Ann", "Marie"]
    assert messy.name.prefix == ["Ms"]
    assert messy.name.use == "official"
    assert [(n.use, n.family or n.text or n.given[0]) for n in messy.other_names] == [
        ("maiden", "Maidenname"),
        ("official", "Oldofficial"),
        ("nickname", "Annie"),
        ("old", "Ann Other"),
    ]


def test_usual_name_wins_over_nickname_when_no_official() -> None:
    p = _map(
        _patient(name=[{"use": "nickname", "given": ["Bo"]}, {"use": "usual", "family": "Ng"}])
    )
    assert p.name is not None
    assert p.name.family == "Ng"
    assert [n.given for n in p.other_names] == [["Bo"]]


def test_ended_official_name_loses_to_current_nickname() -> None:
    p = _map(
        _patient(
            name=[
                {"use": "official", "family": "Was", "period": {"end": "2001"}},
                {"use": "nickname", "given": ["Now"]},
            ]
        )
    )
    assert p.name is not None
    assert p.name.given == ["Now"]


def test_name_text_only_is_kept_as_text() -> None:
    p = _map(_patient(name=[{"text": "Jane Q Public"}]))
    assert p.name is not None
    assert p.name.text == "Jane Q Public"
    assert p.name.family is None
    assert p.name.given == []


def test_empty_name_is_skipped_with_a_warning() -> None:
    p = _map(_patient(name=[{"use": "official"}]))
    assert p.name is None
    assert "Patient.name[0]: no family, given or text; skipped" in p.warnings


def test_dstu2_family_list_is_joined_with_a_warning() -> None:
    p = _map(_patient(name=[{"family": ["van", "Dijk"]}]))
    assert p.name is not None
    assert p.name.family == "van Dijk"
    assert any(w.startswith("Patient.name[0].family") for w in p.warnings)


def test_identifiers_keep_type_code_with_or_without_system(messy: Patient) -> None:
    assert [(i.system, i.value, i.type) for i in messy.identifiers] == [
        (None, "MRN-0001", "MR"),
        ("http://hl7.org/fhir/sid/us-ssn", "999-00-0001", None),
        ("urn:payer", "MB-42", "MB"),
    ]
    assert "Patient.identifier[3].value: missing; identifier skipped" in messy.warnings


def test_v2_0203_coding_wins_over_a_local_first_coding() -> None:
    ident = {
        "value": "1",
        "type": {
            "coding": [
                {"system": "urn:local", "code": "LOCAL"},
                {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"},
            ]
        },
    }
    assert _map(_patient(identifier=[ident])).identifiers[0].type == "SS"


def test_extensions_are_ignored(messy: Patient) -> None:
    assert not any("extension" in w for w in messy.warnings)


def test_partial_birth_date_keeps_its_precision(messy: Patient) -> None:
    assert messy.birth_date == "1980-04"
    assert _map(_patient(birthDate="1980")).birth_date == "1980"
    assert _map(_patient(birthDate="1980-04-02")).birth_date == "1980-04-02"


def test_birth_date_data_absent_reason_gives_none_and_a_warning() -> None:
    absent = {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                "valueCode": "unknown",
            }
        ]
    }
    p = _map(_patient(_birthDate=absent))
    assert p.birth_date is None
    assert any(w.startswith("Patient.birthDate: absent") for w in p.warnings)


@pytest.mark.parametrize("raw", ["1980-13-01", "April 1980", 19800402, "1980-02-30"])
def test_unreadable_birth_date_is_dropped_with_a_warning(raw: object) -> None:
    p = _map(_patient(birthDate=raw))
    assert p.birth_date is None
    assert "Patient.birthDate: not a FHIR date; dropped" in p.warnings


def test_birth_date_given_as_datetime_keeps_the_date() -> None:
    p = _map(_patient(birthDate="1980-04-02T00:00:00Z"))
    assert p.birth_date == "1980-04-02"
    assert p.warnings


def test_telecom_is_split_into_phones_and_emails(messy: Patient) -> None:
    assert [(c.system, c.value, c.use) for c in messy.phones] == [
        ("phone", "555-0100", "home"),
        ("sms", "555-0101", "mobile"),
    ]
    assert [c.value for c in messy.emails] == ["ann@example.org"]


def test_preferred_language_wins(messy: Patient) -> None:
    assert messy.language == "es-MX"
    p = _map(_patient(communication=[{"language": {"coding": [{"code": "fr"}]}}]))
    assert p.language == "fr"
    assert _map(_patient(communication=[{"language": {"text": "Tagalog"}}])).language == "Tagalog"


def test_current_home_address_wins(messy: Patient) -> None:
    assert messy.address is not None
    assert messy.address.line == ["3 Home St"]
    assert (messy.address.city, messy.address.state, messy.address.postal_code) == (
        "Hometown",
        "MA",
        "02100",
    )
    assert messy.address.country == "US"


def test_deceased_boolean_and_datetime() -> None:
    assert _map(_patient(deceasedBoolean=False)).deceased is False
    assert _map(_patient(deceasedBoolean=True)).deceased is True
    assert _map(_patient(deceasedDateTime="2024")).deceased is True
    assert _map(_patient()).deceased is None


def test_gender_outside_value_set_is_kept_with_a_warning() -> None:
    p = _map(_patient(gender="F"))
    assert p.gender == "F"
    assert "Patient.gender: code outside the expected value set; kept as given" in p.warnings
    assert _map(_patient(gender="unknown")).warnings == []


def test_active_must_be_a_boolean() -> None:
    p = _map(_patient(active="true"))
    assert p.active is None
    assert "Patient.active: not a boolean; dropped" in p.warnings


@pytest.mark.parametrize(
    ("resource", "path"),
    [
        ({"resourceType": "Patient", "id": 7}, "Patient.id"),
        ({"resourceType": "Patient", "id": ""}, "Patient.id"),
        ({"resourceType": "Patient", "id": "has space"}, "Patient.id"),
        ({"resourceType": "Patient", "id": "x" * 65}, "Patient.id"),
    ],
)
def test_invalid_id_is_a_mapping_error(resource: dict[str, Any], path: str) -> None:
    with pytest.raises(MappingError) as err:
        from_fhir(resource, source=SOURCE)
    assert err.value.path == path


def test_warnings_and_errors_carry_no_values(messy: Patient) -> None:
    joined = " ".join(messy.warnings)
    for secret in ("MRN-0001", "Ann", "1980", "555-0100", "Current"):
        assert secret not in joined
    with pytest.raises(MappingError) as err:
        from_fhir({"resourceType": "Patient", "id": "Smith John"}, source=SOURCE)
    assert "Smith" not in str(err.value)
