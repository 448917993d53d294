"""Coverage check speed, as ratios measured in one run (nothing here asserts a time).

1. Cached throughput: ``POST /v1/coverage-checks`` answered from Redis, against a bare
   FastAPI endpoint doing one Redis GET, both under the same uvicorn settings (one
   worker process each, loopback, same load loop). Target: at least 0.7.
2. Added latency on uncached checks (``Cache-Control: no-cache``): the gateway's p50
   minus the payer's own p50 for the same 270 sent straight to it. Target: under 5 ms.

Each server runs in its own process; the load loop runs here with httpx.
Needs Redis (``make redis``; REDIS_URL overrides redis://127.0.0.1:6390/0).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import httpx

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
KEY = "bench-coverage-key"
CONCURRENCY = 32
SECONDS = 4.0
LATENCY_SAMPLES = 300
BODY = {
    "member_id": "BENCH-1",
    "payer_id": "ACME01",
    "first_name": "Ana",
    "last_name": "Rivera",
    "birth_date": "1980-04-02",
    "service_types": ["98"],
    "date_of_service": "2025-03-11",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    """A minimal clearinghouse: answers any 270 with an active 271 and a copay."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from tests.unit.gateway.coverage_fakes import x12_271

    async def x12(request: Request) -> Response:
        text = (await request.body()).decode()
        member = text.split("*MI*", 1)[1].split("~", 1)[0]
        return Response(x12_271(member), media_type="application/edi-x12")

    return Starlette(routes=[Route("/x12/270", x12, methods=["POST"])])


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
    from gateway.settings import ApiClientConfig, CacheConfig, PayerConfig, Settings
    from tests.unit.gateway.coverage_fakes import tenant

    payer = PayerConfig(
        id="acme",
        name="Acme Health",
        payer_ids=["ACME01"],
        transport="x12",
        endpoint=f"http://127.0.0.1:{payer_port}/x12/270",
    )
    settings = Settings(
        tenants=[tenant([payer])],
        api_clients=[
            ApiClientConfig(
                id="bench", tenant="t1", scopes=["coverage:check"], key_sha256=hash_api_key(KEY)
            )
        ],
        cache=CacheConfig(redis_url=redis_url),
        audit_path=audit_path,
        coverage_batch_workers=0,
    )
    # As `frontdesk serve` runs it: JSON logs at INFO (one access line per request),
    # written to /dev/null so the benchmark's output stays readable.
    configure_logging("INFO", stream=open(os.devnull, "w"))  # noqa: SIM115 - process lifetime
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


async def _throughput(url: str, headers: dict[str, str], body: Any) -> float:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30) as client:
        for _ in range(50):  # warm-up: connections, caches
            (await client.post(url, json=body)).raise_for_status()
        done = 0
        stop = time.perf_counter() + SECONDS

        async def loop() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                (await client.post(url, json=body)).raise_for_status()
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(CONCURRENCY)))
        return done / (time.perf_counter() - start)


async def _p50(url: str, headers: dict[str, str], **kwargs: Any) -> float:
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        for _ in range(20):
            (await client.post(url, **kwargs)).raise_for_status()
        samples = []
        for _ in range(LATENCY_SAMPLES):
            t0 = time.perf_counter()
            (await client.post(url, **kwargs)).raise_for_status()
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)


async def _measure(ports: dict[str, int]) -> dict[str, float]:
    for port in ports.values():
        await _ready(f"http://127.0.0.1:{port}/")
    auth = {"Authorization": f"Bearer {KEY}"}
    gw = f"http://127.0.0.1:{ports['gateway']}/v1/coverage-checks"
    bare = f"http://127.0.0.1:{ports['bare']}/v1/coverage-checks"
    payer = f"http://127.0.0.1:{ports['payer']}/x12/270"
    from mappers.model import EligibilityRequest, Person
    from mappers.x12 import build_270

    x12 = build_270(
        EligibilityRequest(
            payer_id="ACME01",
            provider_npi="1234567893",
            subscriber=Person(first_name="Ana", last_name="Rivera", member_id="BENCH-1"),
            service_types=["98"],
            date_of_service=__import__("datetime").date(2025, 3, 11),
            trace_number="bench",
        )
    )
    out: dict[str, float] = {}
    out["bare_rps"] = await _throughput(bare, {}, BODY)
    out["gateway_cached_rps"] = await _throughput(gw, auth, BODY)
    out["payer_p50"] = await _p50(payer, {}, content=x12.encode())
    out["gateway_uncached_p50"] = await _p50(gw, {**auth, "Cache-Control": "no-cache"}, json=BODY)
    return out


def main(argv: list[str] | None = None) -> int:
    del argv
    from tests.servers import tcp_open

    if not tcp_open(REDIS_URL):
        print(f"coverage: skipped, no Redis at {REDIS_URL} (make redis)")
        return 0
    ctx = multiprocessing.get_context("spawn")
    ports = {"payer": _free_port(), "bare": _free_port(), "gateway": _free_port()}
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
    try:
        r = asyncio.run(_measure(ports))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(5)
        os.unlink(audit_path)
    ratio = r["gateway_cached_rps"] / r["bare_rps"]
    added_ms = (r["gateway_uncached_p50"] - r["payer_p50"]) * 1000
    print(
        "coverage check (uvicorn, 1 process each, loopback, "
        f"{CONCURRENCY} concurrent, {SECONDS:.0f} s per run)"
    )
    print(
        f"  cached throughput: gateway {r['gateway_cached_rps']:.0f}/s vs bare Redis GET "
        f"{r['bare_rps']:.0f}/s -> ratio {ratio:.2f} (target >= 0.70)"
    )
    print(
        f"  uncached p50: gateway {r['gateway_uncached_p50'] * 1000:.2f} ms vs payer "
        f"{r['payer_p50'] * 1000:.2f} ms -> added {added_ms:.2f} ms (target < 5 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
