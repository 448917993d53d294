"""Money questions on the real HAPI servers and Redis: a balance read from an Account
carrying the balance extensions, an estimate for a patient whose Coverage is in HAPI, and
good-faith estimates shared by two gateway replicas through Redis, sealed at rest."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import httpx
import pytest
import redis.asyncio as aioredis

from connectors import FhirClient
from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from mappers import encode_id
from tests.support.asgi import running
from tests.support.money_env import (
    MONEY_KEY,
    ZONE,
    account,
    money_settings,
    patient,
    payer_app,
    slot_on,
)
from tests.support.payer_env import to_simulator

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", f"money-{uuid.uuid4().hex}")


@asynccontextmanager
async def gateway(hapi_base_urls, redis_url, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    base_a, base_b = hapi_base_urls
    app = create_app(
        money_settings(base_a, base_b, redis_url, audit_path=tmp_path / "audit.jsonl"),
        audit=MemoryAuditSink(),
        eligibility_transport_factory=to_simulator(payer_app()),
    )
    async with running(app) as api:
        api.headers["Authorization"] = f"Bearer {MONEY_KEY}"
        yield api


def _name() -> str:
    return f"Money{uuid.uuid4().hex[:8]}"


async def test_balance_on_hapi_from_an_account_with_the_balance_extensions(
    hapi_base_urls, redis_url, tmp_path
):
    base_a, _ = hapi_base_urls
    async with httpx.AsyncClient(timeout=30) as http:
        fhir = FhirClient(base_a, http=http, source="fixture")
        made = await patient(fhir, family=_name(), given="Ella", birth_date="2001-02-03")
        # HAPI stores the Accounts as written: the R5 cross-version balance (the patient's
        # and the insurance's parts) and Oracle Health's guarantor-balance extension.
        await fhir.create(account(made["id"], patient_owes="125.40", insurance_owes="880.00"))
        await fhir.create(account(made["id"], oracle_balance="10.05"))
        await fhir.create(account(made["id"], patient_owes="70.00", status="inactive"))
    pid = encode_id("ehr-a", "Patient", made["id"])
    async with gateway(hapi_base_urls, redis_url, tmp_path) as api:
        r = await api.get(f"/v1/patients/{pid}/balance")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["self_pay_balance"], body["accounts"], body["read_from"]) == (
        "135.45",
        3,
        "mixed",
    )


async def test_an_estimate_for_a_patient_insured_in_hapi(hapi_base_urls, redis_url, tmp_path):
    base_a, _ = hapi_base_urls
    async with httpx.AsyncClient(timeout=30) as http:
        fhir = FhirClient(base_a, http=http, source="fixture")
        jane = await patient(
            fhir, family="Doe", given="Jane", birth_date="1980-01-15", member_id="SIM-ACTIVE-1"
        )
    async with gateway(hapi_base_urls, redis_url, tmp_path) as api:
        r = await api.post(
            "/v1/estimates",
            json={
                "patient_id": encode_id("ehr-a", "Patient", jane["id"]),
                "visit_type": {"code": "124"},
            },
        )
    assert r.status_code == 200, r.text
    assert (r.json()["patient_pays"], r.json()["plan_pays"]) == ("25.00", "98.45")


async def test_good_faith_estimates_are_shared_by_replicas_and_sealed_in_redis(
    hapi_base_urls, redis_url, tmp_path
):
    base_a, _ = hapi_base_urls
    family = _name()
    day = datetime.now(ZONE).date() + timedelta(days=20)
    async with httpx.AsyncClient(timeout=30) as http:
        fhir = FhirClient(base_a, http=http, source="fixture")
        made = await patient(fhir, family=family, given="Ella", birth_date="2001-02-03")
        slot = await slot_on(fhir, day)
    pid = encode_id("ehr-a", "Patient", made["id"])
    async with (
        gateway(hapi_base_urls, redis_url, tmp_path / "one") as one,
        gateway(hapi_base_urls, redis_url, tmp_path / "two") as two,
    ):
        booked = await one.post(
            "/v1/appointments",
            json={"slot_id": encode_id("ehr-a", "Slot", slot), "patient_id": pid},
            headers={"Idempotency-Key": f"gfe-{family}"},
        )
        assert booked.status_code == 201, booked.text
        gfe_id = booked.headers["Good-Faith-Estimate"].split(";", 1)[0]
        # The other replica sees it due, issues it; the first sees it issued.
        listed = await two.get(
            "/v1/gfe", params={"due_before": (day + timedelta(days=1)).isoformat()}
        )
        assert gfe_id in [g["id"] for g in listed.json()["items"]]
        issued = await two.post(f"/v1/gfe/{gfe_id}/issue")
        assert issued.status_code == 200, issued.text
        seen = await one.get(f"/v1/gfe/{gfe_id}")
        assert seen.json()["status"] == "issued"
        assert seen.json()["document"]["patient_name"] == f"Ella {family}"
        listed = await one.get(
            "/v1/gfe", params={"due_before": (day + timedelta(days=1)).isoformat()}
        )
        assert gfe_id not in [g["id"] for g in listed.json()["items"]]
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match="fd:gfe*", count=1000)]
        values = [await client.get(k) for k in keys if await client.type(k) == b"string"]
    finally:
        await client.aclose()
    assert keys
    for secret in (family.encode(), b"2001-02-03"):
        assert not any(secret in k for k in keys)
        assert not any(v is not None and secret in v for v in values), "GFE stored in clear"
