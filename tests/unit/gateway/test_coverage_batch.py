"""The night-before batch: appointments of a day → queued checks → a summary with reasons."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.cache import MemoryCache
from gateway.jobs import JobQueue, JobWorker
from gateway.security import hash_api_key
from gateway.settings import ApiClientConfig, PayerConfig, Settings, SourceConfig

from .coverage_fakes import FakeEhr, appointment, coverage_json, tenant, x12_271

KEY = "batch-key"


def clearinghouse(request: httpx.Request) -> httpx.Response:
    member = request.content.decode().split("*MI*", 1)[1].split("~", 1)[0]
    aaa = "72" if member.startswith("BAD") else None
    return httpx.Response(200, text=x12_271(member, aaa=aaa))


EHR = FakeEhr(
    [],
    by_patient={
        "p1": [coverage_json("c1", "GOOD-1")],
        "p2": [coverage_json("c2", "BAD-2")],
        "p3": [coverage_json("c3", "PAPER-3", payer="PAPER1")],
    },
    appointments=[
        appointment("a1", "p1"),
        appointment("a2", "p2"),
        appointment("a3", "p3"),
        appointment("a4", "p1"),  # a second visit: one check
        appointment("a5", "p4", status="cancelled"),
    ],
)


async def poll(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    for _ in range(200):
        status: dict[str, Any] = (await client.get(f"/v1/coverage-checks/batch/{job_id}")).json()
        if status["state"] == "done":
            return status
        await asyncio.sleep(0.05)
    raise AssertionError("batch did not finish")


async def test_batch_over_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "k")
    settings = Settings(
        tenants=[tenant()],
        api_clients=[
            ApiClientConfig(
                id="desk", tenant="t1", scopes=["coverage:check"], key_sha256=hash_api_key(KEY)
            )
        ],
        coverage_batch_workers=2,
    )

    def ehr_transport(source: SourceConfig) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(EHR.handler)

    def payer_transport(payer: PayerConfig) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(clearinghouse)

    app = create_app(
        settings,
        transport_factory=ehr_transport,
        cache=MemoryCache(),
        audit=MemoryAuditSink(),
        eligibility_transport_factory=payer_transport,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gw",
            headers={"Authorization": f"Bearer {KEY}"},
        ) as client,
    ):
        started = await client.post("/v1/coverage-checks/batch", json={"date": "2025-03-11"})
        assert started.status_code == 202, started.text
        assert started.json()["total"] == 3
        status = await poll(client, started.json()["id"])
        missing = await client.get("/v1/coverage-checks/batch/nope")
    assert missing.status_code == 404
    assert status["summary"] == {"active": 1, "inactive": 0, "needs_attention": 2}
    reasons = {r["status"]: r["reasons"] for r in status["needs_attention"]}
    assert any("check the insurance card" in r for r in reasons["error"])
    assert any("not verified" in r for r in reasons["unknown"])


async def test_items_are_shared_between_workers_exactly_once() -> None:
    cache = MemoryCache()
    queue = JobQueue(cache)
    job = await queue.submit("k", "t1", {}, [f"i{n}" for n in range(40)])
    seen: list[tuple[int, int]] = []

    def handler_for(worker: int) -> Any:
        async def handle(j: Any, index: int) -> dict[str, Any]:
            seen.append((worker, index))
            await asyncio.sleep(0.001)
            return {"status": "active"}

        return handle

    workers = [JobWorker(queue, handler_for(w), concurrency=3) for w in range(3)]
    await asyncio.gather(*(w.run_once() for w in workers))
    assert sorted(i for _, i in seen) == list(range(40))
    assert len({w for w, _ in seen}) > 1
    assert all(r is not None for r in await queue.results(job))
