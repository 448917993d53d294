"""A paged searchset with _include (Oracle Health's Slot search with
_include=Slot:schedule): included records of any page resolve the matches of all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mappers import (
    MappingError,
    Schedule,
    Slot,
    encode_id,
    from_bundle,
    from_bundle_pages,
)

SHAPES = Path(__file__).parents[2] / "fixtures" / "fhir" / "vendor-shapes"
SOURCE = "ehr-a"
A = "4047611-61518614-32216049"
C = "4047611-61518614-32216051"


def _pages() -> list[dict[str, Any]]:
    return [
        json.loads((SHAPES / f"oracle-slot-include-page-{n}.json").read_text()) for n in (1, 2, 3)
    ]


def test_one_page_alone_misses_schedules_included_elsewhere() -> None:
    page = from_bundle(_pages()[1], source=SOURCE)
    slots = [r for r in page if isinstance(r, Slot)]
    assert len(slots) == 3
    assert [type(r) for r in page.included] == [Schedule]
    found = [page.get(s.schedule_id, Schedule) for s in slots]
    assert [f is not None for f in found] == [True, False, False]


def test_pages_together_resolve_every_slot_to_its_schedule() -> None:
    search = from_bundle_pages(_pages(), source=SOURCE)
    assert len(search.matches) == 7  # slot 6 is on pages 2 and 3, kept once
    assert [s.source.id for s in search.matches if isinstance(s, Slot)] == [
        f"24477854-32216049-6185{i:04d}-0" for i in range(1, 8)
    ]
    assert len(search.included) == 3
    for slot in search.matches:
        assert isinstance(slot, Slot)
        schedule = search.get(slot.schedule_id, Schedule)
        assert schedule is not None, slot.source.id
        assert slot.service_type_codings[0].display == "New Patient Visit"
    # Slot 6 is on page 2, its Schedule only on page 3.
    sixth = search.matches[5]
    assert isinstance(sixth, Slot)
    assert sixth.schedule_id == encode_id(SOURCE, "Schedule", C)
    assert search.warnings == ["pages[2]: a match repeated from an earlier page; kept once"]
    assert search.next_link is None
    assert search.total is None


def test_an_included_schedule_names_its_practitioner_for_the_desk() -> None:
    search = from_bundle_pages(_pages(), source=SOURCE)
    schedule = search.get(encode_id(SOURCE, "Schedule", A), Schedule)
    assert schedule is not None
    practitioner, location = schedule.actor_refs
    assert practitioner.resource_type == "Practitioner"
    assert practitioner.id == encode_id(SOURCE, "Practitioner", "593923")
    assert practitioner.display == "Rivera, Ana MD"
    assert location.display == "Main Street Clinic"
    assert schedule.service_type_codings[0].code == "4047611"


def test_the_first_copy_of_an_include_wins() -> None:
    pages = _pages()
    pages[2]["entry"][3]["resource"]["actor"][0]["display"] = "Changed"
    search = from_bundle_pages(pages, source=SOURCE)
    schedule = search.get(encode_id(SOURCE, "Schedule", A), Schedule)
    assert schedule is not None
    assert schedule.actor_refs[0].display == "Rivera, Ana MD"


def test_next_link_and_total_when_pages_stop_early() -> None:
    pages = _pages()[:2]
    pages[0]["total"] = 7
    search = from_bundle_pages(pages, source=SOURCE)
    assert search.total == 7
    assert search.next_link is not None and search.next_link.endswith("opaque-3")
    assert search.get(None) is None
    assert search.get("not-an-id") is None


def test_urn_references_resolve_across_pages() -> None:
    uuid = "urn:uuid:11111111-2222-4333-8444-555555555555"
    first = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": {
                    "resourceType": "Slot",
                    "id": "s1",
                    "schedule": {"reference": uuid},
                    "status": "free",
                    "start": "2026-12-07T09:00:00Z",
                    "end": "2026-12-07T09:30:00Z",
                },
                "search": {"mode": "match"},
            }
        ],
    }
    second = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "fullUrl": uuid,
                "resource": {
                    "resourceType": "Schedule",
                    "id": "sch-1",
                    "actor": [{"display": "X"}],
                },
                "search": {"mode": "include"},
            }
        ],
    }
    search = from_bundle_pages([first, second], source=SOURCE)
    [slot] = search.matches
    assert isinstance(slot, Slot)
    assert slot.schedule_id == encode_id(SOURCE, "Schedule", "sch-1")
    assert search.get(slot.schedule_id, Schedule) is not None


def test_no_pages_is_an_empty_result() -> None:
    search = from_bundle_pages([], source=SOURCE)
    assert (search.matches, search.included, search.warnings) == ([], {}, [])


@pytest.mark.parametrize(
    ("pages", "path"),
    [
        ("Bundle", "pages"),
        ({"resourceType": "Bundle"}, "pages"),
        (None, "pages"),
        (7, "pages"),
        ([{"resourceType": "Bundle"}, "page"], "pages[1]"),
        ([{"resourceType": "Bundle"}, {"resourceType": "Patient"}], "pages[1].resourceType"),
    ],
)
def test_what_is_not_a_list_of_bundles_is_a_mapping_error(pages: Any, path: str) -> None:
    with pytest.raises(MappingError) as err:
        from_bundle_pages(pages, source=SOURCE)
    assert err.value.path == path


def test_entry_warnings_name_their_page() -> None:
    pages = _pages()
    pages[1]["entry"].insert(0, "junk")
    search = from_bundle_pages(pages, source=SOURCE)
    assert search.warnings[0] == "pages[1].entry[0]: not an object; skipped"
