"""Read, create, update, patch and delete behave the same on the sandbox and HAPI."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from tests.contract.fhir import Fhir, diagnostics, unique

JSON_PATCH = "application/json-patch+json"


def patient(family: str, **extra: object) -> dict[str, object]:
    return {"resourceType": "Patient", "name": [{"family": family, "given": ["Ann"]}], **extra}


async def test_capability_statement_lists_what_connectors_use(fhir: Fhir) -> None:
    response = await fhir.get("metadata")

    assert response.status_code == 200
    statement = response.json()
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    rest = statement["rest"][0]
    assert rest["mode"] == "server"
    assert {"code": "transaction"} in rest["interaction"]
    by_type = {r["type"]: r for r in rest["resource"]}
    for resource_type in ("Patient", "Schedule", "Slot", "Appointment", "Coverage"):
        codes = {i["code"] for i in by_type[resource_type]["interaction"]}
        assert {"read", "vread", "create", "update", "patch", "delete", "search-type"} <= codes
        assert by_type[resource_type]["conditionalCreate"] is True
    slot_params = {p["name"]: p["type"] for p in by_type["Slot"]["searchParam"]}
    assert slot_params["schedule"] == "reference"
    assert slot_params["start"] == "date"
    assert slot_params["status"] == "token"
    assert "Slot:schedule" in by_type["Slot"]["searchInclude"]


async def test_create_then_read_then_search_round_trip(fhir: Fhir) -> None:
    mrn = unique("mrn-")
    created = await fhir.post(
        "Patient", patient(unique("Rt"), identifier=[{"system": "urn:test:mrn", "value": mrn}])
    )

    assert created.status_code == 201
    body = created.json()
    patient_id = body["id"]
    assert body["meta"]["versionId"] == "1"
    assert "lastUpdated" in body["meta"]
    assert created.headers["etag"] == 'W/"1"'
    assert created.headers["location"] == f"{fhir.base_url}/Patient/{patient_id}/_history/1"
    assert created.headers["content-type"].startswith("application/fhir+json")

    read = await fhir.get(f"Patient/{patient_id}")
    assert read.status_code == 200
    assert read.json()["identifier"] == [{"system": "urn:test:mrn", "value": mrn}]
    assert read.headers["etag"] == 'W/"1"'
    assert "last-modified" in read.headers

    vread = await fhir.get(f"Patient/{patient_id}/_history/1")
    assert vread.status_code == 200
    assert vread.json()["id"] == patient_id

    search = await fhir.get("Patient", params={"identifier": f"urn:test:mrn|{mrn}"})
    bundle = search.json()
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 1
    [entry] = bundle["entry"]
    assert entry["resource"]["id"] == patient_id
    assert entry["fullUrl"] == f"{fhir.base_url}/Patient/{patient_id}"
    assert entry["search"]["mode"] == "match"


async def test_conditional_create_twice_makes_one_resource(fhir: Fhir) -> None:
    key = unique("idem-")
    resource = patient(unique("Cc"), identifier=[{"system": "urn:test:idem", "value": key}])
    headers = {"If-None-Exist": f"identifier=urn:test:idem|{key}"}

    first = await fhir.post("Patient", resource, headers=headers)
    second = await fhir.post("Patient", resource, headers=headers)

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["meta"]["versionId"] == "1"
    ids = await fhir.search_ids("Patient", {"identifier": f"urn:test:idem|{key}"})
    assert ids == [first.json()["id"]]


async def test_conditional_create_matching_two_resources_is_412(fhir: Fhir) -> None:
    key = unique("dup-")
    resource = patient(unique("Dup"), identifier=[{"system": "urn:test:dup", "value": key}])
    await fhir.create(resource)
    await fhir.create(resource)

    response = await fhir.post(
        "Patient", resource, headers={"If-None-Exist": f"identifier=urn:test:dup|{key}"}
    )

    assert response.status_code == 412
    assert "matched 2 resources" in diagnostics(response)


async def test_concurrent_conditional_creates_make_one_resource(fhir: Fhir) -> None:
    key = unique("race-")
    resource = patient(unique("Race"), identifier=[{"system": "urn:test:race", "value": key}])
    headers = {"If-None-Exist": f"identifier=urn:test:race|{key}"}

    responses = await asyncio.gather(
        *(fhir.post("Patient", resource, headers=headers) for _ in range(5))
    )

    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1
    # HAPI refuses a create that lost the race on its match-URL index with 409;
    # the sandbox serialises writes and answers 200 with the winner.
    assert set(statuses) <= {200, 201, 409}
    ids = await fhir.search_ids("Patient", {"identifier": f"urn:test:race|{key}"})
    assert len(ids) == 1


async def test_update_increments_version_and_identical_update_does_not(fhir: Fhir) -> None:
    current = await fhir.create(patient(unique("Up"), gender="male"))
    path = f"Patient/{current['id']}"

    same = await fhir.put(path, current)
    assert same.status_code == 200
    assert same.json()["meta"]["versionId"] == "1"

    changed = await fhir.put(path, {**current, "gender": "female"})
    assert changed.status_code == 200
    assert changed.json()["meta"]["versionId"] == "2"
    assert changed.headers["etag"] == 'W/"2"'


async def test_put_with_a_client_id_creates(fhir: Fhir) -> None:
    resource_id = unique("p-")
    response = await fhir.put(f"Patient/{resource_id}", {**patient("Put"), "id": resource_id})

    assert response.status_code == 201
    assert response.json()["id"] == resource_id
    assert response.headers["etag"] == 'W/"1"'


async def test_put_whose_body_id_differs_from_the_url_is_400(fhir: Fhir) -> None:
    resource_id = unique("p-")
    response = await fhir.put(f"Patient/{resource_id}", {**patient("Put"), "id": "other"})

    assert response.status_code == 400


async def test_stale_if_match_is_412_and_current_one_updates(fhir: Fhir) -> None:
    current = await fhir.create(patient(unique("Im"), gender="male"))
    path = f"Patient/{current['id']}"
    await fhir.put(path, {**current, "gender": "female"})

    stale = await fhir.put(path, {**current, "gender": "other"}, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"

    fresh = await fhir.put(path, {**current, "gender": "other"}, headers={"If-Match": 'W/"2"'})
    assert fresh.status_code == 200
    assert fresh.json()["meta"]["versionId"] == "3"


async def test_concurrent_if_match_updates_let_exactly_one_win(fhir: Fhir) -> None:
    # A valid Schedule (actor is 1..*): this data stays on the shared server, and the
    # conformance kit's read-only payload check would rightly flag an invalid one.
    location = await fhir.create({"resourceType": "Location", "name": "Contract room"})
    slot_schedule = await fhir.create(
        {
            "resourceType": "Schedule",
            "active": True,
            "actor": [{"reference": f"Location/{location['id']}"}],
        }
    )
    slot = await fhir.create(
        {
            "resourceType": "Slot",
            "schedule": {"reference": f"Schedule/{slot_schedule['id']}"},
            "status": "free",
            "start": "2031-01-01T09:00:00Z",
            "end": "2031-01-01T09:15:00Z",
        }
    )
    busy = {**slot, "status": "busy"}

    responses = await asyncio.gather(
        *(
            fhir.put(
                f"Slot/{slot['id']}", {**busy, "comment": str(i)}, headers={"If-Match": 'W/"1"'}
            )
            for i in range(5)
        )
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 200
    # HAPI answers a loser 412 (stale If-Match) or, when it lost the race inside
    # the database, 409 (HAPI-0823 version constraint failure); clients treat both alike.
    assert set(statuses[1:]) <= {409, 412}
    assert statuses.count(200) == 1
    final = (await fhir.get(f"Slot/{slot['id']}")).json()
    assert final["meta"]["versionId"] == "2"
    assert final["status"] == "busy"


async def test_json_patch_replaces_and_adds_and_honours_if_match(fhir: Fhir) -> None:
    current = await fhir.create(patient(unique("Pa"), gender="male"))
    path = f"Patient/{current['id']}"
    ops = [
        {"op": "replace", "path": "/gender", "value": "female"},
        {"op": "add", "path": "/birthDate", "value": "1990-04-05"},
    ]

    patched = await fhir.request("PATCH", path, ops, content_type=JSON_PATCH)
    assert patched.status_code == 200
    assert patched.json()["gender"] == "female"
    assert patched.json()["birthDate"] == "1990-04-05"
    assert patched.json()["meta"]["versionId"] == "2"

    removed = await fhir.request(
        "PATCH",
        path,
        [{"op": "remove", "path": "/birthDate"}],
        content_type=JSON_PATCH,
        headers={"If-Match": 'W/"2"'},
    )
    assert removed.status_code == 200
    assert "birthDate" not in removed.json()

    stale = await fhir.request(
        "PATCH",
        path,
        [{"op": "replace", "path": "/gender", "value": "other"}],
        content_type=JSON_PATCH,
        headers={"If-Match": 'W/"1"'},
    )
    # HAPI answers a stale PATCH with 409 (its 412 rewrite covers only updates).
    assert stale.status_code == 409
    assert (await fhir.get(path)).json()["gender"] == "female"


async def test_patch_of_a_missing_path_is_400(fhir: Fhir) -> None:
    current = await fhir.create(patient(unique("Pm")))
    response = await fhir.request(
        "PATCH",
        f"Patient/{current['id']}",
        [{"op": "remove", "path": "/nothing"}],
        content_type=JSON_PATCH,
    )
    assert response.status_code == 400


async def test_delete_then_read_is_410_gone(fhir: Fhir) -> None:
    current = await fhir.create(patient(unique("Del")))
    path = f"Patient/{current['id']}"

    deleted = await fhir.request("DELETE", path)
    assert deleted.status_code == 200

    gone = await fhir.get(path)
    assert gone.status_code == 410
    assert gone.json()["resourceType"] == "OperationOutcome"
    ids = await fhir.search_ids("Patient", {"_id": current["id"]})
    assert ids == []


async def test_deleting_a_referenced_resource_is_409(fhir: Fhir) -> None:
    target = await fhir.create(patient(unique("Ref")))
    await fhir.create(
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2031-05-01T09:00:00Z",
            "end": "2031-05-01T09:15:00Z",
            "participant": [
                {"actor": {"reference": f"Patient/{target['id']}"}, "status": "accepted"}
            ],
        }
    )

    response = await fhir.request("DELETE", f"Patient/{target['id']}")

    assert response.status_code == 409
    assert (await fhir.get(f"Patient/{target['id']}")).status_code == 200


async def test_reference_to_a_missing_resource_is_400(fhir: Fhir) -> None:
    missing = unique("nobody-")
    response = await fhir.post(
        "Appointment",
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2031-05-01T09:00:00Z",
            "end": "2031-05-01T09:15:00Z",
            "participant": [{"actor": {"reference": f"Patient/{missing}"}, "status": "accepted"}],
        },
    )

    assert response.status_code == 400
    assert f"Patient/{missing} not found" in diagnostics(response)


async def test_errors_are_operation_outcomes_with_hapi_statuses(fhir: Fhir) -> None:
    unknown_id = await fhir.get(f"Patient/{unique('none-')}")
    assert unknown_id.status_code == 404
    assert unknown_id.json()["resourceType"] == "OperationOutcome"

    unknown_type = await fhir.get("Foo/1")
    assert unknown_type.status_code == 404
    assert "Unknown resource type" in diagnostics(unknown_type)

    malformed = await fhir.post("Patient", b"{not json")
    assert malformed.status_code == 400
    assert malformed.json()["resourceType"] == "OperationOutcome"

    wrong_type = await fhir.post("Patient", {"resourceType": "Practitioner"})
    assert wrong_type.status_code == 400

    bad_status = await fhir.post(
        "Slot",
        {
            "resourceType": "Slot",
            "status": "bogus",
            "start": "2031-01-01T09:00:00Z",
            "end": "2031-01-01T09:15:00Z",
        },
    )
    assert bad_status.status_code == 400

    bad_id = await fhir.put("Patient/bad_id!", {"resourceType": "Patient", "id": "bad_id!"})
    # 422 from a server that validates writes (ours does) before its own id check.
    assert bad_id.status_code in (400, 422)
    assert bad_id.json()["resourceType"] == "OperationOutcome"


async def test_unknown_version_is_404(fhir: Fhir) -> None:
    current = await fhir.create(patient(unique("V")))
    response = await fhir.get(f"Patient/{current['id']}/_history/99")
    assert response.status_code == 404


def same_base(url: str, base_url: str) -> bool:
    link, base = urlsplit(url), urlsplit(base_url)
    return (link.scheme, link.netloc) == (base.scheme, base.netloc) and link.path.startswith(
        base.path
    )


async def test_type_history_since_lists_the_versions_changed_since_newest_first(
    fhir: Fhir,
) -> None:
    before = await fhir.create(patient(unique("H")))
    await asyncio.sleep(0.01)  # lastUpdated has millisecond precision
    changed = await fhir.create(patient(unique("H")))
    updated = await fhir.put(
        f"Patient/{changed['id']}", {**changed, "active": True}, headers={"If-Match": 'W/"1"'}
    )
    assert updated.status_code == 200, updated.text
    since = changed["meta"]["lastUpdated"]

    response = await fhir.get("Patient/_history", params={"_since": since, "_count": "200"})

    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "history"
    versions = [
        (e["resource"]["id"], e["resource"]["meta"]["versionId"])
        for e in bundle.get("entry", [])
        if "resource" in e
    ]
    mine = [v for v in versions if v[0] in (before["id"], changed["id"])]
    # At or after _since: both versions of the changed patient, newest first; not `before`.
    assert mine == [(changed["id"], "2"), (changed["id"], "1")]
    stamps = [e["resource"]["meta"]["lastUpdated"] for e in bundle["entry"] if "resource" in e]
    assert all(stamp >= since for stamp in stamps)
