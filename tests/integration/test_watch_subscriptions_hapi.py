"""Sources watched by rest-hook Subscriptions on the real HAPI servers: a gateway process on
a loopback port subscribes, HAPI notifies it of changes made in HAPI itself, and a freed
slot is offered to the waitlist on the notification, long before any poll would run.

The gateway's hook answers only the token it gave each source, accepts the bare POST HAPI
sends (hapi-server/README.md "Subscriptions"), replaces a Subscription left with a token
it no longer accepts, and deletes its Subscriptions when it stops.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from typing import Any

import httpx
import pytest

from gateway.services.watch import hook_token
from mappers import encode_id
from tests.support.gateway_env import clinic, patients, settings_for
from tests.support.processes import free_port, running, start_gateway, write_config
from tests.support.waitlist_api import forget_cursor, join, wait_cursor, wait_for_offer

pytestmark = [pytest.mark.hapi, pytest.mark.redis]

SECRET_ENV = "FRONTDESK_HOOK_SECRET"
# Generous: the two JVMs share 2 cores with the rest of the suite.
WAIT = 30.0
RESTART_HINT = "is HAPI running a build with rest-hook subscriptions? (make hapi-stop && make hapi)"
# What HAPI sends for a Subscription without payload: the endpoint exactly, empty body.
BARE = {"Content-Type": "application/x-www-form-urlencoded"}


async def _subscriptions_to(fhir: httpx.AsyncClient, endpoint: str) -> list[dict[str, Any]]:
    r = await fhir.get("/Subscription", params={"url": endpoint, "_count": "50"})
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", [])]


async def _left(base_a: str, base_b: str, gateway_url: str) -> list[tuple[str, str]]:
    """(server, Subscription id) of every Subscription to this gateway's hooks."""
    hooks = (
        (base_a, "general/ehr-a"),
        (base_b, "general/ehr-b"),
        (base_b, "other/ehr-c"),
    )
    found = []
    for base, path in hooks:
        async with httpx.AsyncClient(base_url=base, timeout=30) as server:
            endpoint = f"{gateway_url}/v1/hooks/{path}"
            found += [(base, str(s["id"])) for s in await _subscriptions_to(server, endpoint)]
    return found


