"""Every public FHIR fixture is JSON with a resourceType, listed in SOURCES.md, and valid R4B."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class

PUBLIC = Path(__file__).resolve().parents[2] / "fixtures" / "fhir" / "public"
FIXTURES = sorted(PUBLIC.rglob("*.json"))
WANTED = {"Patient", "Appointment", "Coverage", "Schedule", "Slot", "CoverageEligibilityResponse"}


def _id(path: Path) -> str:
    return str(path.relative_to(PUBLIC))


def test_enough_fixtures_from_enough_sources() -> None:
    sources = {p.relative_to(PUBLIC).parts[0] for p in FIXTURES}
    assert len(FIXTURES) >= 15
    assert len(sources) >= 3


def test_every_wanted_resource_type_has_a_fixture() -> None:
    types = {json.loads(p.read_text())["resourceType"] for p in FIXTURES}
    assert types >= WANTED


@pytest.mark.parametrize("path", FIXTURES, ids=_id)
def test_fixture_is_a_fhir_resource(path: Path) -> None:
    resource = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(resource, dict)
    assert isinstance(resource.get("resourceType"), str)


@pytest.mark.parametrize("path", FIXTURES, ids=_id)
def test_fixture_is_listed_in_sources(path: Path) -> None:
    sources = (PUBLIC / "SOURCES.md").read_text(encoding="utf-8")
    assert f"| {_id(path)} |" in sources


@pytest.mark.parametrize("path", FIXTURES, ids=_id)
def test_fixture_validates_as_r4b(path: Path) -> None:
    # R4B is close to R4 for these resources; a failure here means a fixture was damaged.
    resource = json.loads(path.read_text(encoding="utf-8"))
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)
