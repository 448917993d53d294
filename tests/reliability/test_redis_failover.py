"""Redis that fails over, on real processes: a Sentinel-watched primary and replica, and a
three-master Cluster, each started on free loopback ports; the gateway runs against them
with HAPI holding the slots and the payer simulator answering
(``tests/support/failover_scenarios.py`` drives each scenario in a child process).

Sentinel: the primary is killed (SIGKILL) in the middle of a load of coverage checks and
concurrent bookings of one slot. Every check is still answered (from the payer while the
cache is away), bookings win at most once or refuse (slot_taken, upstream_unavailable),
HAPI holds at most the one Appointment, and once the replica is promoted the cache is used
again. Cluster (three masters, no replicas: nothing to fail over to): single flight, the
slot lock and the batch queue work with keys spread over its slots.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import missing
from tests.support.redis_ha import ha_binaries_missing

pytestmark = [pytest.mark.hapi, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]


def scenario(name: str, bases: tuple[str, str], tmp: Path) -> dict[str, Any]:
    binary = ha_binaries_missing()
    if binary is not None:
        missing(binary, "run `make redis` (it installs redis-server and redis-sentinel)")
    result = tmp / f"{name}.json"
    env = {
        **os.environ,
        "HAPI_BASE_URL_A": bases[0],
        "HAPI_BASE_URL_B": bases[1],
        "FRONTDESK_HASH_KEY": uuid.uuid4().hex,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.failover_scenarios", name, str(tmp), str(result)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    seen: dict[str, Any] = json.loads(result.read_text())
    return seen


def appointments_for(base_url: str, slot: str) -> list[dict[str, Any]]:
    bundle = httpx.get(
        f"{base_url}/Appointment",
        params={"slot": f"Slot/{slot}"},
        headers={"Cache-Control": "no-cache"},
        timeout=30,
    ).json()
    return [e["resource"] for e in bundle.get("entry", [])]


def test_sentinel_primary_killed_mid_load(hapi_base_urls: tuple[str, str], tmp_path: Path) -> None:
    seen = scenario("sentinel", hapi_base_urls, tmp_path)
    assert [a["cached"] for a in seen["warm"]] == [False, True]
    answers = seen["answers"]
    assert len(answers) > seen["killed_at"] > 0
    assert {a["http_status"] for a in answers} == {200}
    assert {a["status"] for a in answers} == {"active"}
    # While the cache was away the payer was asked (no cache, no single flight)...
    assert seen["payer_calls"] > 1
    # ... and once the replica took over, answers come from the cache again.
    assert seen["recovered"]["cached"] is True
    assert seen["ready"]["cache"] == "ok"
    # Bookings kept their guarantee: at most one won, the others were refused.
    race = seen["race"]
    assert race.get("201", 0) <= 1
    assert set(race) <= {"201", "slot_taken", "upstream_unavailable"}, race
    assert len(appointments_for(hapi_base_urls[0], seen["slot"])) == race.get("201", 0)


def test_cluster_single_flight_locks_and_batch_queue(
    hapi_base_urls: tuple[str, str], tmp_path: Path
) -> None:
    seen = scenario("cluster", hapi_base_urls, tmp_path)
    assert {a["status"] for a in seen["answers"]} == {"active"}
    assert seen["stampede_calls"] == 1
    assert seen["race"] == {"201": 1, "slot_taken": 9}, seen["race"]
    assert len(appointments_for(hapi_base_urls[0], seen["slot"])) == 1
    batch = seen["batch"]
    assert batch["state"] == "done", batch
    assert batch["total"] == batch["done"] == 3
    assert seen["again"]["cached"] is True
