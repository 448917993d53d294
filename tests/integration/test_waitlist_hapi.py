"""The waitlist on the two real HAPI servers and Redis: a freed slot is offered once, to
the right patient, whether it was freed through the gateway or in the EHR itself."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.events import Event, EventLog
from gateway.state import RedisState
from mappers import encode_id
from tests.support.asgi import running
from tests.support.gateway_env import auth, clinic, patients, settings_for
from tests.support.processes import free_port, start_gateway, wait_gateway, write_config
from tests.support.waitlist_api import (
    forget_cursor,
    join,
    offers_for,
    wait_cursor,
    wait_for_offer,
)

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", f"waitlist-{uuid.uuid4().hex}")


def _visit_type() -> str:
    """A visit type no other test's slots or entries have."""
    return f"wl{uuid.uuid4().hex[:8]}"


async def _events_for(redis_url: str, slot: str) -> list[Event]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        log = EventLog(RedisState(client))
        found: list[Event] = []
        after = "0"
        # Page through the whole stream: other tests' events share it, ours are newest.
        while page := await log.read("general", after, block_seconds=0.01, count=1000):
            found += page
            after = page[-1].id
    finally:
        await client.aclose()
    return [e for e in found if e.data.get("slot_id") == slot]


async def test_a_cancel_through_the_gateway_offers_the_slot_once_to_the_first_in_line(
    hapi_base_urls, redis_url
):
    base_a, base_b = hapi_base_urls
    visit = _visit_type()
    c = await clinic(base_a, slots=1, service_type=visit)
    slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
    routine, urgent = (encode_id("ehr-a", "Patient", p) for p in await patients(base_a, 2))
    app = create_app(
        settings_for(base_a, base_b, redis_url, waitlist={"sweep_seconds": 60}),
        audit=MemoryAuditSink(),
    )
    async with running(app) as api:
        await join(api, routine, visit)
        urgent_entry = await join(api, urgent, visit, priority="urgent")
        booked = await api.post(
            "/v1/appointments",
            json={"slot_id": slot, "patient_id": encode_id("ehr-a", "Patient", c["patient"]["id"])},
            headers={**auth(), "Idempotency-Key": f"wl-{visit}"},
        )
        assert booked.status_code == 201, booked.text
        assert await offers_for(api, slot) == []  # a booked slot is nobody's offer
        cancelled = await api.post(
            f"/v1/appointments/{booked.json()['id']}/cancel",
            json={"reason": "patient called"},
            headers=auth(),
        )
        assert cancelled.status_code == 200, cancelled.text
        offer, _ = await wait_for_offer(api, slot, 10)
        assert (offer["patient_id"], offer["entry_id"]) == (urgent, urgent_entry)
        # The offer holds the slot in the EHR's name too: nobody else can book it.
        taken = await api.post(
            "/v1/appointments",
            json={"slot_id": slot, "patient_id": routine},
            headers={**auth(), "Idempotency-Key": f"wl-{visit}-b"},
        )
        assert (taken.status_code, taken.json()["code"]) == (409, "slot_held")
        accepted = await api.post(
            "/v1/appointments",
            json={"slot_id": slot, "patient_id": urgent, "hold_token": offer["hold_token"]},
            headers={**auth(), "Idempotency-Key": f"wl-{visit}-c"},
        )
        assert accepted.status_code == 201, accepted.text
        await app.state.runtime.waitlists["general"].drain()
        left = (
            await api.get("/v1/waitlist", headers=auth(), params={"service_type": visit})
        ).json()
        assert [e["patient_id"] for e in left["items"]] == [routine]
    kinds = [e.type for e in await _events_for(redis_url, slot)]
    assert kinds == ["waitlist.offer", "waitlist.booked"]


async def test_a_slot_freed_in_hapi_itself_is_offered_within_the_watch_interval(
    hapi_base_urls, redis_url
):
    base_a, base_b = hapi_base_urls
    visit = _visit_type()
    c = await clinic(base_a, slots=1, service_type=visit)
    upstream = c["slots"][0]
    slot = encode_id("ehr-a", "Slot", upstream["id"])
    [waiting] = (encode_id("ehr-a", "Patient", p) for p in await patients(base_a, 1))
    async with httpx.AsyncClient(base_url=base_a, timeout=30) as fhir:
        busy = (
            await fhir.put(f"/Slot/{upstream['id']}", json={**upstream, "status": "busy"})
        ).json()
    settings = settings_for(base_a, base_b, redis_url, watch="poll", watch_interval_seconds=0.5)
    await forget_cursor(redis_url, "general", "ehr-a")
    app = create_app(settings, audit=MemoryAuditSink())
    async with running(app) as api:
        entry = await join(api, waiting, visit)
        # The watcher takes its starting point before the EHR's own desk frees the slot.
        await wait_cursor(redis_url, "general", "ehr-a")
        async with httpx.AsyncClient(base_url=base_a, timeout=30) as fhir:
            freed = await fhir.put(f"/Slot/{upstream['id']}", json={**busy, "status": "free"})
            assert freed.status_code == 200, freed.text
        offer, waited = await wait_for_offer(api, slot, 20)
        assert (offer["patient_id"], offer["entry_id"]) == (waiting, entry)
        await asyncio.sleep(1.2)  # more rounds of the watcher: still one offer
        assert len(await offers_for(api, slot)) == 1
        print(f"\nwaitlist: slot freed on HAPI -> offer in {waited:.2f}s (poll every 0.5s)")
    assert [e.type for e in await _events_for(redis_url, slot)] == ["waitlist.offer"]


