"""Two gateway processes (``frontdesk serve``) sharing one Redis, one HAPI and one payer
simulator process, driven at once; nothing is shared between them but those.

- 50 concurrent bookings of one slot, spread over both: exactly one wins, HAPI holds one
  Appointment for the slot.
- One Idempotency-Key replayed on both at once: one booking, every answer the same.
- A stampede of 100 coverage checks for one patient over both: one payer call.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.settings import PayerConfig
from mappers import encode_id
from simulators.payer import SIM_PAYER_ID
from tests.support.gateway_env import API_KEY, auth, clinic, patients, settings_for
from tests.support.payer_env import with_payers
from tests.support.processes import (
    Proc,
    free_port,
    payer_simulator,
    sim_control,
    sim_stats,
    start_gateway,
    wait_gateway,
    write_config,
)

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


@dataclass
class Replicas:
    ports: list[int]
    payer_port: int

    def clients(self) -> list[httpx.AsyncClient]:
        return [
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=60, headers=auth(API_KEY))
            for p in self.ports
        ]


@pytest.fixture(scope="module")
def replicas(
    hapi_base_urls: tuple[str, str], redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    tmp = tmp_path_factory.mktemp("replicas")
    payer_port = free_port()
    payer = PayerConfig(
        id="sim",
        name="Simulated payer",
        payer_ids=[SIM_PAYER_ID],
        transport="x12",
        endpoint=f"http://127.0.0.1:{payer_port}/x12/270",
    )
    settings = with_payers(
        settings_for(
            *hapi_base_urls,
            redis_url,
            audit_path=str(tmp / "audit.jsonl"),
            # The stampede sends 50 at once to each process from one client.
            client_max_concurrent_requests=200,
        ),
        "general",
        [payer],
    )
    config = write_config(settings, tmp / "frontdesk.yaml")
    procs: list[Proc] = []
    try:
        procs.append(payer_simulator(payer_port, tmp / "payer.log"))
        ports = [free_port(), free_port()]
        gateways = [
            start_gateway(config, port, tmp / f"gateway{i}.log", wait=False)
            for i, port in enumerate(ports)
        ]
        procs += gateways
        for proc, port in zip(gateways, ports, strict=True):
            wait_gateway(proc, port)
        yield Replicas(ports, payer_port)
    finally:
        for proc in procs:
            proc.stop()


async def test_fifty_concurrent_bookings_of_one_slot_one_wins(
    replicas: Replicas, hapi_base_urls: tuple[str, str]
) -> None:
    base_a, _ = hapi_base_urls
    c = await clinic(base_a, slots=1)
    slot_id = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
    # Fifty people: one person asking twice would be a patient_conflict, not a slot race.
    people = [encode_id("ehr-a", "Patient", p) for p in await patients(base_a, 50)]
    clients = replicas.clients()
    try:
        responses = await asyncio.gather(
            *(
                clients[i % 2].post(
                    "/v1/appointments",
                    json={"slot_id": slot_id, "patient_id": people[i]},
                    headers={"Idempotency-Key": f"race-{c['run']}-{i}"},
                )
                for i in range(50)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    outcomes = Counter(
        r.status_code if r.status_code == 201 else r.json().get("code") for r in responses
    )
    assert outcomes == {201: 1, "slot_taken": 49}, outcomes
    appointments, slot = await _appointments_of(base_a, c["slots"][0]["id"])
    assert len(appointments) == 1
    assert appointments[0]["status"] == "booked"
    assert slot["status"] == "busy"


async def test_one_idempotency_key_replayed_on_both_replicas_books_once(
    replicas: Replicas, hapi_base_urls: tuple[str, str]
) -> None:
    base_a, _ = hapi_base_urls
    c = await clinic(base_a, slots=1)
    body = {
        "slot_id": encode_id("ehr-a", "Slot", c["slots"][0]["id"]),
        "patient_id": encode_id("ehr-a", "Patient", c["patient"]["id"]),
    }
    key = {"Idempotency-Key": f"replay-{c['run']}"}
    clients = replicas.clients()
    try:
        first = await asyncio.gather(
            *(clients[i % 2].post("/v1/appointments", json=body, headers=key) for i in range(10))
        )
        # ... and again later, on each replica, once the first booking is done.
        later = [
            await client.post("/v1/appointments", json=body, headers=key) for client in clients
        ]
    finally:
        for client in clients:
            await client.aclose()
    responses = [*first, *later]
    # One booking (201); every other answer replays it (200, Idempotent-Replayed).
    assert Counter(r.status_code for r in responses) == {201: 1, 200: 11}, [
        r.text for r in responses
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == len(responses) - 1
    appointments, _ = await _appointments_of(base_a, c["slots"][0]["id"])
    assert len(appointments) == 1


async def test_a_stampede_of_coverage_checks_over_both_replicas_asks_the_payer_once(
    replicas: Replicas, hapi_base_urls: tuple[str, str]
) -> None:
    base_a, _ = hapi_base_urls
    patient = await _covered_patient(base_a)
    sim_control(replicas.payer_port, latency=0.5)
    before = sim_stats(replicas.payer_port)["requests"]
    clients = replicas.clients()
    try:
        responses = await asyncio.gather(
            *(
                clients[i % 2].post(
                    "/v1/coverage-checks",
                    json={"patient_id": patient, "service_types": ["98"]},
                )
                for i in range(100)
            )
        )
    finally:
        sim_control(replicas.payer_port, latency=0.0)
        for client in clients:
            await client.aclose()
    assert {r.status_code for r in responses} == {200}, {r.text for r in responses}
    assert {r.json()["status"] for r in responses} == {"active"}
    assert sim_stats(replicas.payer_port)["requests"] - before == 1


async def _appointments_of(base_url: str, slot: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30) as http:
        bundle = (
            await http.get(
                f"{base_url}/Appointment",
                params={"slot": f"Slot/{slot}"},
                headers={"Cache-Control": "no-cache"},
            )
        ).json()
        record = (await http.get(f"{base_url}/Slot/{slot}")).json()
    return [e["resource"] for e in bundle.get("entry", [])], record


async def _covered_patient(base_url: str) -> str:
    """A new EHR A patient holding the payer simulator's active card SIM-ACTIVE-1."""
    async with httpx.AsyncClient(timeout=30) as http:
        patient = (
            (
                await http.post(
                    f"{base_url}/Patient",
                    json={
                        "resourceType": "Patient",
                        "name": [{"family": "Doe", "given": ["Jane"]}],
                        "birthDate": "1980-01-15",
                        "gender": "female",
                    },
                )
            )
            .raise_for_status()
            .json()
        )
        (
            await http.post(
                f"{base_url}/Coverage",
                json={
                    "resourceType": "Coverage",
                    "status": "active",
                    "beneficiary": {"reference": f"Patient/{patient['id']}"},
                    "subscriberId": "SIM-ACTIVE-1",
                    "relationship": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                "code": "self",
                            }
                        ]
                    },
                    "payor": [{"identifier": {"value": SIM_PAYER_ID}}],
                },
            )
        ).raise_for_status()
    return encode_id("ehr-a", "Patient", patient["id"])
