"""The event stream (`GET /v1/events`) from real gateway processes on HAPI and Redis: it
delivers what happens to a connected desk, and a desk that lost it (the gateway was
killed and restarted) gets what it missed by reconnecting with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from mappers import encode_id
from tests.support.gateway_env import READ_ONLY_KEY, auth, clinic, settings_for
from tests.support.processes import free_port, start_gateway, write_config

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


async def _next_event(
    lines: Any, wanted: set[str], seconds: float = 20.0
) -> tuple[str, str, dict[str, Any]]:
    """The next (id, type, data) whose data names one of ``wanted`` appointments (other
    tests' events share the tenant's stream)."""

    async def read() -> tuple[str, str, dict[str, Any]]:
        ident, kind, data = "", "", ""
        async for line in lines:
            if line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                parsed = json.loads(data)
                if parsed.get("appointment_id") in wanted:
                    return ident, kind, parsed
                ident, kind, data = "", "", ""
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(read(), seconds)


def _order(event_id: str) -> tuple[int, int]:
    ms, seq = event_id.split("-")
    return int(ms), int(seq)


async def _book_and_check_in(api: httpx.AsyncClient, slot: str, patient: str) -> str:
    booked = await api.post(
        "/v1/appointments",
        json={"slot_id": slot, "patient_id": patient},
        headers={**auth(), "Idempotency-Key": f"events-{uuid.uuid4().hex}"},
    )
    assert booked.status_code == 201, booked.text
    appointment: str = booked.json()["id"]
    checked = await api.post(f"/v1/appointments/{appointment}/check-in", headers=auth())
    assert checked.status_code == 200, checked.text
    return appointment


async def test_the_stream_delivers_and_resumes_after_a_gateway_restart(
    hapi_base_urls, redis_url, tmp_path: Path
):
    base_a, base_b = hapi_base_urls
    c = await clinic(base_a, slots=2)
    slots = [encode_id("ehr-a", "Slot", s["id"]) for s in c["slots"]]
    patient = encode_id("ehr-a", "Patient", c["patient"]["id"])
    config = write_config(
        settings_for(base_a, base_b, redis_url, audit_path=str(tmp_path / "audit.jsonl")),
        tmp_path / "frontdesk.yaml",
    )
    port = free_port()
    gateway = start_gateway(config, port, tmp_path / "gw1.log")
    base = f"http://127.0.0.1:{port}"
    try:
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as api,
            api.stream("GET", "/v1/events", headers=auth()) as stream,
        ):
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            first = await _book_and_check_in(api, slots[0], patient)
            seen_id, kind, data = await _next_event(lines, {first})
            assert (kind, data) == ("appointment.checked_in", {"appointment_id": first})
        gateway.kill()
        # While no desk is connected (and this gateway is gone), another one carries on.
        gateway = start_gateway(config, port, tmp_path / "gw2.log")
        async with httpx.AsyncClient(base_url=base, timeout=30) as api:
            missed = await _book_and_check_in(api, slots[1], patient)
            headers = {**auth(), "Last-Event-ID": seen_id}
            async with api.stream("GET", "/v1/events", headers=headers) as stream:
                resumed_id, kind, data = await _next_event(stream.aiter_lines(), {first, missed})
        assert (kind, data) == ("appointment.checked_in", {"appointment_id": missed})
        assert _order(resumed_id) > _order(seen_id)
    finally:
        gateway.stop()


async def test_the_stream_needs_its_scope_and_a_real_event_id(hapi_base_urls, redis_url, tmp_path):
    base_a, base_b = hapi_base_urls
    config = write_config(
        settings_for(base_a, base_b, redis_url, audit_path=str(tmp_path / "audit.jsonl")),
        tmp_path / "frontdesk.yaml",
    )
    port = free_port()
    gateway = start_gateway(config, port, tmp_path / "gw.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as api:
            refused = await api.get("/v1/events", headers=auth(READ_ONLY_KEY))
            assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
            bad = await api.get("/v1/events", headers={**auth(), "Last-Event-ID": "yesterday"})
            assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")
            nobody = await api.get("/v1/events")
            assert nobody.status_code == 401
    finally:
        gateway.stop()
