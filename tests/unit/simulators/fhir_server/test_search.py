from __future__ import annotations

import pytest

from simulators.fhir_server.outcome import FhirError
from simulators.fhir_server.search import normalize, parse_search, split_values

SLOT = {
    "resourceType": "Slot",
    "id": "s1",
    "status": "free",
    "schedule": {"reference": "Schedule/sc1"},
    "serviceType": [{"coding": [{"system": "urn:st", "code": "57"}]}],
    "start": "2031-03-01T09:00:00Z",
}


def query(resource_type: str, *items: tuple[str, str]):
    return parse_search(resource_type, list(items), default_count=20, max_count=500)


def test_codeable_concept_tokens_match_by_system_and_code() -> None:
    assert query("Slot", ("service-type", "urn:st|57")).query.matches(SLOT)
    assert query("Slot", ("service-type", "57")).query.matches(SLOT)
    assert not query("Slot", ("service-type", "|57")).query.matches(SLOT)
    assert not query("Slot", ("service-type", "urn:other|57")).query.matches(SLOT)


def test_not_and_missing_modifiers() -> None:
    assert query("Slot", ("status:not", "busy")).query.matches(SLOT)
    assert not query("Slot", ("status:not", "free")).query.matches(SLOT)
    assert query("Slot", ("specialty:missing", "true")).query.matches(SLOT)
    assert not query("Slot", ("status:missing", "true")).query.matches(SLOT)


def test_count_is_capped_at_the_maximum_and_zero_means_count_only() -> None:
    assert parse_search("Slot", [("_count", "9999")], default_count=20, max_count=500).count == 500
    assert query("Slot", ("_count", "0")).summary_count


@pytest.mark.parametrize(
    "items",
    [
        [("_count", "abc")],
        [("bogus", "1")],
        [("status:exact", "x")],
        [("start", "ge-nope")],
        [("_summary", "true")],
        [("schedule", "a/b/c")],
    ],
)
def test_invalid_parameters_are_400(items: list[tuple[str, str]]) -> None:
    with pytest.raises(FhirError) as caught:
        parse_search("Slot", items, default_count=20, max_count=500)
    assert caught.value.status == 400


def test_empty_values_are_ignored_and_escaped_commas_kept() -> None:
    assert query("Slot", ("status", "")).query.criteria == ()
    assert split_values(r"a\,b,c") == ("a,b", "c")


def test_normalize_folds_case_and_accents() -> None:
    assert normalize("ZOË José") == "zoe jose"
