"""Batch verification on real processes: two ``frontdesk worker`` processes share one saq
queue in Redis, HAPI holds the day's appointments, the payer simulator runs as a process.

- A worker killed (SIGKILL) in the middle of an item: another worker runs it again after
  the first one's heartbeat stops, and the item finishes.
- The payer's pace (``rate_limit``) holds across both workers: the simulator never sees
  more requests in a second than the pace allows, and both workers did share the work.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.batch_queue import QUEUE_NAME
from gateway.settings import PayerConfig, Settings
from simulators.payer import SIM_PAYER_ID
from simulators.payer.control import busiest_window
from tests.support.batch_day import booked_day
from tests.support.gateway_env import auth, settings_for
from tests.support.payer_env import with_payers
from tests.support.processes import (
    HASH_KEY,
    Proc,
    free_port,
    payer_simulator,
    sim_control,
    sim_stats,
    start_worker,
    write_config,
)

pytestmark = [pytest.mark.hapi, pytest.mark.redis]

BATCH = "/v1/coverage-checks/batch"


def batch_settings(
    bases: tuple[str, str], redis_url: str, payer_port: int, tmp: Path, **extra: Any
) -> Settings:
    payer = PayerConfig(
        id="sim",
        name="Simulated payer",
        payer_ids=[SIM_PAYER_ID],
        transport="x12",
        endpoint=f"http://127.0.0.1:{payer_port}/x12/270",
        **extra.pop("payer", {}),
    )
    settings = settings_for(
        *bases,
        redis_url,
        audit_path=str(tmp / "audit.jsonl"),
        coverage_batch_heartbeat_seconds=2,
        coverage_batch_tries=3,
        **extra,
    )
    return with_payers(settings, "general", [payer])


@asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API (enqueues, reports) in this process, no worker of its own."""
    app = create_app(settings, audit=MemoryAuditSink())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gw",
            headers=auth(),
            timeout=60,
        ) as client,
    ):
        yield client


async def until_done(client: httpx.AsyncClient, job_id: str, seconds: float) -> dict[str, Any]:
    give_up = time.monotonic() + seconds
    while True:
        status: dict[str, Any] = (await client.get(f"{BATCH}/{job_id}")).raise_for_status().json()
        if status["state"] == "done" or time.monotonic() > give_up:
            return status
        await asyncio.sleep(0.2)


async def job_records(redis_url: str, job_id: str, total: int) -> list[dict[str, Any]]:
    """saq's record of each item's job (worker id, attempts)."""
    r = aioredis.Redis.from_url(redis_url)
    try:
        keys = [f"saq:job:{QUEUE_NAME}:{QUEUE_NAME}{job_id}.{i}" for i in range(total)]
        return [json.loads(raw) for raw in await r.mget(keys) if raw is not None]
    finally:
        await r.aclose()


def pid_of(worker_id: str) -> int:
    return int(worker_id.rsplit("-", 1)[1])


@pytest.fixture(autouse=True)
def hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", HASH_KEY)


async def test_an_item_of_a_killed_worker_is_finished_by_another(
    hapi_base_urls: tuple[str, str], redis_url: str, tmp_path: Path
) -> None:
    day, _ = await booked_day(hapi_base_urls[0], patients=1)
    payer_port = free_port()
    # A short real-time budget: the dead worker's single-flight lock (budget + 5 s) must
    # expire before the retry's own deadline.
    settings = batch_settings(
        hapi_base_urls, redis_url, payer_port, tmp_path, coverage_budget_seconds=6
    )
    config = write_config(settings, tmp_path / "frontdesk.yaml")
    payer = payer_simulator(payer_port, tmp_path / "payer.log")
    workers: list[Proc] = []
    try:
        sim_control(payer_port, latency=4.0)
        workers = [start_worker(config, tmp_path / f"worker{i}.log") for i in range(2)]
        async with api(settings) as client:
            started = (await client.post(BATCH, json={"date": day.isoformat()})).json()
            assert started["total"] == 1, started
            for _ in range(300):
                if sim_stats(payer_port)["requests"] >= 1:
                    break
                await asyncio.sleep(0.1)
            [record] = await job_records(redis_url, started["id"], 1)
            holder = next(w for w in workers if w.pid == pid_of(record["worker_id"]))
            holder.kill()  # mid-item: the payer is still thinking
            sim_control(payer_port, latency=0.1)
            status = await until_done(client, started["id"], seconds=60)
        [record] = await job_records(redis_url, started["id"], 1)
    finally:
        for proc in [*workers, payer]:
            proc.stop()
    assert status["state"] == "done", (status, *(w.tail() for w in workers))
    assert status["done"] == 1 and status["failed"] == []
    # The card is unknown to the payer: an answer that needs attention, from the payer.
    assert status["summary"]["needs_attention"] == 1
    assert status["needs_attention"][0]["status"] == "error"
    survivor = next(w for w in workers if w is not holder)
    assert pid_of(record["worker_id"]) == survivor.pid
    assert record["attempts"] == 2


async def test_the_payer_pace_holds_across_two_workers(
    hapi_base_urls: tuple[str, str], redis_url: str, tmp_path: Path
) -> None:
    patients = 30
    day, _ = await booked_day(hapi_base_urls[0], patients=patients)
    payer_port = free_port()
    pace = 5  # per second, all processes together; a batch may use 4 of them
    settings = batch_settings(
        hapi_base_urls,
        redis_url,
        payer_port,
        tmp_path,
        payer={"rate_limit": f"{pace}/second", "batch_share": 0.8},
        coverage_batch_concurrency=8,
    )
    config = write_config(settings, tmp_path / "frontdesk.yaml")
    # A fresh window per run: the pace key is the payer's id, shared by every test run.
    r = aioredis.Redis.from_url(redis_url)
    async for key in r.scan_iter(match="LIMITS:*sim*"):
        await r.delete(key)
    await r.aclose()
    payer = payer_simulator(payer_port, tmp_path / "payer.log")
    workers = [start_worker(config, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        async with api(settings) as client:
            started = (await client.post(BATCH, json={"date": day.isoformat()})).json()
            assert started["total"] == patients, started
            began = time.monotonic()
            # Generous: a loaded host is slow; the pace (below) is what this test checks.
            status = await until_done(client, started["id"], seconds=240)
            took = time.monotonic() - began
        stats = sim_stats(payer_port)
        records = await job_records(redis_url, started["id"], patients)
    finally:
        for proc in [*workers, payer]:
            proc.stop()
    assert status["state"] == "done", (status, *(w.tail() for w in workers))
    assert status["done"] == patients and status["failed"] == []
    assert stats["requests"] == patients
    # Never more than the pace in any second at the payer's door, give or take the time
    # between a turn and its arrival (a new connection, the 270's build, a busy host:
    # up to a few hundred ms), hence a 0.7 s window. Unpaced, the workers send 8 at once.
    arrivals = sorted(stats["arrivals"])
    assert busiest_window(arrivals, 0.7) <= pace, [round(a - arrivals[0], 3) for a in arrivals]
    # ... and the pace, not the workers, set the speed: 30 checks at 4 a second.
    assert took >= patients / pace - 1
    # Both processes took items.
    assert {pid_of(rec["worker_id"]) for rec in records} == {w.pid for w in workers}
