"""How fresh the waitlist is: a slot freed in the EHR itself until its offer shows in
``GET /v1/waitlist/offers``, per way of watching the source (nothing here asserts a time).

One gateway process (``frontdesk serve``) per mode, watching EHR A on the real HAPI
server: rest-hook Subscriptions (default watch interval, so its safety poll never runs in
a run), a poll every 0.5 s, and a poll at the default interval. Each round sets one busy
Slot free with a PUT straight to HAPI, at a random moment, and times from HAPI's answer
to the first offers listing that names the slot (listed every 20 ms). Prints the median
and p90 per mode and the ratios of the polls' medians to the Subscriptions'; writes them
to ``.run/bench/watch.json``.

Needs the HAPI servers (``make hapi``; ``HAPI_PORT_A`` picks EHR A's port, as the tests
do) with rest-hook Subscriptions, and Redis (``make redis``; ``REDIS_URL``). A poll at
the default interval takes minutes: ``python -m benchmarks.watch --runs 3`` for a look.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import median, quantiles
from typing import Any

import httpx
import redis.asyncio as aioredis
import yaml

from benchmarks._report import free_port, tcp_open, write_json
from gateway.security import hash_api_key
from mappers import encode_id

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
HAPI_A = f"http://127.0.0.1:{os.environ.get('HAPI_PORT_A') or '8081'}/fhir"
API_KEY = "bench-watch-key"
SOURCE = "ehr-a"
LIST_EVERY = 0.02
GIVE_UP = 120.0
DEFAULT_INTERVAL = 30.0


@dataclass(frozen=True)
class Mode:
    name: str
    watch: str
    interval: float


MODES = (
    Mode("subscription", "subscription", DEFAULT_INTERVAL),
    Mode("poll 0.5 s", "poll", 0.5),
    Mode(f"poll {DEFAULT_INTERVAL:g} s (default)", "poll", DEFAULT_INTERVAL),
)


def _config(tenant: str, mode: Mode, port: int, folder: Path) -> Path:
    data = {
        "tenants": [
            {
                "id": tenant,
                "name": "Bench Hospital",
                "sources": [
                    {
                        "id": SOURCE,
                        "base_url": HAPI_A,
                        "vendor": "hapi",
                        "watch": mode.watch,
                        "watch_interval_seconds": mode.interval,
                    }
                ],
            }
        ],
        "api_clients": [
            {
                "id": "desk",
                "tenant": tenant,
                "key_sha256": hash_api_key(API_KEY),
                "scopes": ["slots:read", "waitlist:read", "waitlist:write"],
            }
        ],
        "cache": {"redis_url": REDIS_URL},
        "hooks": {
            "public_base_url": f"http://127.0.0.1:{port}",
            "secret": {"env": "FRONTDESK_HOOK_SECRET"},
        },
        "audit_path": str(folder / "audit.jsonl"),
    }
    path = folder / f"{tenant}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def _clinic(fhir: httpx.AsyncClient, visit: str, count: int) -> tuple[list[Any], list[str]]:
    """``count`` busy Slots tomorrow of one new Schedule, and ``count`` new patients."""
    schedule = await fhir.post(
        "/Schedule",
        json={"resourceType": "Schedule", "active": True, "actor": [{"display": "Dr Bench"}]},
    )
    schedule.raise_for_status()
    start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=15, minute=0, second=0)
    slots = []
    for i in range(count):
        at = start.replace(microsecond=0) + timedelta(minutes=15 * i)
        made = await fhir.post(
            "/Slot",
            json={
                "resourceType": "Slot",
                "schedule": {"reference": f"Schedule/{schedule.json()['id']}"},
                "status": "busy",
                "start": at.isoformat().replace("+00:00", "Z"),
                "end": (at + timedelta(minutes=15)).isoformat().replace("+00:00", "Z"),
                "serviceType": [{"coding": [{"code": visit}]}],
            },
        )
        made.raise_for_status()
        slots.append(made.json())
    patients = []
    for i in range(count):
        made = await fhir.post(
            "/Patient",
            json={
                "resourceType": "Patient",
                "identifier": [{"system": "urn:bench:mrn", "value": f"{visit}-{i}"}],
                "name": [{"family": f"Bench{visit}", "given": [f"P{i}"]}],
            },
        )
        made.raise_for_status()
        patients.append(encode_id(SOURCE, "Patient", made.json()["id"]))
    return slots, patients


def _start_gateway(
    config: Path, port: int, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "frontdesk", "serve", "--config", str(config)]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*argv, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _stop(gateway: subprocess.Popen[bytes]) -> None:
    """SIGTERM: the gateway deletes the Subscriptions it made as it stops."""
    gateway.terminate()
    try:
        gateway.wait(30)
    except subprocess.TimeoutExpired:
        gateway.kill()
        gateway.wait(5)


async def _ready(api: httpx.AsyncClient, gateway: subprocess.Popen[bytes]) -> None:
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if gateway.poll() is not None:
            raise RuntimeError("the gateway exited at start")
        try:
            if (await api.get("/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the gateway did not start")


async def _watching(tenant: str, mode: Mode, endpoint: str, fhir: httpx.AsyncClient) -> None:
    """Wait until the watcher has its starting point (and, for hooks, active Subscriptions)."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        give_up = time.monotonic() + 60
        while not await client.hexists(f"fd:watch-cursor:{tenant}", SOURCE):  # type: ignore[misc]
            if time.monotonic() > give_up:
                raise RuntimeError("the watcher never started")
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    if mode.watch == "subscription":
        found = (await fhir.get("/Subscription", params={"url": endpoint})).json()
        states = [e["resource"]["status"] for e in found.get("entry", [])]
        if states != ["active", "active"]:
            raise RuntimeError(f"Subscriptions not active ({states}): HAPI without rest-hook?")


