"""Coverage check speed, as ratios measured in one run (nothing here asserts a time).

1. Cached throughput: ``POST /v1/coverage-checks`` answered from Redis, against a bare
   FastAPI endpoint doing one Redis GET, both under the same uvicorn settings (one
   worker process each, loopback, same load loop). Target: at least 0.7.
2. Added latency on uncached checks (``Cache-Control: no-cache``): the gateway's p50
   minus the payer's own p50 for the same 270 sent straight to it. Target: under 5 ms.

Each server runs in its own process, and so does the load generator (raw HTTP/1.1 over
asyncio, ``benchmarks/_load.py``: httpx costs more per request than the servers measured).
With two or more CPUs the servers share the last one and the load generator gets the rest,
so neither steals the other's core. The two sides of each ratio run in alternating rounds
and the median is reported, since a shared machine drifts by tens of percent.
Needs Redis (``make redis``; REDIS_URL overrides redis://127.0.0.1:6390/0).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import sys
import tempfile
from collections.abc import Callable
from statistics import median
from typing import Any

import httpx

from benchmarks._load import LoadResult, build_request, run_load
from benchmarks._report import cpu_seconds, free_port, tcp_open
from mappers.model import EligibilityRequest, Person
from mappers.x12 import build_270

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
KEY = "bench-coverage-key"


def _cpus() -> tuple[set[int], set[int] | None]:
    """(server CPUs, load generator CPUs); no pinning on one CPU or without affinity."""
    if not hasattr(os, "sched_setaffinity"):
        return set(), None
    mine = sorted(os.sched_getaffinity(0))
    if len(mine) < 2:
        return set(), None
    return {mine[-1]}, set(mine[:-1])


ROUNDS = 10
# keyword arguments of run_load for the two measurements
SERVER_CPUS, LOAD_CPUS = _cpus()
THROUGHPUT: dict[str, Any] = {"connections": 16, "seconds": 2.0, "warmup": 400, "cpus": LOAD_CPUS}
LATENCY: dict[str, Any] = {"connections": 1, "seconds": 1.5, "warmup": 50, "cpus": LOAD_CPUS}
# A fixed member of the payer simulator (simulators.payer.scenarios): active, office copay.
BODY = {
    "member_id": "SIM-ACTIVE-1",
    "payer_id": "SIMPAYER",
    "first_name": "Jane",
    "last_name": "Doe",
    "birth_date": "1980-01-15",
    "service_types": ["98"],
    "date_of_service": "2025-03-11",
}


def _serve(factory: Callable[..., Any], port: int, *args: Any) -> None:
    import uvicorn

    os.environ.setdefault("FRONTDESK_HASH_KEY", "bench-hash-key")
    uvicorn.run(
        factory(*args),
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
        lifespan="on",
    )


# --- the three apps (built in their own processes) ------------------------------


def payer_app() -> Any:
    """The payer simulator, as ``docker compose`` runs it: 270 in, 271 out."""
    from simulators.payer import create_payer_app

    return create_payer_app()


def bare_app(redis_url: str) -> Any:
    """The yardstick: FastAPI, one Redis GET, the bytes back."""
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import redis.asyncio as aioredis
    from fastapi import FastAPI, Response

    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["r"] = aioredis.Redis.from_url(redis_url)
        await state["r"].set("bench:bare", b'{"status":"active"}' * 40)
        yield
        await state["r"].aclose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/coverage-checks")
    async def check() -> Response:
        return Response(await state["r"].get("bench:bare"), media_type="application/json")

    return app


def gateway_app(redis_url: str, payer_port: int, audit_path: str) -> Any:
    from gateway.app import create_app
    from gateway.logs import configure_logging
    from gateway.security import hash_api_key
    from gateway.settings import (
        ApiClientConfig,
        CacheConfig,
        PayerConfig,
        Settings,
        SourceConfig,
        TenantConfig,
    )

    payer = PayerConfig(
        id="sim",
        name="Simulated payer",
        payer_ids=["SIMPAYER"],
        transport="x12",
        endpoint=f"http://127.0.0.1:{payer_port}/x12/270",
    )
    tenant = TenantConfig(
        id="t1",
        name="Bench Hospital",
        time_zone="America/New_York",
        provider_npi="1234567893",
        sources=[SourceConfig(id="ehr-a", base_url="http://ehr-a.invalid/fhir")],
        payers=[payer],
    )
    settings = Settings(
        tenants=[tenant],
        api_clients=[
            ApiClientConfig(
                id="bench", tenant="t1", scopes=["coverage:check"], key_sha256=hash_api_key(KEY)
            )
        ],
        cache=CacheConfig(redis_url=redis_url),
        audit_path=audit_path,
        coverage_batch_workers=0,
    )
    # As `frontdesk serve` runs it: JSON logs at INFO (one access line per request), to a
    # real file (next to the audit file) rather than the terminal, so the output stays
    # readable while the lines still cost a real write.
    configure_logging("INFO", stream=open(audit_path + ".log", "w"))  # noqa: SIM115
    return create_app(settings)


# --- load ---------------------------------------------------------------------------


async def _ready(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"server at {url} did not start")


def _alternate(
    label_a: str, a: Callable[[], LoadResult], label_b: str, b: Callable[[], LoadResult]
) -> dict[str, list[LoadResult]]:
    """Run ``a`` and ``b`` in turns, swapping which goes first, so drift hits both alike."""
    runs: dict[str, list[LoadResult]] = {label_a: [], label_b: []}
    for i in range(ROUNDS):
        order = [(label_a, a), (label_b, b)] if i % 2 == 0 else [(label_b, b), (label_a, a)]
        for label, run in order:
            result = run()
            if result.failures:
                raise RuntimeError(f"{label}: {result.failures} failed requests")
            runs[label].append(result)
    return runs


def _with_server_cpu(pid: int, run: Callable[[], LoadResult], out: list[float]) -> LoadResult:
    """``run()``, noting the server's CPU microseconds per request into ``out``."""
    before = cpu_seconds(pid)
    result = run()
    after = cpu_seconds(pid)
    if before is not None and after is not None and result.requests:
        out.append((after - before) / result.requests * 1e6)
    return result


