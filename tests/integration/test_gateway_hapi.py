"""The whole PSR flow through the gateway against real HAPI FHIR servers and a real Redis."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from mappers import decode_id, encode_id
from tests.support.asgi import running
from tests.support.gateway_env import (
    OTHER_TENANT_KEY,
    READ_ONLY_KEY,
    auth,
    clinic,
    patients,
    settings_for,
)

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


@pytest.fixture
def hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "integration-secret")


async def _fhir_get(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.get(url, headers={"Cache-Control": "no-cache"})
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body


async def test_psr_flow_find_book_cancel_reschedule(
    hapi_base_urls, redis_url, hash_key, tmp_path: Path
):
    base_a, base_b = hapi_base_urls
    c = await clinic(base_a, slots=3)
    audit = MemoryAuditSink()
    app = create_app(
        settings_for(base_a, base_b, redis_url, audit_path=tmp_path / "a.jsonl"), audit=audit
    )
    async with running(app) as api:
        # 1. find the patient
        r = await api.get("/v1/patients", params={"family": c["family"]}, headers=auth())
        assert r.status_code == 200, r.text
        body = r.json()
        assert {s["source"]: s["status"] for s in body["sources"]} == {"ehr-a": "ok", "ehr-b": "ok"}
        [patient] = body["items"]
        assert decode_id(patient["id"]).id == c["patient"]["id"]

        # 2. find a slot with that practitioner
        start = c["start"] - timedelta(hours=1)
        prac_id = encode_id("ehr-a", "Practitioner", c["practitioner"]["id"])
        r = await api.get(
            "/v1/slots",
            params={
                "start": start.isoformat(),
                "end": (start + timedelta(days=1)).isoformat(),
                "practitioner": prac_id,
            },
            headers=auth(),
        )
        assert r.status_code == 200, r.text
        slots = r.json()["items"]
        assert [decode_id(s["id"]).id for s in slots] == [s["id"] for s in c["slots"]]

        # 3. book it
        r = await api.post(
            "/v1/appointments",
            json={"slot_id": slots[0]["id"], "patient_id": patient["id"]},
            headers={**auth(), "Idempotency-Key": "k-" + c["run"]},
        )
        assert r.status_code == 201, r.text
        appt = r.json()
        assert appt["status"] == "booked"
        assert appt["patient_id"] == patient["id"]
        appt_upstream = decode_id(appt["id"]).id
        stored = await _fhir_get(f"{base_a}/Appointment/{appt_upstream}")
        assert stored["status"] == "booked"
        assert stored["slot"] == [{"reference": f"Slot/{c['slots'][0]['id']}"}]
        assert (await _fhir_get(f"{base_a}/Slot/{c['slots'][0]['id']}"))["status"] == "busy"

        # the booked slot is gone from the (cache-invalidated) slot list
        r = await api.get(
            "/v1/slots",
            params={
                "start": start.isoformat(),
                "end": (start + timedelta(days=1)).isoformat(),
                "practitioner": prac_id,
            },
            headers=auth(),
        )
        assert [s["id"] for s in r.json()["items"]] == [s["id"] for s in slots[1:]]

        # idempotent replay: same key, same body → same appointment, no second one
        r2 = await api.post(
            "/v1/appointments",
            json={"slot_id": slots[0]["id"], "patient_id": patient["id"]},
            headers={**auth(), "Idempotency-Key": "k-" + c["run"]},
        )
        assert r2.status_code == 200 and r2.json()["id"] == appt["id"]
        assert r2.headers["Idempotent-Replayed"] == "true"
        # same key, other body → conflict
        r3 = await api.post(
            "/v1/appointments",
            json={"slot_id": slots[1]["id"], "patient_id": patient["id"]},
            headers={**auth(), "Idempotency-Key": "k-" + c["run"]},
        )
        assert r3.status_code == 409 and r3.json()["code"] == "idempotency_conflict"
        # the same patient at the same time again → patient_conflict (naming the booking)
        r4 = await api.post(
            "/v1/appointments",
            json={"slot_id": slots[0]["id"], "patient_id": patient["id"]},
            headers={**auth(), "Idempotency-Key": "other-" + c["run"]},
        )
        assert r4.status_code == 409 and r4.json()["code"] == "patient_conflict"
        assert [x["id"] for x in r4.json()["conflicts"]] == [appt["id"]]
        # someone else, the taken slot → slot_taken
        [someone] = await patients(base_a, 1)
        r5 = await api.post(
            "/v1/appointments",
            json={"slot_id": slots[0]["id"], "patient_id": encode_id("ehr-a", "Patient", someone)},
            headers={**auth(), "Idempotency-Key": "someone-" + c["run"]},
        )
        assert r5.status_code == 409 and r5.json()["code"] == "slot_taken"
        assert r4.headers["content-type"].startswith("application/problem+json")

        # 4. reschedule to slot 2: new booked, old cancelled, old slot free
        r = await api.post(
            f"/v1/appointments/{appt['id']}/reschedule",
            json={"slot_id": slots[1]["id"], "reason": "patient asked"},
            headers={**auth(), "Idempotency-Key": "rs-" + c["run"]},
        )
        assert r.status_code == 200, r.text
        res = r.json()
        assert res["status"] == "rescheduled"
        assert res["previous"]["status"] == "cancelled"
        assert res["appointment"]["status"] == "booked"
        assert (await _fhir_get(f"{base_a}/Slot/{c['slots'][0]['id']}"))["status"] == "free"
        assert (await _fhir_get(f"{base_a}/Slot/{c['slots'][1]['id']}"))["status"] == "busy"

        # 5. cancel the new one: slot 2 is free again
        new_id = res["appointment"]["id"]
        r = await api.post(
            f"/v1/appointments/{new_id}/cancel", json={"reason": "sick"}, headers=auth()
        )
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert r.json()["cancellation_reason"] == "sick"
        assert (await _fhir_get(f"{base_a}/Slot/{c['slots'][1]['id']}"))["status"] == "free"

        # the patient's appointments in range
        r = await api.get(
            "/v1/appointments",
            params={
                "patient": patient["id"],
                "start": start.isoformat(),
                "end": (start + timedelta(days=2)).isoformat(),
            },
            headers=auth(),
        )
        assert r.status_code == 200, r.text
        assert sorted(a["status"] for a in r.json()["items"]) == ["cancelled", "cancelled"]

    actions = [e.action for e in audit.events]
    assert "patient.search" in actions and "appointment.book" in actions
    assert all(e.client_id == "desk" for e in audit.events)


async def test_same_upstream_id_in_two_ehrs_are_two_patients(
    hapi_base_urls, redis_url, hash_key, tmp_path
):
    base_a, base_b = hapi_base_urls
    async with httpx.AsyncClient(timeout=30) as http:
        for base, given in ((base_a, "Alpha"), (base_b, "Beta")):
            r = await http.put(
                f"{base}/Patient/gw-same-1",
                json={
                    "resourceType": "Patient",
                    "id": "gw-same-1",
                    "name": [{"family": "Namespaced", "given": [given]}],
                    "birthDate": "1970-01-01",
                },
            )
            assert r.status_code in (200, 201)
    app = create_app(settings_for(base_a, base_b, redis_url, audit_path=tmp_path / "a.jsonl"))
    async with running(app) as api:
        ra = await api.get(
            f"/v1/patients/{encode_id('ehr-a', 'Patient', 'gw-same-1')}", headers=auth()
        )
        rb = await api.get(
            f"/v1/patients/{encode_id('ehr-b', 'Patient', 'gw-same-1')}", headers=auth()
        )
        assert ra.status_code == rb.status_code == 200
        assert ra.json()["name"]["given"] == ["Alpha"]
        assert rb.json()["name"]["given"] == ["Beta"]
        assert ra.json()["id"] != rb.json()["id"]


async def test_tenant_isolation_and_scopes(hapi_base_urls, redis_url, hash_key, tmp_path):
    base_a, base_b = hapi_base_urls
    c = await clinic(base_a, slots=1)
    app = create_app(settings_for(base_a, base_b, redis_url, audit_path=tmp_path / "a.jsonl"))
    pid = encode_id("ehr-a", "Patient", c["patient"]["id"])
    async with running(app) as api:
        # another tenant asking for EHR A's patient: 404, never the data
        r = await api.get(f"/v1/patients/{pid}", headers=auth(OTHER_TENANT_KEY))
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert c["family"] not in r.text
        # read-only client can't book
        r = await api.post(
            "/v1/appointments",
            json={"slot_id": encode_id("ehr-a", "Slot", c["slots"][0]["id"]), "patient_id": pid},
            headers={**auth(READ_ONLY_KEY), "Idempotency-Key": "x"},
        )
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        # no credentials at all
        r = await api.get(f"/v1/patients/{pid}")
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
        assert (await _fhir_get(f"{base_a}/Slot/{c['slots'][0]['id']}"))["status"] == "free"


def test_audit_file_is_json_lines(tmp_path):
    from gateway.audit import AuditEvent, FileAuditSink

    sink = FileAuditSink(tmp_path / "audit.jsonl")
    sink.write(AuditEvent("desk", "general", "patient.read", "success", "r1", ("pid",), ("ehr-a",)))
    sink.close()
    [line] = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert json.loads(line)["patient_ids"] == ["pid"]
