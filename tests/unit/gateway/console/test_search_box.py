"""How the console's one search box reads what a desk types."""

from __future__ import annotations

import pytest

from gateway.console.search_box import read_search
from gateway.services.errors import InvalidRequest

SYSTEMS = ["urn:oid:2.999.1.1.1", "https://ehr-b.example.org/fhir/sid/mrn"]


@pytest.mark.parametrize(
    ("typed", "family", "given", "birthdate"),
    [
        ("Garcia", "Garcia", None, None),
        ("Garcia, Patricia", "Garcia", "Patricia", None),
        ("Patricia Garcia", "Garcia", "Patricia", None),
        ("Patricia Garcia 1984-03-02", "Garcia", "Patricia", "1984-03-02"),
        ("Garcia, Patricia 3/2/1984", "Garcia", "Patricia", "1984-03-02"),
        ("name Testfam1234", "Testfam1234", None, None),
    ],
)
def test_names_and_birth_dates(typed, family, given, birthdate):
    read = read_search(typed, SYSTEMS)
    (query,) = read.queries
    assert (query.family, query.given, query.birthdate) == (family, given, birthdate)
    assert read.birth_date == birthdate


@pytest.mark.parametrize("typed", ["617-555-0100", "(617) 555 0100", "5550100", "phone 00001234"])
def test_phones(typed):
    (query,) = read_search(typed, SYSTEMS).queries
    assert query.phone is not None and query.family is None


@pytest.mark.parametrize("typed", ["00001234", "MRN000123", "mrn 6175550100"])
def test_mrns_are_looked_up_in_every_mrn_system(typed):
    read = read_search(typed, SYSTEMS)
    value = typed.split()[-1]
    assert [q.identifier for q in read.queries] == [f"{s}|{value}" for s in SYSTEMS]


@pytest.mark.parametrize(
    ("typed", "systems", "words"),
    [
        ("", SYSTEMS, "type a name"),
        ("1984-03-02", SYSTEMS, "family name"),
        ("Garcia 1984-02-30", SYSTEMS, "calendar date"),
        ("00001234", [], "MRN system"),
    ],
)
def test_what_cannot_be_searched_says_why(typed, systems, words):
    with pytest.raises(InvalidRequest, match=words):
        read_search(typed, systems)
