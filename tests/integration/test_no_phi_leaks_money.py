"""The money questions leak no PHI: names, birth dates, phones, MRNs and member ids never
reach the application log, the audit stream, metric labels or cache keys, and what Redis
keeps of a good-faith estimate is sealed."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from datetime import datetime, timedelta

import httpx
import pytest
import redis.asyncio as aioredis

from connectors import FhirClient
from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.logs import configure_logging
from mappers import encode_id
from tests.support.asgi import running
from tests.support.money_env import (
    MONEY_KEY,
    ZONE,
    account,
    appointment_on,
    money_settings,
    patient,
    payer_app,
    slot_on,
)
from tests.support.payer_env import to_simulator

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


async def test_money_endpoints_keep_phi_out_of_logs_audit_metrics_and_cache(
    hapi_base_urls, redis_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("FRONTDESK_HASH_KEY", f"phi-money-{uuid.uuid4().hex}")
    base_a, base_b = hapi_base_urls
    run = uuid.uuid4().hex[:8]
    family, phone, born = f"Phimoney{run}", "555-0177", "1977-07-07"
    day = datetime.now(ZONE).date() + timedelta(days=20)
    async with httpx.AsyncClient(timeout=30) as http:
        fhir = FhirClient(base_a, http=http, source="fixture")
        uninsured = await patient(fhir, family=family, given="Ottilie", birth_date=born)
        await fhir.update(
            {**uninsured, "telecom": [{"system": "phone", "value": phone}]},
            if_match=uninsured["meta"]["versionId"],
        )
        mrn = uninsured["identifier"][0]["value"]
        await fhir.create(account(uninsured["id"], patient_owes="42.42"))
        jane = await patient(
            fhir, family="Doe", given="Jane", birth_date="1980-01-15", member_id="SIM-ACTIVE-1"
        )
        jane_visit = await appointment_on(fhir, "ehr-a", jane["id"], day)
        slot = await slot_on(fhir, day)
    phi = [family, "Ottilie", born, "19770707", phone, mrn, "SIM-ACTIVE-1", "1980-01-15"]
    logs = io.StringIO()
    configure_logging("DEBUG", stream=logs)
    audit = MemoryAuditSink()
    app = create_app(
        money_settings(base_a, base_b, redis_url, audit_path=tmp_path / "a.jsonl"),
        audit=audit,
        eligibility_transport_factory=to_simulator(payer_app()),
    )
    pid = encode_id("ehr-a", "Patient", uninsured["id"])
    jane_id = encode_id("ehr-a", "Patient", jane["id"])
    try:
        async with running(app) as api:
            api.headers["Authorization"] = f"Bearer {MONEY_KEY}"
            r = await api.post(
                "/v1/estimates", json={"patient_id": jane_id, "visit_type": {"code": "124"}}
            )
            assert r.json()["patient_pays"] == "25.00", r.text
            r = await api.post("/v1/estimates", json={"appointment_id": jane_visit["gid"]})
            assert r.status_code == 200, r.text
            r = await api.post(
                "/v1/estimates", json={"patient_id": pid, "visit_type": {"code": "124"}}
            )
            assert r.json()["basis"] == "uninsured", r.text
            booked = await api.post(
                "/v1/appointments",
                json={"slot_id": encode_id("ehr-a", "Slot", slot), "patient_id": pid},
                headers={"Idempotency-Key": f"phi-money-{run}"},
            )
            assert booked.status_code == 201, booked.text
            gfe_id = booked.headers["Good-Faith-Estimate"].split(";", 1)[0]
            for path, params in (
                ("/v1/appointments", {"date": day.isoformat(), "include": ["collect", "coverage"]}),
                ("/v1/gfe", {"due_before": (day + timedelta(days=1)).isoformat()}),
                ("/v1/gfe", {"patient": pid}),
                (f"/v1/gfe/{gfe_id}", {}),
                (f"/v1/patients/{pid}/balance", {}),
            ):
                assert (await api.get(path, params=params)).status_code == 200, path
            r = await api.post(f"/v1/gfe/{gfe_id}/issue")
            assert r.json()["document"]["patient_name"] == f"Ottilie {family}", r.text
            page = await api.get(f"/v1/gfe/{gfe_id}/document")
            assert family in page.text
            r = await api.post(f"/v1/gfe/{gfe_id}/bills", json={"amount": "999.99"})
            assert r.json()["flagged"] is True
            r = await api.post(f"/v1/appointments/{jane_visit['gid']}/check-in")
            assert r.json()["collect"]["amount"] == "25.00", r.text
            # Refusals are logged too.
            assert (await api.get(f"/v1/patients/{pid[:-2]}AA/balance")).status_code == 404
            metrics = (await api.get("/metrics")).text
        client = aioredis.Redis.from_url(redis_url)
        try:
            keys = [k.decode() async for k in client.scan_iter(match="fd:*", count=1000)]
            gfe_values = [
                await client.get(k)
                for k in keys
                if k.startswith("fd:gfe:") and await client.type(k) == b"string"
            ]
        finally:
            await client.aclose()
    finally:
        configure_logging()
    text = logs.getvalue()
    events = [json.loads(line)["event"] for line in text.splitlines()]
    assert events.count("request") >= 12
    assert "frontdesk_gfe_bookings_total" in metrics
    assert gfe_values, "expected the estimate in Redis"
    audit_text = json.dumps([dataclasses.asdict(e) for e in audit.events])
    assert {"estimate.create", "gfe.issue", "gfe.print", "gfe.bill", "patient.balance"} <= {
        e.action for e in audit.events
    }
    for value in phi:
        assert value not in text, "PHI in application logs"
        assert value not in audit_text, "PHI in audit events"
        assert value not in metrics, "PHI in metrics"
        assert not any(value in k for k in keys), "PHI in a cache key"
        assert not any(v is not None and value.encode() in v for v in gfe_values), "GFE in clear"