def _measure(ports: dict[str, int], pids: dict[str, int]) -> dict[str, list[float]]:
    auth = {"Authorization": f"Bearer {KEY}"}
    gw = f"http://127.0.0.1:{ports['gateway']}/v1/coverage-checks"
    bare = f"http://127.0.0.1:{ports['bare']}/v1/coverage-checks"
    payer = f"http://127.0.0.1:{ports['payer']}/x12/270"
    x12 = build_270(
        EligibilityRequest(
            payer_id="SIMPAYER",
            provider_npi="1234567893",
            provider_name="Bench Hospital",
            subscriber=Person(
                first_name="Jane",
                last_name="Doe",
                birth_date=dt.date(1980, 1, 15),
                member_id="SIM-ACTIVE-1",
            ),
            service_types=["98"],
            date_of_service=dt.date(2025, 3, 11),
            trace_number="bench",
        )
    )
    cpu: dict[str, list[float]] = {"bare": [], "gateway": []}
    cached = _alternate(
        "bare",
        lambda: _with_server_cpu(
            pids["bare"],
            lambda: run_load(bare, build_request(bare, {}, BODY), **THROUGHPUT),
            cpu["bare"],
        ),
        "gateway",
        lambda: _with_server_cpu(
            pids["gateway"],
            lambda: run_load(gw, build_request(gw, auth, BODY), **THROUGHPUT),
            cpu["gateway"],
        ),
    )
    fresh = {**auth, "Cache-Control": "no-cache"}
    uncached = _alternate(
        "payer",
        lambda: run_load(payer, build_request(payer, {}, None, raw=x12.encode()), **LATENCY),
        "gateway",
        lambda: run_load(gw, build_request(gw, fresh, BODY), **LATENCY),
    )
    return {
        "load_cpu": [r.cpu_share for r in cached["bare"] + cached["gateway"]],
        "bare_cpu_us": cpu["bare"],
        "gateway_cpu_us": cpu["gateway"],
        "bare_rps": [r.rps for r in cached["bare"]],
        "gateway_rps": [r.rps for r in cached["gateway"]],
        "payer_p50": [r.p50 for r in uncached["payer"]],
        "gateway_p50": [r.p50 for r in uncached["gateway"]],
    }


