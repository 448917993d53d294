"""Fan-out: a merged search over three EHRs costs about what the slowest EHR alone costs.

Three in-memory sandbox EHRs (``simulators.fhir_server``, seeded) answer after injected
latencies of 20, 50 and 120 ms; the gateway's patient search and slot search (read from
the EHRs: ``Cache-Control: no-cache``) over all three are timed against the same searches
over the slowest one alone, in alternating rounds, in one process (ASGI, no sockets, so
only the gateway's own work and the waiting count). Target: ratio at most 1.2.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

import httpx

from benchmarks._report import percentile, plot, write_json

LATENCY = {"ehr-a": 0.020, "ehr-b": 0.050, "ehr-c": 0.120}
ROUNDS = 5
PER_ROUND = 8
KEY = "bench-fanout-key"
TARGET = 1.2


class Delayed(httpx.AsyncBaseTransport):
    """An EHR that answers ``delay`` seconds late."""

    def __init__(self, app: Any, delay: float) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._delay = delay

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self._delay)
        return await self._inner.handle_async_request(request)


async def _ehrs() -> dict[str, Any]:
    from connectors import FhirClient
    from simulators.fhir_server import create_fhir_app
    from simulators.seed import build_bundles, load

    apps: dict[str, Any] = {}
    for source, profile in (("ehr-a", "ehr-a"), ("ehr-b", "ehr-b"), ("ehr-c", "ehr-a")):
        app = create_fhir_app(name=source)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
            fhir = FhirClient(f"http://{source}.bench/fhir", http=http, source=source)
            await load(fhir, build_bundles(profile, seed=7))
        apps[source] = app
    return apps


def _app(apps: dict[str, Any], sources: list[str]) -> Any:
    from gateway.app import create_app
    from gateway.audit import MemoryAuditSink
    from gateway.cache import MemoryCache
    from gateway.security import hash_api_key
    from gateway.settings import Settings, SourceConfig

    settings = Settings(
        tenants=[
            {
                "id": "t1",
                "name": "Bench",
                "time_zone": "America/New_York",
                "sources": [
                    {"id": s, "base_url": f"http://{s}.bench/fhir", "vendor": "hapi"}
                    for s in sources
                ],
            }
        ],
        api_clients=[
            {
                "id": "bench",
                "tenant": "t1",
                "scopes": ["patients:read", "slots:read"],
                "key_sha256": hash_api_key(KEY),
            }
        ],
        client_max_concurrent_requests=1000,
    )

    def transport(source: SourceConfig) -> httpx.AsyncBaseTransport:
        return Delayed(apps[source.id], LATENCY[source.id])

    return create_app(
        settings, transport_factory=transport, cache=MemoryCache(), audit=MemoryAuditSink()
    )


async def _measure() -> dict[str, Any]:
    os.environ.setdefault("FRONTDESK_HASH_KEY", "bench-fanout")
    apps = await _ehrs()
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    searches = {
        "patients": ("/v1/patients", {"family": "Garcia"}),
        "slots": (
            "/v1/slots",
            {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()},
        ),
    }
    headers = {"Authorization": f"Bearer {KEY}", "Cache-Control": "no-cache"}
    gateways = {"all three": _app(apps, list(LATENCY)), "slowest alone": _app(apps, ["ehr-c"])}
    times: dict[str, dict[str, list[float]]] = {s: {g: [] for g in gateways} for s in searches}
    clients: dict[str, httpx.AsyncClient] = {}
    contexts = []
    for name, app in gateways.items():
        ctx = app.router.lifespan_context(app)
        await ctx.__aenter__()
        contexts.append(ctx)
        clients[name] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gw", headers=headers
        )
    try:
        for search, (path, params) in searches.items():
            for client in clients.values():  # warm: imports, first mapping, directory
                (await client.get(path, params=params)).raise_for_status()
            for i in range(ROUNDS):
                order = list(clients.items()) if i % 2 == 0 else list(reversed(clients.items()))
                for name, client in order:
                    for _ in range(PER_ROUND):
                        t0 = time.perf_counter()
                        response = await client.get(path, params=params)
                        times[search][name].append(time.perf_counter() - t0)
                        response.raise_for_status()
                        assert response.json()["sources"], response.text
    finally:
        for client in clients.values():
            await client.aclose()
        for ctx in contexts:
            await ctx.__aexit__(None, None, None)
    return {
        search: {
            name: {"p50_ms": median(v) * 1000, "p99_ms": percentile(v, 99) * 1000, "n": len(v)}
            for name, v in by_gateway.items()
        }
        for search, by_gateway in times.items()
    }


def main(argv: list[str] | None = None) -> int:
    del argv
    from gateway.logs import configure_logging

    configure_logging("WARNING")
    figures = asyncio.run(_measure())
    print(
        "fan-out (3 sandbox EHRs answering after 20/50/120 ms vs the 120 ms one alone; "
        f"in process, {ROUNDS} alternating rounds of {PER_ROUND}; medians)"
    )
    result: dict[str, Any] = {"latency_ms": {k: v * 1000 for k, v in LATENCY.items()}}
    for search, by_gateway in figures.items():
        both, alone = by_gateway["all three"]["p50_ms"], by_gateway["slowest alone"]["p50_ms"]
        ratio = both / alone
        result[search] = {**by_gateway, "ratio": ratio, "target": TARGET}
        print(
            f"  {search}: all three {both:.1f} ms vs slowest alone {alone:.1f} ms -> ratio "
            f"{ratio:.2f} (target <= {TARGET})"
        )
    path = write_json("fanout", result)
    plt = plot("fanout")
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        names = list(figures)
        width = 0.35
        for i, gateway in enumerate(("all three", "slowest alone")):
            ax.bar(
                [n + (i - 0.5) * width for n in range(len(names))],
                [figures[s][gateway]["p50_ms"] for s in names],
                width,
                label=gateway,
            )
        ax.axhline(LATENCY["ehr-c"] * 1000, color="grey", linestyle=":", label="slowest EHR")
        ax.set_xticks(range(len(names)), names)
        ax.set_ylabel("p50 latency (ms)")
        ax.set_title("Fan-out over 3 EHRs vs the slowest alone")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path.with_suffix(".png"), dpi=100)
        plt.close(fig)
    print(f"  written: {path}{' (+ .png)' if plt is not None else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
