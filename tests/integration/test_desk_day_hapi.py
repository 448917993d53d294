"""The desk's writes on the real HAPI servers: registration (with the duplicate refusal),
a correction against a stale version, check-in and no-show."""

from __future__ import annotations

import uuid

import httpx
import pytest

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from mappers import decode_id, encode_id
from tests.support.asgi import running
from tests.support.gateway_env import auth, clinic, settings_for

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", f"desk-{uuid.uuid4().hex}")


@pytest.fixture
async def api(hapi_base_urls, redis_url, tmp_path):
    base_a, base_b = hapi_base_urls
    app = create_app(
        settings_for(base_a, base_b, redis_url, audit_path=tmp_path / "a.jsonl"),
        audit=MemoryAuditSink(),
    )
    async with running(app) as client:
        yield client


async def _count(base_url: str, identifier: str) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.get(
            f"{base_url}/Patient",
            params={"identifier": identifier, "_summary": "count"},
            headers={"Cache-Control": "no-cache"},
        )
    total: int = r.json()["total"]
    return total


async def test_registration_refuses_a_known_person_then_creates_once(api, hapi_base_urls):
    base_a, base_b = hapi_base_urls
    known = await clinic(base_a)
    key = f"D-{uuid.uuid4().hex[:10]}"
    body = {
        "source": "ehr-b",
        "identifier": {"system": "urn:test:desk", "value": key},
        "name": {"family": known["family"], "given": ["Maria"]},
        "birth_date": "1984-03-09",
        "gender": "female",
    }
    refused = await api.post("/v1/patients", json=body, headers=auth())
    assert (refused.status_code, refused.json()["code"]) == (409, "possible_duplicate")
    first = refused.json()["candidates"][0]
    assert first["patient"]["id"] == encode_id("ehr-a", "Patient", known["patient"]["id"]), [
        (c["grade"], c["agreeing"], (c.get("match") or {}).get("match_probability"))
        for c in refused.json()["candidates"]
    ]
    assert await _count(base_b, f"urn:test:desk|{key}") == 0
    made = await api.post("/v1/patients", json={**body, "confirm_new": True}, headers=auth())
    assert made.status_code == 201, made.text
    again = await api.post("/v1/patients", json={**body, "confirm_new": True}, headers=auth())
    assert again.json()["id"] == made.json()["id"]
    assert await _count(base_b, f"urn:test:desk|{key}") == 1


async def test_a_correction_against_a_stale_version_loses_nothing(api, hapi_base_urls):
    base_a, _ = hapi_base_urls
    c = await clinic(base_a)
    pid = encode_id("ehr-a", "Patient", c["patient"]["id"])
    read = (await api.get(f"/v1/patients/{pid}", headers=auth())).json()
    first = await api.patch(
        f"/v1/patients/{pid}",
        json={"phones": [{"value": "555-0123", "use": "home"}]},
        headers={**auth(), "If-Match": f'W/"{read["version"]}"'},
    )
    assert first.status_code == 200, first.text
    late = await api.patch(
        f"/v1/patients/{pid}",
        json={"phones": [{"value": "555-0999", "use": "home"}]},
        headers={**auth(), "If-Match": f'W/"{read["version"]}"'},
    )
    assert (late.status_code, late.json()["code"]) == (409, "version_conflict")
    async with httpx.AsyncClient(timeout=30) as http:
        stored = (await http.get(f"{base_a}/Patient/{decode_id(pid).id}")).json()
    assert [t["value"] for t in stored["telecom"]] == ["555-0123"]
    assert stored["name"][0]["family"] == c["family"]


async def test_check_in_and_no_show_on_hapi(api, hapi_base_urls):
    base_a, _ = hapi_base_urls
    c = await clinic(base_a, slots=2)
    pid = encode_id("ehr-a", "Patient", c["patient"]["id"])
    booked = []
    for i in range(2):
        r = await api.post(
            "/v1/appointments",
            json={"slot_id": encode_id("ehr-a", "Slot", c["slots"][i]["id"]), "patient_id": pid},
            headers={**auth(), "Idempotency-Key": f"day-{c['run']}-{i}"},
        )
        assert r.status_code == 201, r.text
        booked.append(r.json()["id"])
    arrived = await api.post(f"/v1/appointments/{booked[0]}/check-in", headers=auth())
    assert arrived.status_code == 200 and arrived.json()["status"] == "arrived"
    refused = await api.post(f"/v1/appointments/{booked[0]}/no-show", headers=auth())
    assert refused.json()["code"] == "invalid_transition"
    missed = await api.post(f"/v1/appointments/{booked[1]}/no-show", headers=auth())
    assert missed.json()["status"] == "noshow"
    async with httpx.AsyncClient(timeout=30) as http:
        for gid, status in zip(booked, ("arrived", "noshow"), strict=True):
            stored = (await http.get(f"{base_a}/Appointment/{decode_id(gid).id}")).json()
            assert stored["status"] == status
