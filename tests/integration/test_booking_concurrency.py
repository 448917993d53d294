"""50 concurrent bookings of one slot through two gateway processes sharing one Redis.

Exactly one wins; the 49 others get slot_taken; HAPI holds exactly one Appointment for
the slot. The gateways are real processes (``frontdesk serve``) so nothing is shared
between them but Redis and the EHR.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from mappers import encode_id
from tests.support.gateway_env import API_KEY, auth, clinic, patients, settings_for

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_gateway(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FRONTDESK_HASH_KEY": "concurrency-secret"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "frontdesk",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway on port {port} exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gateway on port {port} did not start")


async def test_fifty_concurrent_bookings_of_one_slot_one_wins(
    hapi_base_urls, redis_url, tmp_path: Path
):
    base_a, base_b = hapi_base_urls
    c = await clinic(base_a, slots=1)
    settings = settings_for(base_a, base_b, redis_url, audit_path=str(tmp_path / "audit.jsonl"))
    config = tmp_path / "frontdesk.yaml"
    config.write_text(
        yaml.safe_dump(settings.model_dump(mode="json", exclude={"cache": {"hash_key"}}))
    )
    ports = [_free_port(), _free_port()]
    procs = [_start_gateway(config, p, tmp_path / f"gw{i}.log") for i, p in enumerate(ports)]
    try:
        for port, proc in zip(ports, procs, strict=True):
            _wait_ready(port, proc)
        slot_id = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
        # Fifty people: one person asking twice would be a patient_conflict, not a slot race.
        people = [encode_id("ehr-a", "Patient", p) for p in await patients(base_a, 50)]

        async def attempt(i: int, client: httpx.AsyncClient) -> httpx.Response:
            return await client.post(
                "/v1/appointments",
                json={"slot_id": slot_id, "patient_id": people[i]},
                headers={**auth(API_KEY), "Idempotency-Key": f"race-{c['run']}-{i}"},
            )

        clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=60) for p in ports]
        try:
            responses = await asyncio.gather(*(attempt(i, clients[i % 2]) for i in range(50)))
        finally:
            for client in clients:
                await client.aclose()
        outcomes = Counter(
            r.status_code if r.status_code == 201 else r.json().get("code") for r in responses
        )
        assert outcomes == {201: 1, "slot_taken": 49}, outcomes
        async with httpx.AsyncClient() as http:
            r = await http.get(
                f"{base_a}/Appointment",
                params={"slot": f"Slot/{c['slots'][0]['id']}"},
                headers={"Cache-Control": "no-cache"},
            )
            bundle = r.json()
            slot = (await http.get(f"{base_a}/Slot/{c['slots'][0]['id']}")).json()
        appointments = [e["resource"] for e in bundle.get("entry", [])]
        assert len(appointments) == 1
        assert appointments[0]["status"] == "booked"
        assert slot["status"] == "busy"
        print(
            f"\nconcurrency: 50 attempts via 2 gateways -> {dict(outcomes)}; "
            f"appointments in HAPI: {len(appointments)}"
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