def main(argv: list[str] | None = None) -> int:
    del argv
    if not tcp_open(REDIS_URL):
        print(f"coverage: skipped, no Redis at {REDIS_URL} (make redis)")
        return 0
    ctx = multiprocessing.get_context("spawn")
    ports = {"payer": free_port(), "bare": free_port(), "gateway": free_port()}
    fd, audit_path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    procs = [
        ctx.Process(target=_serve, args=(payer_app, ports["payer"]), daemon=True),
        ctx.Process(target=_serve, args=(bare_app, ports["bare"], REDIS_URL), daemon=True),
        ctx.Process(
            target=_serve,
            args=(gateway_app, ports["gateway"], REDIS_URL, ports["payer"], audit_path),
            daemon=True,
        ),
    ]
    for p in procs:
        p.start()
        if SERVER_CPUS and p.pid is not None:
            os.sched_setaffinity(p.pid, SERVER_CPUS)
    try:
        for port in ports.values():
            asyncio.run(_ready(f"http://127.0.0.1:{port}/"))
        pids = {name: p.pid for name, p in zip(ports, procs, strict=True) if p.pid is not None}
        r = _measure(ports, pids)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(5)
        for path in (audit_path, audit_path + ".log"):
            os.unlink(path)
    ratios = [g / b for g, b in zip(r["gateway_rps"], r["bare_rps"], strict=True)]
    added = [(g - p) * 1000 for g, p in zip(r["gateway_p50"], r["payer_p50"], strict=True)]
    print(
        f"coverage check (uvicorn, 1 process each, loopback; {ROUNDS} alternating rounds, "
        f"{THROUGHPUT['connections']} connections x {THROUGHPUT['seconds']} s for throughput, "
        f"1 connection x {LATENCY['seconds']} s for latency; medians, range in brackets)"
    )
    print(
        f"  cached throughput: gateway {median(r['gateway_rps']):.0f}/s vs bare Redis GET "
        f"{median(r['bare_rps']):.0f}/s -> ratio {median(ratios):.2f} "
        f"[{min(ratios):.2f}-{max(ratios):.2f}] (target >= 0.70)"
    )
    if r["bare_cpu_us"] and r["gateway_cpu_us"]:
        bare_us, gw_us = median(r["bare_cpu_us"]), median(r["gateway_cpu_us"])
        # Less sensitive to a shared machine's drift than requests per second.
        print(
            f"  server CPU per cached request: gateway {gw_us:.0f} us vs bare {bare_us:.0f} us "
            f"-> capacity ratio {bare_us / gw_us:.2f}"
        )
    busy = max(r["load_cpu"])
    verdict = (
        "the servers, not the generator, set the pace"
        if busy < 0.9
        else "WARNING: the generator may be the limit; the ratio is not trustworthy"
    )
    print(f"  load generator busy {busy:.0%} of its CPU at most ({verdict})")
    print(
        f"  uncached p50: gateway {median(r['gateway_p50']) * 1000:.2f} ms vs payer "
        f"{median(r['payer_p50']) * 1000:.2f} ms -> added {median(added):.2f} ms "
        f"[{min(added):.2f}-{max(added):.2f}] (target < 5 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
