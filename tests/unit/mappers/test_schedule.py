from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mappers import Schedule, from_fhir

SOURCE = "ehr-a"


def _map(**fields: Any) -> Schedule:
    record = from_fhir({"resourceType": "Schedule", "id": "sch1", **fields}, source=SOURCE)
    assert isinstance(record, Schedule)
    return record


def test_actors_are_normalised_type_id_references() -> None:
    schedule = _map(
        active=True,
        actor=[
            {"reference": "Practitioner/pr1", "display": "Dr Example"},
            {"reference": "https://ehr.example.org/fhir/Location/loc-2/_history/3"},
            {"reference": "Practitioner/pr1"},
        ],
        serviceType=[{"coding": [{"code": "124"}]}],
        specialty=[{"coding": [{"code": "394814009"}]}],
        planningHorizon={"start": "2025-03-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"},
        comment="Weekday clinic",
    )
    assert schedule.actors == ["Practitioner/pr1", "Location/loc-2"]
    assert schedule.active is True
    assert schedule.service_types == ["124"]
    assert schedule.specialty == ["394814009"]
    assert schedule.planning_horizon_start == datetime(2025, 3, 1, tzinfo=UTC)
    assert schedule.planning_horizon_end == datetime(2025, 6, 1, tzinfo=UTC)
    assert schedule.comment == "Weekday clinic"
    assert schedule.warnings == []


def test_display_only_and_contained_actors_are_skipped_with_warnings() -> None:
    schedule = _map(actor=[{"display": "Dr Nobody"}, {"reference": "#loc"}])
    assert schedule.actors == []
    assert schedule.warnings == [
        "Schedule.actor[0]: not a resolvable reference; skipped",
        "Schedule.actor[1]: not a resolvable reference; skipped",
    ]


def test_missing_actor_and_date_only_horizon_are_warnings() -> None:
    schedule = _map(planningHorizon={"start": "2025-03-01"})
    assert schedule.actors == []
    assert schedule.planning_horizon_start is None
    assert schedule.warnings == [
        "Schedule.actor: missing",
        "Schedule.planningHorizon.start: a date without a time; dropped",
    ]


def test_service_type_text_only_is_kept() -> None:
    schedule = _map(actor=[{"reference": "Location/1"}], serviceType=[{"text": "Flu shots"}])
    assert schedule.service_types == ["Flu shots"]
