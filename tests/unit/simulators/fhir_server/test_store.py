from __future__ import annotations

import pytest

from simulators.fhir_server.outcome import FhirError
from simulators.fhir_server.search import parse_query
from simulators.fhir_server.store import FhirStore, parse_if_match


def test_versions_and_tombstones() -> None:
    store = FhirStore()
    created = store.update("Patient", "p1", {"resourceType": "Patient", "id": "p1"}).version
    store.update("Patient", "p1", {"resourceType": "Patient", "id": "p1", "gender": "male"})
    deleted = store.delete("Patient", "p1")

    assert created.version_id == 1
    assert deleted is not None and deleted.version_id == 3
    with pytest.raises(FhirError) as caught:
        store.read("Patient", "p1")
    assert caught.value.status == 410
    assert store.vread("Patient", "p1", "2").body()["gender"] == "male"
    assert [v.version_id for v in store.history("Patient", "p1")] == [1, 2, 3]
    recreated = store.update("Patient", "p1", {"resourceType": "Patient", "id": "p1"})
    assert recreated.created and recreated.version.version_id == 4


def test_stored_resources_cannot_be_changed_through_returned_copies() -> None:
    store = FhirStore()
    body = {"resourceType": "Patient", "id": "p1", "gender": "male"}
    version = store.update("Patient", "p1", body).version
    body["gender"] = "female"
    version.body()["gender"] = "other"
    assert store.read("Patient", "p1").body()["gender"] == "male"


def test_transaction_rolls_back_every_write_and_the_id_counter() -> None:
    store = FhirStore()
    store.update("Patient", "keep", {"resourceType": "Patient", "id": "keep"})

    def failing_transaction() -> None:
        with store.transaction():
            store.update(
                "Patient", "keep", {"resourceType": "Patient", "id": "keep", "gender": "male"}
            )
            store.create({"resourceType": "Patient"})
            store.delete("Patient", "keep")
            store.create({"resourceType": "Slot", "schedule": {"reference": "Schedule/none"}})

    with pytest.raises(FhirError):
        failing_transaction()

    assert store.read("Patient", "keep").version_id == 1
    assert store.count("Patient") == 1
    assert store.create({"resourceType": "Patient"}).version.id == "1"


def test_transaction_checks_references_at_the_end() -> None:
    store = FhirStore()
    with store.transaction():
        store.update(
            "Slot",
            "s",
            {"resourceType": "Slot", "id": "s", "schedule": {"reference": "Schedule/sc"}},
        )
        store.update("Schedule", "sc", {"resourceType": "Schedule", "id": "sc"})
    assert store.read("Slot", "s").body()["schedule"] == {"reference": "Schedule/sc"}


def test_numeric_client_ids_are_refused_so_server_ids_never_collide() -> None:
    store = FhirStore()
    with pytest.raises(FhirError) as caught:
        store.update("Patient", "42", {"resourceType": "Patient", "id": "42"})
    assert caught.value.status == 400


def test_conditional_create_refuses_a_resource_that_does_not_satisfy_its_condition() -> None:
    store = FhirStore()
    condition = parse_query("Patient", [("identifier", "urn:x|1")])
    with pytest.raises(FhirError) as caught:
        store.create({"resourceType": "Patient"}, if_none_exist=condition)
    assert caught.value.status == 400


@pytest.mark.parametrize(("header", "version"), [('W/"3"', 3), ('"3"', 3), ("3", 3)])
def test_if_match_forms(header: str, version: int) -> None:
    assert parse_if_match(header) == version


def test_garbage_if_match_is_400_not_500() -> None:
    with pytest.raises(FhirError) as caught:
        parse_if_match("garbage")
    assert caught.value.status == 400
