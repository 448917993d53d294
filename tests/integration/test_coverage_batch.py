"""The night-before batch on the saq queue in a real Redis, with a worker in the API process:
appointments of a day -> one job per patient -> a summary with reasons; an item that keeps
failing ends in the failed list after its tries; a cancelled batch stops calling the payer.

The EHR and the clearinghouse are mocks (the faults they script can't be asked of HAPI);
``test_batch_workers`` runs the same on real worker processes, HAPI and the payer
simulator.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.batch_queue import BatchStore
from gateway.security import hash_api_key
from gateway.settings import ApiClientConfig, PayerConfig, Settings, SourceConfig
from tests.unit.gateway.coverage_fakes import FakeEhr, appointment, coverage_json, tenant, x12_271

pytestmark = pytest.mark.redis

KEY = "batch-key"
OTHER_KEY = "batch-other-tenant"


class Clearinghouse:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        await asyncio.sleep(self.delay)
        member = request.content.decode().split("*MI*", 1)[1].split("~", 1)[0]
        aaa = "72" if member.startswith("BAD") else None
        return httpx.Response(200, text=x12_271(member, aaa=aaa))


class BrokenPatients(FakeEhr):
    """Patient reads of ``broken`` answer 500, every time."""

    def __init__(self, *args: Any, broken: set[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.broken = broken
        self.broken_reads = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if "/Patient/" in request.url.path and request.url.path.rsplit("/", 1)[-1] in self.broken:
            self.broken_reads += 1
            return httpx.Response(500, json={"resourceType": "OperationOutcome", "issue": []})
        return super().handler(request)


def day_ehr(patients: int = 0, **kwargs: Any) -> BrokenPatients:
    by_patient = {
        "patient-1": [coverage_json("c1", "GOOD-1")],
        "patient-2": [coverage_json("c2", "BAD-2")],
        "patient-3": [coverage_json("c3", "PAPER-3", payer="PAPER1")],
    }
    appointments = [
        appointment("a1", "patient-1"),
        appointment("a2", "patient-2"),
        appointment("a3", "patient-3"),
        appointment("a4", "patient-1"),  # a second visit: one check
        appointment("a5", "patient-4", status="cancelled"),
    ]
    for n in range(patients):
        by_patient[f"q{n}"] = [coverage_json(f"cq{n}", f"MANY-{n}")]
        appointments.append(appointment(f"aq{n}", f"q{n}"))
    return BrokenPatients([], by_patient=by_patient, appointments=appointments, **kwargs)


@asynccontextmanager
async def gateway(
    redis_url: str | None, ehr: FakeEhr, house: Clearinghouse, **extra: Any
) -> AsyncIterator[httpx.AsyncClient]:
    other = tenant().model_copy(
        update={
            "id": "t2",
            "sources": [SourceConfig(id="ehr-z", base_url="http://ehr-z.test/fhir")],
        }
    )
    settings = Settings(
        tenants=[tenant(), other],
        api_clients=[
            ApiClientConfig(
                id="desk", tenant="t1", scopes=["coverage:check"], key_sha256=hash_api_key(KEY)
            ),
            ApiClientConfig(
                id="elsewhere",
                tenant="t2",
                scopes=["coverage:check"],
                key_sha256=hash_api_key(OTHER_KEY),
            ),
        ],
        cache={"redis_url": redis_url},
        coverage_batch_workers=1,
        coverage_batch_heartbeat_seconds=1,
        **extra,
    )

    def ehr_transport(source: SourceConfig) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(ehr.handler)

    def payer_transport(payer: PayerConfig) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(house.handler)

    app = create_app(
        settings,
        transport_factory=ehr_transport,
        audit=MemoryAuditSink(),
        eligibility_transport_factory=payer_transport,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gw",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=30,
        ) as client,
    ):
        yield client


async def poll(client: httpx.AsyncClient, job_id: str, until: str = "done") -> dict[str, Any]:
    for _ in range(600):
        response = await client.get(f"/v1/coverage-checks/batch/{job_id}")
        assert response.status_code == 200, response.text
        status: dict[str, Any] = response.json()
        if status["state"] == until:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch did not reach {until}: {status}")


@pytest.fixture(autouse=True)
def fresh_keyspace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", uuid.uuid4().hex)


def documented(openapi: dict[str, Any], path: str, method: str, status: str) -> Any:
    """A validator for the answer the OpenAPI document promises."""
    schema = openapi["paths"][path][method]["responses"][status]["content"]["application/json"]
    return jsonschema.Draft202012Validator(
        {**schema["schema"], "components": openapi["components"]}
    )


async def test_batch_over_a_day(redis_url: str) -> None:
    house = Clearinghouse()
    async with gateway(redis_url, day_ehr(broken=set()), house) as client:
        openapi = (await client.get("/openapi.json")).json()
        started = await client.post("/v1/coverage-checks/batch", json={"date": "2025-03-11"})
        assert started.status_code == 202, started.text
        assert started.json()["total"] == 3
        assert started.json()["sources"] == [{"source": "ehr-a", "status": "ok", "detail": None}]
        status = await poll(client, started.json()["id"])
        cancelled = await client.post(f"/v1/coverage-checks/batch/{status['id']}/cancel")
        missing = await client.get("/v1/coverage-checks/batch/nope")
        elsewhere = await client.get(
            f"/v1/coverage-checks/batch/{started.json()['id']}",
            headers={"Authorization": f"Bearer {OTHER_KEY}"},
        )
    assert missing.status_code == 404
    assert elsewhere.status_code == 404
    # The answers are the ones the OpenAPI document describes.
    batch, one = "/v1/coverage-checks/batch", "/v1/coverage-checks/batch/{job_id}"
    documented(openapi, batch, "post", "202").validate(started.json())
    documented(openapi, one, "get", "200").validate(status)
    documented(openapi, one + "/cancel", "post", "200").validate(cancelled.json())
    assert cancelled.json()["state"] == "cancelled"
    assert "$ref" in str(openapi["paths"][one]["get"]["responses"]["200"])
    assert status["summary"] == {"active": 1, "inactive": 0, "needs_attention": 2, "failed": 0}
    reasons = {r["status"]: r["reasons"] for r in status["needs_attention"]}
    assert any("check the insurance card" in r for r in reasons["error"])
    assert any("not verified" in r for r in reasons["unknown"])
    assert house.calls == 2  # patient-1 and -2; patient-3's payer has no real-time service


async def test_results_rest_sealed_in_redis(redis_url: str) -> None:
    async with gateway(redis_url, day_ehr(broken=set()), Clearinghouse()) as client:
        job_id = (
            await client.post("/v1/coverage-checks/batch", json={"date": "2025-03-11"})
        ).json()["id"]
        await poll(client, job_id)
    r = aioredis.Redis.from_url(redis_url)
    try:
        stored = [await r.get(BatchStore.key(job_id, "meta"))]
        results = await r.hgetall(BatchStore.key(job_id, "results"))  # type: ignore[misc]
        stored += list(results.values())
        jobs = [k async for k in r.scan_iter(match=f"saq:job:*{job_id}*")]
        stored += [await r.get(k) for k in jobs]
    finally:
        await r.aclose()
    assert len(stored) == 1 + 3 + 3
    for value in stored:
        assert value is not None
        for clear in (b"ehr-a", b"GOLD", b"Acme", b"GOOD-1", b"patient-1"):
            assert clear not in value
    # saq's own job records hold the batch id and the item's index, nothing else.
    job = json.loads(stored[-1])
    assert set(job["kwargs"]) == {"batch", "index"}
    assert job.get("result") is None


async def test_an_item_that_keeps_failing_lands_in_the_failed_list(redis_url: str) -> None:
    ehr = day_ehr(broken={"patient-2"})
    async with gateway(redis_url, ehr, Clearinghouse(), coverage_batch_tries=2) as client:
        job_id = (
            await client.post("/v1/coverage-checks/batch", json={"date": "2025-03-11"})
        ).json()["id"]
        status = await poll(client, job_id)
    assert status["done"] == status["total"] == 3
    assert status["summary"] == {"active": 1, "inactive": 0, "needs_attention": 1, "failed": 1}
    [failed] = status["failed"]
    assert failed["attempts"] == 2
    assert "the EHR did not answer" in failed["reason"] and "HTTP 500" in failed["reason"]
    assert ehr.broken_reads >= 2


async def test_a_cancelled_batch_stops_within_seconds(redis_url: str) -> None:
    house = Clearinghouse(delay=0.5)
    ehr = day_ehr(patients=60, broken=set())
    async with gateway(redis_url, ehr, house, coverage_batch_concurrency=4) as client:
        job_id = (
            await client.post("/v1/coverage-checks/batch", json={"date": "2025-03-11"})
        ).json()["id"]
        for _ in range(200):
            if house.calls >= 4:
                break
            await asyncio.sleep(0.05)
        cancelled = await client.post(f"/v1/coverage-checks/batch/{job_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["state"] == "cancelled"
        # Checks in flight may finish their payer call; none starts after the next beat.
        await asyncio.sleep(1.5)
        calls = house.calls
        await asyncio.sleep(2.0)
        status = (await client.get(f"/v1/coverage-checks/batch/{job_id}")).json()
    assert house.calls == calls
    assert calls < 20
    assert status["state"] == "cancelled"
    assert status["done"] < status["total"] == 63


async def test_without_redis_the_batch_is_unavailable() -> None:
    async with gateway(None, day_ehr(broken=set()), Clearinghouse()) as client:
        response = await client.post("/v1/coverage-checks/batch", json={"date": "2025-03-11"})
    assert response.status_code == 503
    assert response.json()["code"] == "upstream_unavailable"
