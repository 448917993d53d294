"""Holds on the real HAPI servers and Redis: honoured under concurrent bookings, expiring."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from mappers import encode_id
from tests.support.asgi import running
from tests.support.gateway_env import (
    API_KEY,
    SECOND_DESK_KEY,
    auth,
    clinic,
    patients,
    settings_for,
)

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", f"holds-{uuid.uuid4().hex}")


async def _appointments_for_slot(api, base_url: str, slot_id: str) -> int:
    import httpx

    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.get(
            f"{base_url}/Appointment",
            params={"slot": f"Slot/{slot_id}", "_summary": "count"},
            headers={"Cache-Control": "no-cache"},
        )
    total: int = r.json()["total"]
    return total


async def test_a_hold_is_honoured_under_twenty_concurrent_bookings(
    hapi_base_urls, redis_url, tmp_path
):
    base_a, base_b = hapi_base_urls
    c = await clinic(base_a, slots=1)
    slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
    # Twenty people: one person asking twice would be a patient_conflict, not a slot race.
    people = [encode_id("ehr-a", "Patient", p) for p in await patients(base_a, 20)]
    app = create_app(
        settings_for(base_a, base_b, redis_url, audit_path=tmp_path / "a.jsonl"),
        audit=MemoryAuditSink(),
    )
    async with running(app) as api:
        held = await api.post(f"/v1/slots/{slot}/hold", json={"minutes": 5}, headers=auth())
        assert held.status_code == 201, held.text
        token = held.json()["hold_token"]

        async def book(i: int):
            holder = i == 7
            body = {"slot_id": slot, "patient_id": people[i]}
            if holder:
                body["hold_token"] = token
            key = API_KEY if holder or i % 2 else SECOND_DESK_KEY
            return await api.post(
                "/v1/appointments",
                json=body,
                headers={**auth(key), "Idempotency-Key": f"race-{c['run']}-{i}"},
            )

        answers = await asyncio.gather(*(book(i) for i in range(20)))
    codes = sorted((r.status_code, r.json().get("code")) for r in answers)
    winners = [r for i, r in enumerate(answers) if r.status_code == 201]
    assert len(winners) == 1 and answers[7].status_code == 201, codes
    # Before the holder books: slot_held; after (the hold consumed): slot_taken.
    assert {code for status, code in codes if status != 201} <= {"slot_held", "slot_taken"}
    assert "slot_held" in {code for _, code in codes}, codes
    assert await _appointments_for_slot(None, base_a, c["slots"][0]["id"]) == 1


async def test_an_expired_hold_lets_another_desk_book(hapi_base_urls, redis_url, tmp_path):
    base_a, base_b = hapi_base_urls
    c = await clinic(base_a, slots=1)
    slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
    patient = encode_id("ehr-a", "Patient", c["patient"]["id"])
    app = create_app(
        settings_for(base_a, base_b, redis_url, audit_path=tmp_path / "a.jsonl"),
        audit=MemoryAuditSink(),
    )
    async with running(app) as api:
        held = await api.post(f"/v1/slots/{slot}/hold", json={"minutes": 1}, headers=auth())
        assert held.status_code == 201
        blocked = await api.post(
            "/v1/appointments",
            json={"slot_id": slot, "patient_id": patient},
            headers={**auth(SECOND_DESK_KEY), "Idempotency-Key": f"exp-{c['run']}-1"},
        )
        assert blocked.json()["code"] == "slot_held"
        # Time passes: the hold's key is the only one the gateway wrote for this slot.
        client = aioredis.Redis.from_url(redis_url)
        try:
            keys = [k async for k in client.scan_iter(match="fd:hold:general:*")]
            ttls = [await client.pttl(k) for k in keys]
            mine = [k for k, ttl in zip(keys, ttls, strict=True) if 0 < ttl <= 60_000]
            assert mine, "the hold is in Redis with its TTL"
            for key in mine:
                await client.pexpire(key, 1)
        finally:
            await client.aclose()
        await asyncio.sleep(0.05)
        booked = await api.post(
            "/v1/appointments",
            json={"slot_id": slot, "patient_id": patient},
            headers={**auth(SECOND_DESK_KEY), "Idempotency-Key": f"exp-{c['run']}-2"},
        )
        assert booked.status_code == 201, booked.text
