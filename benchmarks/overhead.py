"""Gateway overhead: what ``GET /v1/slots`` and ``GET /v1/patients`` add over the same FHIR
search sent straight to HAPI, from the same client.

HAPI FHIR (EHR A, ``make hapi``) holds a bench clinic (20 free slots on a day no one else
uses, five patients with a bench family name); the gateway runs as ``frontdesk serve``
with Redis, reading the EHR on every request (``Cache-Control: no-cache``). After warm-up
each gateway request makes exactly one FHIR search (checked, and printed); the direct side
sends that very search. One connection, raw HTTP/1.1 (``benchmarks/_load.py``, its own
process), alternating rounds; p50 and p99 added. Target: at most 2 ms added at p50.
"""

from __future__ import annotations

import asyncio
import os
import random
import string
import sys
from statistics import median
from typing import Any

import httpx

from benchmarks._gateway import HAPI_A, KEY, clinic, gateway, ready, settings, write_config
from benchmarks._load import build_request, run_load
from benchmarks._report import cpu_seconds, percentile, plot, write_json

ROUNDS = 6
SECONDS = 1.5
TARGET_P50_MS = 2.0


class _Recording(httpx.AsyncBaseTransport):
    def __init__(self, seen: list[httpx.Request]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.seen = seen

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return await self._inner.handle_async_request(request)


async def _upstream_searches(
    config: dict[str, Any], paths: dict[str, str]
) -> dict[str, tuple[str, dict[str, str]]]:
    """The one FHIR search each gateway request makes once warm (the gateway in process):
    its URL and headers (Accept, Accept-Encoding...), so the direct side asks the same."""
    from gateway.app import create_app
    from gateway.audit import MemoryAuditSink
    from gateway.settings import Settings

    urls: list[httpx.Request] = []
    app = create_app(
        Settings(**config), transport_factory=lambda s: _Recording(urls), audit=MemoryAuditSink()
    )
    found: dict[str, tuple[str, dict[str, str]]] = {}
    headers = {"Authorization": f"Bearer {KEY}", "Cache-Control": "no-cache"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gw", headers=headers
        ) as client,
    ):
        for name, path in paths.items():
            (await client.get(path)).raise_for_status()  # warm: the directory's names
            urls.clear()
            (await client.get(path)).raise_for_status()
            if len(urls) != 1:
                raise RuntimeError(f"{name}: the gateway made {len(urls)} upstream requests")
            sent = urls[0]
            headers = {k: v for k, v in sent.headers.items() if k.lower() not in ("host",)}
            found[name] = (str(sent.url), headers)
    return found


def main(argv: list[str] | None = None) -> int:
    del argv
    from gateway.logs import configure_logging

    configure_logging("WARNING")
    os.environ.setdefault("FRONTDESK_HASH_KEY", "bench-overhead")
    try:
        httpx.get(f"{HAPI_A}/metadata", timeout=5).raise_for_status()
    except httpx.HTTPError:
        print(f"overhead: skipped, no HAPI at {HAPI_A} (make hapi)")
        return 0
    # A family of its own per run: HAPI keeps every run's patients, and a search that
    # found all of them would measure a pile of namesakes, not this run's five.
    family = "Benchoverhead" + "".join(random.choices(string.ascii_lowercase, k=8))
    day = clinic(HAPI_A, 20, family)
    paths = {
        "slots": f"/v1/slots?start={day}T00:00:00Z&end={day}T23:59:00Z",
        "patients": f"/v1/patients?family={family}",
    }
    config = settings(HAPI_A, None)
    direct = asyncio.run(_upstream_searches(config, paths))
    child, port = gateway(write_config(config, "overhead"), "overhead-gateway", "bench-overhead")
    figures: dict[str, dict[str, list[float]]] = {}
    cpu: dict[str, list[float]] = {name: [] for name in paths}
    try:
        ready(child, port)
        auth = {"Authorization": f"Bearer {KEY}", "Cache-Control": "no-cache"}
        for name, path in paths.items():
            gw_url = f"http://127.0.0.1:{port}{path}"
            sides = {
                "gateway": (gw_url, build_request(gw_url, auth, None)),
                "direct": (direct[name][0], build_request(direct[name][0], direct[name][1], None)),
            }
            lat: dict[str, list[float]] = {"gateway": [], "direct": []}
            for i in range(ROUNDS):
                order = list(sides.items()) if i % 2 == 0 else list(reversed(sides.items()))
                for side, (url, request) in order:
                    before = cpu_seconds(child.pid)
                    run = run_load(url, request, connections=1, seconds=SECONDS, warmup=20)
                    after = cpu_seconds(child.pid)
                    if run.failures:
                        raise RuntimeError(f"{name} {side}: {run.failures} failed requests")
                    lat[side].extend(run.latencies)
                    if side == "gateway" and before is not None and after is not None:
                        # The gateway's own CPU per request: what a loaded host can't hide.
                        cpu[name].append((after - before) / (run.requests + 20) * 1000)
            figures[name] = lat
    finally:
        child.stop()
    print(
        "gateway overhead (GET through `frontdesk serve` vs the same FHIR search straight to "
        f"HAPI; 1 connection, {ROUNDS} alternating rounds of {SECONDS} s)"
    )
    result: dict[str, Any] = {
        "upstream_searches": {name: url for name, (url, _) in direct.items()},
        "target_p50_added_ms": TARGET_P50_MS,
    }
    for name, measured in figures.items():
        gw, hapi = measured["gateway"], measured["direct"]
        added50 = (median(gw) - median(hapi)) * 1000
        added99 = (percentile(gw, 99) - percentile(hapi, 99)) * 1000
        result[name] = {
            "gateway_p50_ms": median(gw) * 1000,
            "direct_p50_ms": median(hapi) * 1000,
            "gateway_p99_ms": percentile(gw, 99) * 1000,
            "direct_p99_ms": percentile(hapi, 99) * 1000,
            "added_p50_ms": added50,
            "added_p99_ms": added99,
            "requests": {"gateway": len(gw), "direct": len(hapi)},
            "gateway_cpu_ms_per_request": median(cpu[name]) if cpu[name] else None,
        }
        print(
            f"  {name}: p50 {median(gw) * 1000:.2f} vs {median(hapi) * 1000:.2f} ms -> added "
            f"{added50:.2f} ms (target <= {TARGET_P50_MS}); p99 added {added99:.2f} ms; "
            f"gateway CPU {median(cpu[name]) if cpu[name] else float('nan'):.2f} ms per request"
        )
    written = write_json("overhead", result)
    plt = plot("overhead")
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        names = list(figures)
        for i, (label, key) in enumerate((("direct", "direct"), ("gateway", "gateway"))):
            for j, q in enumerate((50, 99)):
                ax.bar(
                    [n * 5 + i * 2 + j for n in range(len(names))],
                    [percentile(figures[n][key], q) * 1000 for n in names],
                    label=f"{label} p{q}",
                )
        ax.set_xticks([n * 5 + 1.5 for n in range(len(names))], names)
        ax.set_ylabel("latency (ms)")
        ax.set_title("Through the gateway vs straight to HAPI")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(written.with_suffix(".png"), dpi=100)
        plt.close(fig)
    print(f"  written: {written}{' (+ .png)' if plt is not None else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
