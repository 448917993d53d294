"""Transaction and batch Bundles: what the seed generator and the booking flow send."""

from __future__ import annotations

import uuid

from tests.contract.fhir import Fhir, unique


async def test_seed_like_transaction_of_puts_and_urn_uuid_posts(fhir: Fhir) -> None:
    tag = unique()
    patient_urn = f"urn:uuid:{unique('00000000-0000-0000-0000-')[:36]}"
    entries = [
        # The Slot names a Schedule that comes later in the Bundle: allowed.
        fhir.put_entry(
            {
                "resourceType": "Slot",
                "id": f"sl-{tag}",
                "schedule": {"reference": f"Schedule/sc-{tag}"},
                "status": "free",
                "start": "2031-04-01T09:00:00Z",
                "end": "2031-04-01T09:15:00Z",
            }
        ),
        fhir.put_entry(
            {"resourceType": "Practitioner", "id": f"pr-{tag}", "name": [{"family": "Doc"}]}
        ),
        fhir.put_entry(
            {
                "resourceType": "Schedule",
                "id": f"sc-{tag}",
                "actor": [{"reference": f"Practitioner/pr-{tag}"}],
            }
        ),
        {
            "fullUrl": patient_urn,
            "resource": {"resourceType": "Patient", "name": [{"family": f"Tx{tag}"}]},
            "request": {"method": "POST", "url": "Patient"},
        },
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {
                "resourceType": "Appointment",
                "status": "booked",
                "start": "2031-04-01T09:00:00Z",
                "end": "2031-04-01T09:15:00Z",
                "slot": [{"reference": f"Slot/sl-{tag}"}],
                "participant": [{"actor": {"reference": patient_urn}, "status": "accepted"}],
            },
            "request": {"method": "POST", "url": "Appointment"},
        },
    ]

    response = await fhir.transaction(entries)

    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in bundle["entry"]]
    assert statuses == ["201 Created"] * 5
    locations = [e["response"]["location"] for e in bundle["entry"]]
    assert locations[0] == f"Slot/sl-{tag}/_history/1"
    assert locations[2] == f"Schedule/sc-{tag}/_history/1"
    assert [e["response"]["etag"].strip('W/"') for e in bundle["entry"]] == ["1"] * 5
    patient_id = locations[3].split("/")[1]
    appointment = (await fhir.get(locations[4].rsplit("/_history", 1)[0])).json()
    assert appointment["participant"][0]["actor"]["reference"] == f"Patient/{patient_id}"

    # Sending the same seed again changes nothing: PUTs of identical content.
    again = await fhir.transaction(entries[:3])
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 3
    assert [e["response"]["location"] for e in again.json()["entry"]] == locations[:3]


async def test_transaction_is_all_or_nothing(fhir: Fhir) -> None:
    tag = unique()
    entries = [
        fhir.put_entry({"resourceType": "Patient", "id": f"atom-{tag}"}),
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {
                "resourceType": "Slot",
                "status": "free",
                "start": "2031-04-01T09:00:00Z",
                "end": "2031-04-01T09:15:00Z",
                "schedule": {"reference": f"Schedule/none-{tag}"},
            },
            "request": {"method": "POST", "url": "Slot"},
        },
    ]

    response = await fhir.transaction(entries)

    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert (await fhir.get(f"Patient/atom-{tag}")).status_code == 404


async def test_transaction_with_stale_if_match_fails_whole(fhir: Fhir) -> None:
    tag = unique()
    await fhir.transaction(
        [fhir.put_entry({"resourceType": "Patient", "id": f"im-{tag}", "gender": "male"})]
    )
    entries = [
        fhir.put_entry({"resourceType": "Patient", "id": f"other-{tag}"}),
        {
            "resource": {"resourceType": "Patient", "id": f"im-{tag}", "gender": "female"},
            "request": {"method": "PUT", "url": f"Patient/im-{tag}", "ifMatch": 'W/"7"'},
        },
    ]

    response = await fhir.transaction(entries)

    assert response.status_code in (409, 412)
    assert (await fhir.get(f"Patient/other-{tag}")).status_code == 404
    assert (await fhir.get(f"Patient/im-{tag}")).json()["gender"] == "male"


async def test_conditional_create_inside_a_transaction(fhir: Fhir) -> None:
    key = unique("k-")
    entry = {
        "resource": {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:test:k", "value": key}],
        },
        "request": {
            "method": "POST",
            "url": "Patient",
            "ifNoneExist": f"identifier=urn:test:k|{key}",
        },
    }

    first = await fhir.transaction([entry])
    second = await fhir.transaction([entry])

    assert first.json()["entry"][0]["response"]["status"] == "201 Created"
    assert second.json()["entry"][0]["response"]["status"] == "200 OK"
    assert (
        first.json()["entry"][0]["response"]["location"]
        == second.json()["entry"][0]["response"]["location"]
    )


async def test_batch_reports_each_entry_and_runs_deletes_before_reads(fhir: Fhir) -> None:
    tag = unique()
    entries = [
        fhir.put_entry({"resourceType": "Patient", "id": f"b-{tag}"}),
        {
            "resource": {
                "resourceType": "Slot",
                "status": "free",
                "start": "2031-04-01T09:00:00Z",
                "end": "2031-04-01T09:15:00Z",
                "schedule": {"reference": f"Schedule/none-{tag}"},
            },
            "request": {"method": "POST", "url": "Slot"},
        },
        {"request": {"method": "GET", "url": f"Patient?_id=b-{tag}"}},
    ]

    response = await fhir.transaction(entries, kind="batch")

    assert response.status_code == 200
    bundle = response.json()
    assert bundle["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in bundle["entry"]]
    assert statuses[0] == "201 Created"
    assert statuses[1].startswith("400")
    assert bundle["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert bundle["entry"][2]["resource"]["type"] == "searchset"
    assert (await fhir.get(f"Patient/b-{tag}")).status_code == 200


async def test_bundle_of_another_type_is_400(fhir: Fhir) -> None:
    response = await fhir.post("", {"resourceType": "Bundle", "type": "collection"})
    assert response.status_code == 400