async def _wait_subscribed(fhir: httpx.AsyncClient, endpoint: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WAIT
    while True:
        found = await _subscriptions_to(fhir, endpoint)
        if len(found) == 2 and all(s["status"] == "active" for s in found):
            return found
        assert time.monotonic() < deadline, f"no two active Subscriptions: {RESTART_HINT}"
        await asyncio.sleep(0.1)


def _log_events(log_text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]


async def test_a_slot_freed_in_hapi_is_offered_on_its_notification(
    hapi_base_urls, redis_url, tmp_path, monkeypatch
):
    base_a, base_b = hapi_base_urls
    secret = secrets.token_urlsafe(24)
    monkeypatch.setenv(SECRET_ENV, secret)
    visit = f"sub{uuid.uuid4().hex[:8]}"
    c = await clinic(base_a, slots=2, service_type=visit)
    freed_slot, booked_slot = c["slots"]
    waiting = [encode_id("ehr-a", "Patient", p) for p in await patients(base_a, 2)]
    port = free_port()
    gateway_url = f"http://127.0.0.1:{port}"
    endpoint = f"{gateway_url}/v1/hooks/general/ehr-a"
    settings = settings_for(
        base_a,
        base_b,
        redis_url,
        watch="subscription",
        hooks={"public_base_url": gateway_url, "secret": {"env": SECRET_ENV}},
        audit_path=str(tmp_path / "audit.jsonl"),
    )
    config = write_config(settings, tmp_path / "frontdesk.yaml")
    async with httpx.AsyncClient(base_url=base_a, timeout=30) as fhir:
        try:
            # Both slots taken in HAPI: one plainly busy, one by an Appointment.
            busy = (
                await fhir.put(f"/Slot/{freed_slot['id']}", json={**freed_slot, "status": "busy"})
            ).json()
            taken = (
                await fhir.put(f"/Slot/{booked_slot['id']}", json={**booked_slot, "status": "busy"})
            ).json()
            made = await fhir.post(
                "/Appointment",
                json={
                    "resourceType": "Appointment",
                    "status": "booked",
                    "start": booked_slot["start"],
                    "end": booked_slot["end"],
                    "slot": [{"reference": f"Slot/{booked_slot['id']}"}],
                    "participant": [
                        {
                            "actor": {"reference": f"Patient/{c['patient']['id']}"},
                            "status": "accepted",
                        }
                    ],
                },
            )
            assert made.status_code == 201, made.text
            appointment = made.json()
            # One left at our hook by an earlier run, with a token the hook no longer takes.
            stale = await fhir.post(
                "/Subscription",
                json={
                    "resourceType": "Subscription",
                    "status": "requested",
                    "reason": "frontdesk: an earlier secret",
                    "criteria": "Slot?",
                    "channel": {
                        "type": "rest-hook",
                        "endpoint": endpoint,
                        "header": ["Authorization: Bearer not-the-token-any-more"],
                    },
                },
            )
            assert stale.status_code == 201, stale.text

            await forget_cursor(redis_url, "general", "ehr-a")
            with running(start_gateway(config, port, tmp_path / "gateway.log")) as (gateway,):
                async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as api:
                    entries = [await join(api, patient, visit) for patient in waiting]
                    subscribed = await _wait_subscribed(fhir, endpoint)
                    await wait_cursor(redis_url, "general", "ehr-a", WAIT)
                    assert sorted(s["criteria"] for s in subscribed) == ["Appointment?", "Slot?"]
                    token = hook_token(secret, "general", "ehr-a")
                    for s in subscribed:
                        assert s["channel"]["header"] == [f"Authorization: Bearer {token}"]
                        assert "payload" not in s["channel"]  # no patient data in a notification
                    assert (
                        await fhir.get(f"/Subscription/{stale.json()['id']}")
                    ).status_code == 410

                    # The EHR's own desk frees one slot, and cancels the other's appointment.
                    freed = await fhir.put(
                        f"/Slot/{freed_slot['id']}", json={**busy, "status": "free"}
                    )
                    assert freed.status_code == 200, freed.text
                    # The watch interval is the default (30 s; its safety poll 10 times
                    # slower): an offer within seconds came from the notification.
                    first, _ = await wait_for_offer(
                        api, encode_id("ehr-a", "Slot", freed_slot["id"]), 10
                    )
                    cancel = await fhir.post(
                        "/",
                        json={
                            "resourceType": "Bundle",
                            "type": "transaction",
                            "entry": [
                                {
                                    "fullUrl": f"{base_a}/Appointment/{appointment['id']}",
                                    "resource": {**appointment, "status": "cancelled"},
                                    "request": {
                                        "method": "PUT",
                                        "url": f"Appointment/{appointment['id']}",
                                    },
                                },
                                {
                                    "fullUrl": f"{base_a}/Slot/{booked_slot['id']}",
                                    "resource": {**taken, "status": "free"},
                                    "request": {
                                        "method": "PUT",
                                        "url": f"Slot/{booked_slot['id']}",
                                    },
                                },
                            ],
                        },
                    )
                    assert cancel.status_code == 200, cancel.text
                    second, _ = await wait_for_offer(
                        api, encode_id("ehr-a", "Slot", booked_slot["id"]), 10
                    )
                    assert [(o["patient_id"], o["entry_id"]) for o in (first, second)] == list(
                        zip(waiting, entries, strict=True)
                    )

                    # The hook takes this source's token only, and HAPI's bare POST with it.
                    for refused in (
                        {},
                        {"Authorization": "Bearer not-the-token"},
                        {"Authorization": f"Bearer {hook_token(secret, 'general', 'ehr-b')}"},
                        {"Authorization": "Bearer not-the-token-any-more"},
                    ):
                        r = await api.post(
                            "/v1/hooks/general/ehr-a", content=b"", headers={**BARE, **refused}
                        )
                        assert r.status_code == 401, (refused, r.text)
                        assert r.json()["code"] == "unauthorized"
                    r = await api.post(
                        "/v1/hooks/general/ehr-a",
                        content=b"",
                        headers={
                            **BARE,
                            "Authorization": f"Bearer {token}",
                            "If-None-Exist": endpoint,
                        },
                    )
                    assert r.status_code == 200, r.text
            events = _log_events(gateway.tail(200_000))
            watching = {e["source"]: e["mode"] for e in events if e.get("event") == "watching"}
            assert watching == {
                "ehr-a": "subscription",
                "ehr-b": "subscription",
                "ehr-c": "subscription",
            }
            hooks = [e["status"] for e in events if e.get("route") == "/v1/hooks/{tenant}/{source}"]
            assert hooks.count(200) >= 3, hooks  # two changes notified, one posted by the test
            # Stopped: the gateway deleted the Subscriptions it made, on both servers.
            assert await _left(base_a, base_b, gateway_url) == []
        finally:
            for base, left in await _left(base_a, base_b, gateway_url):
                async with httpx.AsyncClient(base_url=base, timeout=30) as server:
                    await server.delete(f"/Subscription/{left}")
