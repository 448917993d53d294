"""Redis fail-over scenarios, each run in a child process by tests/reliability.

``python -m tests.support.failover_scenarios sentinel|cluster WORKDIR RESULT.json`` starts
the Redis set (real redis-server / redis-sentinel processes), runs the gateway in process
against it, HAPI and the in-process payer simulator, drives the load and writes what it
saw as JSON; the test asserts on it. A child process of its own because redis-py drops
its connections to a server that died without closing them: they are collected, and
warned about, in this process, not in the test session's.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from mappers import encode_id
from simulators.payer import SIM_PAYER_ID, create_payer_app, simulator_control
from tests.support.batch_day import booked_day
from tests.support.gateway_env import OPS_KEY, auth, clinic, patients, settings_for
from tests.support.payer_env import sim_payer, to_simulator, with_payers
from tests.support.redis_ha import RedisClusterSet, SentinelSet
from tests.support.redis_proc import until

JANE = {
    "member_id": "SIM-ACTIVE-1",
    "payer_id": SIM_PAYER_ID,
    "first_name": "Jane",
    "last_name": "Doe",
    "birth_date": "1980-01-15",
    "service_types": ["98"],
}


@asynccontextmanager
async def gateway(
    bases: tuple[str, str], redis_url: str, tmp: Path, **extra: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette, Any]]:
    payer = create_payer_app()
    settings = with_payers(
        settings_for(
            *bases,
            redis_url,
            audit_path=str(tmp / "audit.jsonl"),
            client_max_concurrent_requests=500,
            **extra,
        ),
        "general",
        [sim_payer()],
    )
    app = create_app(
        settings, audit=MemoryAuditSink(), eligibility_transport_factory=to_simulator(payer)
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gw",
            headers=auth(),
            timeout=60,
        ) as client,
    ):
        yield client, payer, app.state.runtime


async def check(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/v1/coverage-checks", json=JANE)
    answer: dict[str, Any] = response.json()
    answer["http_status"] = response.status_code
    return answer


async def book_race(client: httpx.AsyncClient, c: dict[str, Any], attempts: int) -> dict[str, int]:
    slot_id = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
    # A different person each: one person asking twice is a patient_conflict, not a race.
    people = [encode_id("ehr-a", "Patient", p) for p in await patients(c["base"], attempts)]
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/appointments",
                json={"slot_id": slot_id, "patient_id": people[i]},
                headers={"Idempotency-Key": f"ha-{c['run']}-{i}"},
            )
            for i in range(attempts)
        )
    )
    counts = Counter(
        str(r.status_code) if r.status_code == 201 else str(r.json().get("code")) for r in responses
    )
    return dict(counts)


async def sentinel(bases: tuple[str, str], tmp: Path) -> dict[str, Any]:
    c = {**await clinic(bases[0], slots=1), "base": bases[0]}
    ha = SentinelSet(tmp / "sentinel")
    try:
        ha.start()
        async with gateway(bases, ha.url, tmp) as (client, payer, runtime):
            warm = [await check(client), await check(client)]
            answers: list[dict[str, Any]] = []
            stop = asyncio.Event()

            async def load() -> None:
                while not stop.is_set():
                    answers.append(await check(client))

            loaders = [asyncio.create_task(load()) for _ in range(4)]
            await asyncio.sleep(0.5)
            ha.kill_primary()
            killed_at = len(answers)
            race = await book_race(client, c, attempts=20)
            await asyncio.to_thread(ha.wait_promoted)
            await until(runtime.cache.ping, tries=200)
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*loaders)
            # Recovered: the cache answers again, and is used.
            await check(client)
            recovered = await check(client)
            ready = (await client.get("/readyz", headers=auth(OPS_KEY))).json()
            payer_calls = simulator_control(payer).requests
    finally:
        ha.stop()
    return {
        "slot": c["slots"][0]["id"],
        "warm": warm,
        "answers": answers,
        "killed_at": killed_at,
        "race": race,
        "recovered": recovered,
        "ready": ready,
        "payer_calls": payer_calls,
    }


async def cluster(bases: tuple[str, str], tmp: Path) -> dict[str, Any]:
    c = {**await clinic(bases[0], slots=1), "base": bases[0]}
    day, _ = await booked_day(bases[0], patients=3)
    nodes = RedisClusterSet(tmp / "cluster")
    try:
        nodes.start()
        async with gateway(bases, nodes.url, tmp, coverage_batch_workers=1) as (
            client,
            payer,
            _runtime,
        ):
            simulator_control(payer).latency = 0.3
            answers = await asyncio.gather(*(check(client) for _ in range(30)))
            simulator_control(payer).latency = 0.0
            stampede_calls = simulator_control(payer).requests
            race = await book_race(client, c, attempts=10)
            started = (
                await client.post("/v1/coverage-checks/batch", json={"date": day.isoformat()})
            ).json()
            give_up = time.monotonic() + 60
            status = started
            while status.get("state") != "done" and time.monotonic() < give_up:
                await asyncio.sleep(0.2)
                status = (await client.get(f"/v1/coverage-checks/batch/{started['id']}")).json()
            again = await check(client)
    finally:
        nodes.stop()
    return {
        "slot": c["slots"][0]["id"],
        "answers": answers,
        "stampede_calls": stampede_calls,
        "race": race,
        "batch": status,
        "again": again,
    }


def main(argv: list[str]) -> int:
    name, workdir, result = argv
    os.environ.setdefault("FRONTDESK_HASH_KEY", uuid.uuid4().hex)
    bases = (os.environ["HAPI_BASE_URL_A"], os.environ["HAPI_BASE_URL_B"])
    scenario = {"sentinel": sentinel, "cluster": cluster}[name]
    seen = asyncio.run(scenario(bases, Path(workdir)))
    Path(result).write_text(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