async def test_an_offer_not_taken_in_time_passes_to_the_next_in_line(hapi_base_urls, redis_url):
    base_a, base_b = hapi_base_urls
    visit = _visit_type()
    c = await clinic(base_a, slots=1, service_type=visit)
    slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
    first, second = (encode_id("ehr-a", "Patient", p) for p in await patients(base_a, 2))
    settings = settings_for(
        base_a, base_b, redis_url, waitlist={"offer_seconds": 5, "sweep_seconds": 0.3}
    )
    app = create_app(settings, audit=MemoryAuditSink())
    async with running(app) as api:
        first_entry = await join(api, first, visit)
        second_entry = await join(api, second, visit)
        booked = await api.post(
            "/v1/appointments",
            json={"slot_id": slot, "patient_id": encode_id("ehr-a", "Patient", c["patient"]["id"])},
            headers={**auth(), "Idempotency-Key": f"wl-{visit}"},
        )
        assert booked.status_code == 201, booked.text
        await api.post(
            f"/v1/appointments/{booked.json()['id']}/cancel",
            json={"reason": "patient called"},
            headers=auth(),
        )
        offer, _ = await wait_for_offer(api, slot, 10)
        assert offer["entry_id"] == first_entry
        passed, _ = await wait_for_offer(api, slot, 15, entry=second_entry)
        assert passed["patient_id"] == second
        assert passed["hold_token"] != offer["hold_token"]
    kinds = [(e.type, e.data["entry_id"]) for e in await _events_for(redis_url, slot)]
    assert kinds == [
        ("waitlist.offer", first_entry),
        ("waitlist.offer_expired", first_entry),
        ("waitlist.offer", second_entry),
    ]


async def test_two_gateway_processes_never_offer_one_freed_slot_twice(
    hapi_base_urls, redis_url, tmp_path
):
    """Both processes watch EHR A and both take cancellations: every freed slot is offered
    once, and no patient gets two offers at a time."""
    base_a, base_b = hapi_base_urls
    visit = _visit_type()
    c = await clinic(base_a, slots=3, service_type=visit)
    slots = [encode_id("ehr-a", "Slot", s["id"]) for s in c["slots"]]
    waiting = [encode_id("ehr-a", "Patient", p) for p in await patients(base_a, 4)]
    settings = settings_for(
        base_a,
        base_b,
        redis_url,
        watch="poll",
        watch_interval_seconds=0.3,
        audit_path=str(tmp_path / "audit.jsonl"),
    )
    config = write_config(settings, tmp_path / "frontdesk.yaml")
    await forget_cursor(redis_url, "general", "ehr-a")
    ports = [free_port(), free_port()]
    gateways = [
        start_gateway(config, port, tmp_path / f"gw{i}.log", wait=False)
        for i, port in enumerate(ports)
    ]
    try:
        for gateway, port in zip(gateways, ports, strict=True):
            wait_gateway(gateway, port)
        apis = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=30) for p in ports]
        try:
            booked = []
            for i, slot in enumerate(slots):
                r = await apis[i % 2].post(
                    "/v1/appointments",
                    json={
                        "slot_id": slot,
                        "patient_id": encode_id("ehr-a", "Patient", c["patient"]["id"]),
                    },
                    headers={**auth(), "Idempotency-Key": f"two-{visit}-{i}"},
                )
                assert r.status_code == 201, r.text
                booked.append(r.json()["id"])
            # Joined once the slots are taken: a watcher that sees their creation as new
            # free time (a cursor left from an earlier run) must not offer them first.
            for patient in waiting:
                await join(apis[0], patient, visit)
            cancels = await asyncio.gather(
                *(
                    apis[i % 2].post(
                        f"/v1/appointments/{a}/cancel", json={"reason": "ill"}, headers=auth()
                    )
                    for i, a in enumerate(booked)
                )
            )
            assert [r.status_code for r in cancels] == [200, 200, 200]
            for slot in slots:
                await wait_for_offer(apis[1], slot, 15)
            await asyncio.sleep(1.5)  # more watcher rounds in both processes
            offers = [o for slot in slots for o in await offers_for(apis[0], slot)]
        finally:
            for api in apis:
                await api.aclose()
    finally:
        for gateway in gateways:
            gateway.stop()
    assert sorted(o["slot_id"] for o in offers) == sorted(slots)
    assert len({o["entry_id"] for o in offers}) == 3, "one open offer per patient"
    assert {o["patient_id"] for o in offers} == set(waiting[:3]), "the first three in line"
    for slot in slots:
        assert [e.type for e in await _events_for(redis_url, slot)] == ["waitlist.offer"]