async def _measure(mode: Mode, runs: int, folder: Path) -> list[float]:
    tenant = f"bench{uuid.uuid4().hex[:8]}"
    visit = f"bw{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        **os.environ,
        "FRONTDESK_HASH_KEY": secrets.token_hex(16),
        "FRONTDESK_HOOK_SECRET": secrets.token_hex(16),
    }
    config = _config(tenant, mode, port, folder)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with (
        httpx.AsyncClient(base_url=HAPI_A, timeout=30) as fhir,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as api,
    ):
        slots, patients = await _clinic(fhir, visit, runs)
        gateway = _start_gateway(config, port, env, folder / f"{tenant}.log")
        try:
            await _ready(api, gateway)
            today = date.today()
            for patient in patients:
                joined = await api.post(
                    "/v1/waitlist",
                    json={
                        "patient_id": patient,
                        "service_type": visit,
                        "earliest": today.isoformat(),
                        "latest": (today + timedelta(days=7)).isoformat(),
                        "min_notice_hours": 0,
                    },
                    headers=headers,
                )
                joined.raise_for_status()
            await _watching(
                tenant, mode, f"http://127.0.0.1:{port}/v1/hooks/{tenant}/{SOURCE}", fhir
            )
            waits = []
            phase = mode.interval if mode.watch == "poll" else 1.0
            for slot in slots:
                # A moment at random within a poll's interval: the wait for the next
                # round is then as likely short as long (freeing right after the previous
                # offer would always land just after a round).
                await asyncio.sleep(random.uniform(0.2, phase))
                freed = await fhir.put(f"/Slot/{slot['id']}", json={**slot, "status": "free"})
                freed.raise_for_status()
                started = time.monotonic()
                wanted = encode_id(SOURCE, "Slot", slot["id"])
                while True:
                    listed = await api.get("/v1/waitlist/offers", headers=headers)
                    listed.raise_for_status()
                    if any(o["slot_id"] == wanted for o in listed.json()["items"]):
                        break
                    if time.monotonic() - started > GIVE_UP:
                        raise RuntimeError(f"{mode.name}: no offer within {GIVE_UP:g} s")
                    await asyncio.sleep(LIST_EVERY)
                waits.append(time.monotonic() - started)
        finally:
            _stop(gateway)
            await _forget(tenant)
    return waits


async def _forget(tenant: str) -> None:
    """Drop what the run's tenant left in Redis (its waitlist, offers, cursor, holds)."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"fd:*{tenant}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def _p90(values: list[float]) -> float:
    return quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.watch", description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="freed slots per mode")
    args = parser.parse_args(argv)
    if not tcp_open(HAPI_A):
        print(f"watch: skipped, no HAPI at {HAPI_A} (make hapi)")
        return 0
    if not tcp_open(REDIS_URL):
        print(f"watch: skipped, no Redis at {REDIS_URL} (make redis)")
        return 0
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        for mode in MODES:
            waits = asyncio.run(_measure(mode, args.runs, Path(tmp)))
            results[mode.name] = {
                "watch": mode.watch,
                "interval_seconds": mode.interval,
                "runs": len(waits),
                "median_seconds": round(median(waits), 3),
                "p90_seconds": round(_p90(waits), 3),
                "seconds": [round(w, 3) for w in waits],
            }
    hooks = results[MODES[0].name]["median_seconds"]
    print(
        f"watch: slot freed in HAPI ({HAPI_A}) -> offer listed, {args.runs} rounds per mode "
        f"(offers listed every {LIST_EVERY * 1000:g} ms)"
    )
    for name, r in results.items():
        ratio = r["median_seconds"] / hooks if hooks else float("inf")
        print(
            f"  {name:<24} median {r['median_seconds']:7.3f} s  p90 {r['p90_seconds']:7.3f} s"
            f"  median / subscription's {ratio:6.1f}"
        )
    print(f"  written to {write_json('watch', {'hapi': HAPI_A, 'modes': results})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
