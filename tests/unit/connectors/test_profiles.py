from __future__ import annotations

from typing import Any

import pytest

from connectors import (
    EPIC,
    HAPI,
    ORACLE_HEALTH,
    PROFILES,
    BookingStyle,
    CapabilityMismatch,
    check_capabilities,
)
from tests.unit.connectors.fakes import FakeClock, Script, fhir, make_client


def statement(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": rtype,
                        "interaction": [{"code": c} for c in spec.get("interactions", ())],
                        "searchParam": [
                            {"name": n, "type": "token"} for n in spec.get("params", ())
                        ],
                        "operation": [{"name": o} for o in spec.get("operations", ())],
                    }
                    for rtype, spec in resources.items()
                ],
            }
        ],
    }


def complete_for(profile: Any) -> dict[str, Any]:
    types = set(profile.interactions) | set(profile.search_params) | set(profile.operations)
    return statement(
        {
            t: {
                "interactions": profile.interactions.get(t, ()),
                "params": profile.search_params.get(t, ()),
                "operations": profile.operations.get(t, ()),
            }
            for t in types
        }
    )


def test_profiles_are_registered_by_name() -> None:
    assert set(PROFILES) == {"generic", "hapi", "epic", "oracle-health"}
    assert EPIC.booking is BookingStyle.FIND_BOOK
    assert EPIC.find_book is not None
    assert (EPIC.find_book.start, EPIC.find_book.end) == (
        "startTime",
        "endTime",
    )
    assert ORACLE_HEALTH.booking is BookingStyle.SLOT_CREATE
    assert HAPI.client_marks_slot_busy
    assert not ORACLE_HEALTH.client_marks_slot_busy


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_a_complete_statement_passes(profile: Any) -> None:
    check_capabilities(profile, complete_for(profile), source="s")


def test_missing_items_are_all_named() -> None:
    cap = statement(
        {
            "Patient": {
                "interactions": ["read", "search-type"],
                "params": ["identifier", "family", "given"],
            },
            "Appointment": {"interactions": ["read"], "operations": ["$find"]},
        }
    )
    with pytest.raises(CapabilityMismatch) as caught:
        check_capabilities(EPIC, cap, source="epic-1")
    assert caught.value.missing == ("Patient?birthdate", "Appointment/$book")
    assert "Appointment/$book" in str(caught.value)
    assert caught.value.source == "epic-1"


async def test_client_checks_its_profile_against_metadata(clock: FakeClock) -> None:
    script = Script(fhir(200, statement({"Patient": {"interactions": ["read"]}})))
    client = make_client(script, clock=clock, profile=HAPI)
    with pytest.raises(CapabilityMismatch) as caught:
        await client.check_capabilities()
    assert "Slot.search-type" in caught.value.missing
    assert "Patient.search-type" in caught.value.missing
