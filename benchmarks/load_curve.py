"""Load curve: throughput and p99 of coverage checks and slot searches as concurrency rises
(1, 8, 32, 128 connections) on one and on two gateway processes; the knee marked.

The gateways run as ``frontdesk serve`` with Redis, HAPI (EHR A) and the payer simulator
(a process); both requests are the desk's repeated ones, answered from the shared cache
after the first (a member's coverage check; one day's slots of a bench clinic). With two
processes the load generator splits its connections between their ports, as a proxy
spreading connections would. Load: ``benchmarks/_load.py`` (raw HTTP/1.1, keep-alive, one
request in flight per connection, its own process). The knee is the last concurrency
before throughput stops growing by 10% while p99 keeps rising: past it, more callers
only queue. Everything shares this machine's CPUs, the generator included.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import sys
from typing import Any

import httpx

from benchmarks._gateway import (
    HAPI_A,
    KEY,
    clinic,
    gateway,
    ready,
    settings,
    uvicorn_app,
    write_config,
)
from benchmarks._load import LoadResult, build_request, run_load
from benchmarks._report import percentile, plot, write_json

LEVELS = (1, 8, 32, 128)
SECONDS = 2.5
JANE = {
    "member_id": "SIM-ACTIVE-1",
    "payer_id": "SIMPAYER",
    "first_name": "Jane",
    "last_name": "Doe",
    "birth_date": "1980-01-15",
    "service_types": ["98"],
}


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _point(urls: list[str], requests: list[bytes], connections: int) -> dict[str, float]:
    shares = [
        (u, r, n)
        for u, r, n in zip(urls, requests, _split(connections, len(urls)), strict=True)
        if n
    ]
    with concurrent.futures.ThreadPoolExecutor(len(shares)) as pool:
        runs: list[LoadResult] = list(
            pool.map(
                lambda s: run_load(s[0], s[1], connections=s[2], seconds=SECONDS, warmup=s[2] * 5),
                shares,
            )
        )
    failures = sum(r.failures for r in runs)
    if failures:
        raise RuntimeError(f"{failures} failed requests at {connections} connections")
    latencies = [x for r in runs for x in r.latencies]
    return {
        "connections": connections,
        "rps": sum(r.rps for r in runs),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "generator_cpu": max(r.cpu_share for r in runs),
    }


def knee(points: list[dict[str, float]]) -> int:
    """The last concurrency before throughput stops growing by 10%."""
    for here, there in itertools.pairwise(points):
        if there["rps"] < here["rps"] * 1.1:
            return int(here["connections"])
    return int(points[-1]["connections"])


def main(argv: list[str] | None = None) -> int:
    del argv
    try:
        httpx.get(f"{HAPI_A}/metadata", timeout=5).raise_for_status()
    except httpx.HTTPError:
        print(f"load_curve: skipped, no HAPI at {HAPI_A} (make hapi)")
        return 0
    day = clinic(HAPI_A, 20, "Benchload")
    payer, payer_port = uvicorn_app("simulators.payer:create_payer_app", "load-payer")
    config = write_config(settings(HAPI_A, payer_port), "load")
    auth = {"Authorization": f"Bearer {KEY}"}
    curves: dict[str, dict[str, list[dict[str, float]]]] = {"coverage": {}, "slots": {}}
    gateways = [gateway(config, f"load-gateway{i}", "bench-load") for i in range(2)]
    try:
        for child, port in gateways:
            ready(child, port)
        for processes in (1, 2):
            ports = [port for _, port in gateways[:processes]]
            targets = {
                "coverage": [f"http://127.0.0.1:{p}/v1/coverage-checks" for p in ports],
                "slots": [
                    f"http://127.0.0.1:{p}/v1/slots?start={day}T00:00:00Z&end={day}T23:59:00Z"
                    for p in ports
                ],
            }
            for name, urls in targets.items():
                body = JANE if name == "coverage" else None
                requests = [build_request(u, auth, body) for u in urls]
                for url in urls:  # fill the cache the load then reads
                    method = "POST" if body else "GET"
                    httpx.request(method, url, headers=auth, json=body).raise_for_status()
                curves[name][f"{processes} process{'es' if processes > 1 else ''}"] = [
                    _point(urls, requests, c) for c in LEVELS
                ]
    finally:
        for child, _ in gateways:
            child.stop()
        payer.stop()
    print(
        f"load curve (cached coverage checks and slot searches; {SECONDS} s per point; "
        "connections split over the gateway processes)"
    )
    result: dict[str, Any] = {"levels": LEVELS, "seconds": SECONDS}
    for name, by_setup in curves.items():
        result[name] = {}
        for setup, points in by_setup.items():
            k = knee(points)
            result[name][setup] = {"points": points, "knee": k}
            cells = ", ".join(
                f"{int(p['connections'])}: {p['rps']:.0f}/s p99 {p['p99_ms']:.0f} ms"
                for p in points
            )
            print(f"  {name}, {setup}: {cells}; knee at {k}")
        one, two = (result[name][s]["points"] for s in by_setup)
        scaling = two[-1]["rps"] / one[-1]["rps"]
        result[name]["two_over_one_at_top"] = scaling
        print(f"  {name}: 2 processes / 1 at {LEVELS[-1]} connections -> {scaling:.2f}")
    path = write_json("load_curve", result)
    plt = plot("load_curve")
    if plt is not None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, (name, by_setup) in zip(axes, curves.items(), strict=True):
            twin = ax.twinx()
            for setup, points in by_setup.items():
                xs = [p["connections"] for p in points]
                line = ax.plot(xs, [p["rps"] for p in points], marker="o", label=f"{setup} req/s")
                twin.plot(
                    xs,
                    [p["p99_ms"] for p in points],
                    linestyle="--",
                    color=line[0].get_color(),
                    label=f"{setup} p99",
                )
                k = result[name][setup]["knee"]
                ax.axvline(k, color=line[0].get_color(), linestyle=":", alpha=0.6)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("concurrent connections")
            ax.set_ylabel("requests/s")
            twin.set_ylabel("p99 (ms, dashed)")
            ax.set_title(f"{name} (dotted: knee)")
            ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        fig.savefig(path.with_suffix(".png"), dpi=100)
        plt.close(fig)
    print(f"  written: {path}{' (+ .png)' if plt is not None else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
