"""The schedule's safety net on the two real HAPI servers and Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import httpx
import pytest

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from mappers import encode_id
from tests.support.asgi import running
from tests.support.gateway_env import (
    API_KEY,
    SECOND_DESK_KEY,
    SUPERVISOR_KEY,
    auth,
    clinic,
    settings_for,
)

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", f"net-{uuid.uuid4().hex}")


async def _booked_on(base_url: str, slot_id: str) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.get(
            f"{base_url}/Appointment",
            params={"slot": f"Slot/{slot_id}", "status:not": "cancelled", "_summary": "count"},
            headers={"Cache-Control": "no-cache"},
        )
    total: int = r.json()["total"]
    return total


async def test_a_conflict_across_the_two_ehrs_is_refused_then_allowed_and_audited(
    hapi_base_urls, redis_url, tmp_path
):
    base_a, base_b = hapi_base_urls
    family = f"Conflict{uuid.uuid4().hex[:8]}"
    a = await clinic(base_a, slots=1, family=family)
    b = await clinic(base_b, slots=1, family=family)
    audit = MemoryAuditSink()
    app = create_app(
        settings_for(base_a, base_b, redis_url, audit_path=tmp_path / "a.jsonl"), audit=audit
    )
    pa = encode_id("ehr-a", "Patient", a["patient"]["id"])
    pb = encode_id("ehr-b", "Patient", b["patient"]["id"])
    b_slot = encode_id("ehr-b", "Slot", b["slots"][0]["id"])
    async with running(app) as api:

        async def book(slot: str, patient: str, key: str, n: str, **extra: object):
            return await api.post(
                "/v1/appointments",
                json={"slot_id": slot, "patient_id": patient, **extra},
                headers={**auth(key), "Idempotency-Key": f"{family}-{n}"},
            )

        first = await book(encode_id("ehr-a", "Slot", a["slots"][0]["id"]), pa, API_KEY, "a")
        assert first.status_code == 201, first.text
        refused = await book(b_slot, pb, SECOND_DESK_KEY, "b")
        assert (refused.status_code, refused.json()["code"]) == (409, "patient_conflict")
        assert refused.json()["conflicts"][0]["source"] == "ehr-a"
        why = {"allow_conflict": {"reason": "supervisor: same-day follow-up"}}
        forbidden = await book(b_slot, pb, SECOND_DESK_KEY, "c", **why)
        assert forbidden.status_code == 403
        allowed = await book(b_slot, pb, SUPERVISOR_KEY, "d", **why)
        assert allowed.status_code == 201, allowed.text
    assert await _booked_on(base_b, b["slots"][0]["id"]) == 1
    reasons = [e.reason for e in audit.events if e.client_id == "supervisor"]
    assert reasons == ["conflict allowed: supervisor: same-day follow-up"]


async def test_the_overbook_limit_holds_under_twenty_concurrent_attempts(
    hapi_base_urls, redis_url, tmp_path
):
    base_a, base_b = hapi_base_urls
    c = await clinic(base_a, slots=1)
    slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
    people = [c["patient"]["id"]]
    for _ in range(20):
        people.append((await clinic(base_a, slots=0))["patient"]["id"])
    app = create_app(
        settings_for(base_a, base_b, redis_url, audit_path=tmp_path / "a.jsonl"),
        audit=MemoryAuditSink(),
    )
    async with running(app) as api:
        ordinary = await api.post(
            "/v1/appointments",
            json={"slot_id": slot, "patient_id": encode_id("ehr-a", "Patient", people[0])},
            headers={**auth(), "Idempotency-Key": f"ob-{c['run']}-0"},
        )
        assert ordinary.status_code == 201, ordinary.text

        async def overbook(i: int) -> httpx.Response:
            return await api.post(
                "/v1/appointments",
                json={
                    "slot_id": slot,
                    "patient_id": encode_id("ehr-a", "Patient", people[i]),
                    "overbook": {"reason": "urgent"},
                },
                headers={**auth(SUPERVISOR_KEY), "Idempotency-Key": f"ob-{c['run']}-{i}"},
            )

        answers = await asyncio.gather(*(overbook(i) for i in range(1, 21)))
    codes = Counter((r.status_code, r.json().get("code")) for r in answers)
    # The tenant's limit is one extra booking: exactly one overbooking wins.
    assert codes[(201, None)] == 1, codes
    assert set(codes) <= {(201, None), (409, "overbook_limit"), (409, "slot_taken")}, codes
    assert await _booked_on(base_a, c["slots"][0]["id"]) == 2


async def test_a_no_cache_slot_read_sees_a_change_made_in_hapi_at_once(hapi_base_urls, redis_url):
    base_a, base_b = hapi_base_urls
    c = await clinic(base_a, slots=2)
    app = create_app(settings_for(base_a, base_b, redis_url))
    window = {
        "start": (c["start"] - timedelta(minutes=5)).isoformat(),
        "end": (c["start"] + timedelta(hours=2)).isoformat(),
        "source": "ehr-a",
        "practitioner": encode_id("ehr-a", "Practitioner", c["practitioner"]["id"]),
    }
    taken = c["slots"][0]
    taken_id = encode_id("ehr-a", "Slot", taken["id"])

    async def shown(**headers: str) -> set[str]:
        r = await api.get("/v1/slots", params=window, headers={**auth(), **headers})
        assert r.status_code == 200, r.text
        return {s["id"] for s in r.json()["items"]}

    async with running(app) as api:
        assert taken_id in await shown()
        # The EHR's own desk books it: the gateway's cache doesn't know yet.
        async with httpx.AsyncClient(base_url=base_a, timeout=30) as fhir:
            r = await fhir.put(f"/Slot/{taken['id']}", json={**taken, "status": "busy"})
            assert r.status_code == 200, r.text
        assert taken_id in await shown(), "served from the cache within its time to live"
        assert taken_id not in await shown(**{"Cache-Control": "no-cache"})
