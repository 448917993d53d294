"""Night-before batch: items per second for a 2,000-patient day with one and with two
``frontdesk worker`` processes, and the payer's pace holding when one is set.

An in-memory FHIR server (``simulators.fhir_server``, a process) holds the day: 2,000
patients, each with a card of the payer simulator's (a process) and one appointment. The
API (in this process) queues the batch on Redis; the workers check each patient (EHR
reads, then the payer) and the time from queueing to the last answer is measured. Each
run has its own cache-key secret, so no run answers from another's cache. Third run: two
workers under a pace (``rate_limit``) set below what they reached unpaced, for a fixed time
and then cancelled; the payer simulator's arrival times show the busiest second against
the pace.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks._gateway import KEY, day_of_checks, settings, uvicorn_app, worker, write_config
from benchmarks._report import Child, plot, write_json

ITEMS = 2000
BATCH_SHARE = 0.8  # PayerConfig.batch_share's default
PACED_SECONDS = 40.0


def _busiest(arrivals: list[float], seconds: float) -> int:
    from simulators.payer.control import busiest_window

    return busiest_window(arrivals, seconds)


def _wait_started(child: Child, seconds: float = 90) -> None:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if "batch_worker_started" in child.log.read_text(errors="replace"):
            return
        if child.popen.poll() is not None:
            raise RuntimeError(f"worker exited; see {child.log}")
        time.sleep(0.2)
    raise RuntimeError(f"worker did not start; see {child.log}")


async def _run_batch(
    config: dict[str, Any], day: str, limit: float | None = None
) -> tuple[float, int, dict[str, int]]:
    """(seconds, items finished, failures by reason); past ``limit`` seconds the batch is
    cancelled and what finished by then counts."""
    from gateway.app import create_app
    from gateway.audit import MemoryAuditSink
    from gateway.settings import Settings

    app = create_app(Settings(**config), audit=MemoryAuditSink())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gw",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=120,
        ) as client,
    ):
        began = time.perf_counter()
        started = (await client.post("/v1/coverage-checks/batch", json={"date": day})).json()
        if started.get("total") != ITEMS:
            raise RuntimeError(f"batch of {started.get('total')} items, wanted {ITEMS}")
        job = f"/v1/coverage-checks/batch/{started['id']}"
        while True:
            status = (await client.get(job)).json()
            if status["state"] == "done":
                break
            if limit is not None and time.perf_counter() - began > limit:
                status = (await client.post(f"{job}/cancel")).json()
                break
            await asyncio.sleep(0.1)
        took = time.perf_counter() - began
        failed: dict[str, int] = {}
        for item in status["failed"]:
            failed[item["reason"]] = failed.get(item["reason"], 0) + 1
        return took, status["done"], failed


def _phase(
    name: str,
    fhir_url: str,
    payer_port: int,
    day: str,
    workers: int,
    rate: int | None,
    limit: float | None = None,
) -> dict[str, Any]:
    secret = uuid.uuid4().hex
    os.environ["FRONTDESK_HASH_KEY"] = secret
    config = settings(fhir_url, payer_port, rate_limit=f"{rate}/second" if rate else None)
    path: Path = write_config(config, f"batch-{name}")
    httpx.post(f"http://127.0.0.1:{payer_port}/_sim/reset").raise_for_status()
    children = [worker(path, f"batch-{name}-worker{i}", secret) for i in range(workers)]
    try:
        for child in children:
            _wait_started(child)
        took, done, failed = asyncio.run(_run_batch(config, day, limit))
    finally:
        for child in children:
            child.stop()
    stats = httpx.get(f"http://127.0.0.1:{payer_port}/_sim/stats").json()
    return {
        "workers": workers,
        "rate_limit_per_s": rate,
        "seconds": took,
        "items": done,
        "items_per_s": done / took,
        "payer_requests": stats["requests"],
        "busiest_second_at_payer": _busiest(stats["arrivals"], 1.0),
        "failed": failed,
    }


def main(argv: list[str] | None = None) -> int:
    del argv
    from gateway.logs import configure_logging

    configure_logging("WARNING")
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
    import redis as redis_py

    try:
        redis_py.Redis.from_url(redis, socket_connect_timeout=1).ping()
    except redis_py.RedisError:
        print(f"batch: skipped, no Redis at {redis} (make redis)")
        return 0
    fhir, fhir_port = uvicorn_app("simulators.fhir_server:create_fhir_app", "batch-fhir")
    payer, payer_port = uvicorn_app("simulators.payer:create_payer_app", "batch-payer")
    fhir_url = f"http://127.0.0.1:{fhir_port}/fhir"
    runs: dict[str, dict[str, Any]] = {}
    try:
        day = day_of_checks(fhir_url, ITEMS).isoformat()
        runs["1 worker"] = _phase("one", fhir_url, payer_port, day, 1, None)
        runs["2 workers"] = _phase("two", fhir_url, payer_port, day, 2, None)
        # A pace under what two workers reached: the batch may use 80% of it.
        pace = max(5, int(runs["2 workers"]["items_per_s"] * 0.75))
        # Long enough to see the pace hold; then cancelled (what finished counts).
        runs["2 workers, paced"] = _phase(
            "paced", fhir_url, payer_port, day, 2, pace, limit=PACED_SECONDS
        )
    finally:
        fhir.stop()
        payer.stop()
    one, two, paced = runs["1 worker"], runs["2 workers"], runs["2 workers, paced"]
    scaling = two["items_per_s"] / one["items_per_s"]
    print(
        f"batch ({ITEMS} patients, in-memory FHIR server and payer simulator as processes, "
        "8 items at once per worker)"
    )
    for label, run in runs.items():
        if run["failed"]:
            print(f"  {label}: items failed after every try: {run['failed']}")
    print(f"  1 worker: {one['items_per_s']:.0f} items/s ({one['seconds']:.1f} s)")
    print(
        f"  2 workers: {two['items_per_s']:.0f} items/s ({two['seconds']:.1f} s) -> "
        f"{scaling:.2f}x one worker"
    )
    pace = paced["rate_limit_per_s"]
    print(
        f"  2 workers paced at {pace}/s (batch share {BATCH_SHARE:.0%}; {paced['items']} items "
        f"in {paced['seconds']:.0f} s, then cancelled): "
        f"{paced['items_per_s']:.1f} items/s; busiest second at the payer "
        f"{paced['busiest_second_at_payer']} (limit {pace}) -> "
        f"{'holds' if paced['busiest_second_at_payer'] <= pace else 'EXCEEDED'}"
    )
    path = write_json("batch", {"items": ITEMS, "runs": runs, "two_over_one": scaling})
    plt = plot("batch")
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        labels = list(runs)
        ax.bar(labels, [runs[k]["items_per_s"] for k in labels], color=["C0", "C1", "C2"])
        ax.axhline(pace * BATCH_SHARE, color="C2", linestyle=":", label="batch share of the pace")
        ax.set_ylabel("items per second")
        ax.set_title(f"Night-before batch, {ITEMS} patients")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path.with_suffix(".png"), dpi=100)
        plt.close(fig)
    print(f"  written: {path}{' (+ .png)' if plt is not None else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
