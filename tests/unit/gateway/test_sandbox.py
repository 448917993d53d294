"""`frontdesk serve` without a config: the sandbox works out of the box, end to end."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from simulators.sandbox import build_sandbox
from tests.support.asgi import running
from tests.support.sandbox_env import sandbox_app

TODAY = date(2026, 11, 26)


async def test_sandbox_finds_books_and_checks_coverage(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FRONTDESK_AUDIT_PATH", str(tmp_path / "audit.jsonl"))
    sandbox = build_sandbox(api_key="sandbox-test-key", today=TODAY)
    app = sandbox_app(sandbox)
    h = {"Authorization": "Bearer sandbox-test-key"}
    async with running(app) as api:
        assert (await api.get("/healthz")).json()["mode"] == "SANDBOX"
        assert sandbox.seeded["ehr-a"]["Patient"] == 200
        assert sandbox.seeded["ehr-b"]["Patient"] == 200

        r = await api.get("/v1/patients", params={"family": "Garcia"}, headers=h)
        assert r.status_code == 200, r.text
        patients = r.json()["items"]
        assert patients
        patient = next(p for p in patients if p["source"] == "ehr-a")

        start = datetime.combine(
            TODAY + timedelta(days=1), datetime.min.time(), ZoneInfo("America/New_York")
        )
        r = await api.get(
            "/v1/slots",
            params={
                "start": start.isoformat(),
                "end": (start + timedelta(days=2)).isoformat(),
                "source": "ehr-a",
            },
            headers=h,
        )
        slots = r.json()["items"]
        assert slots
        assert all(s["status"] == "free" for s in slots)

        r = await api.post(
            "/v1/appointments",
            json={"slot_id": slots[0]["id"], "patient_id": patient["id"]},
            headers={**h, "Idempotency-Key": "sandbox-1"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "booked"

        r = await api.post(
            "/v1/coverage-checks",
            json={
                "patient_id": patient["id"],
                "service_types": ["98"],
                "date_of_service": str(TODAY + timedelta(days=1)),
            },
            headers=h,
        )
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["origin"] == "x12"
        assert result["status"] in {"active", "inactive"}
        assert result["member_id"]


async def test_the_sandbox_answers_money_questions(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """Balances from the seeded billing accounts; estimates from the sandbox's prices."""
    from mappers import encode_id
    from simulators.seed.accounts import build_accounts

    monkeypatch.setenv("FRONTDESK_AUDIT_PATH", str(tmp_path / "audit.jsonl"))
    sandbox = build_sandbox(api_key="sandbox-money-key", today=TODAY)
    app = sandbox_app(sandbox)
    h = {"Authorization": "Bearer sandbox-money-key"}
    accounts = build_accounts("ehr-a", seed=sandbox.seed)
    assert 15 < len(accounts) < 60
    owing = accounts[0]
    patient_ref = owing["subject"][0]["reference"].split("/")[1]
    patient_id = encode_id("ehr-a", "Patient", patient_ref)
    async with running(app) as api:
        assert sandbox.seeded["ehr-a"]["Account"] == len(accounts)
        r = await api.get(f"/v1/patients/{patient_id}/balance", headers=h)
        assert r.status_code == 200, r.text
        owed = next(
            part
            for part in owing["extension"]
            if part["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "patient"
        )
        amount = owed["extension"][-1]["valueMoney"]["value"]
        assert r.json()["self_pay_balance"] == f"{amount:.2f}"
        r = await api.post(
            "/v1/estimates",
            json={
                "patient_id": patient_id,
                "visit_type": {
                    "system": "http://terminology.hl7.org/CodeSystem/service-type",
                    "code": "124",
                },
                "date": str(TODAY + timedelta(days=1)),
            },
            headers=h,
        )
        assert r.status_code == 200, r.text
        # Whatever the patient's coverage, the answer is an amount or says why not.
        out = r.json()
        assert (out["patient_pays"] is None) == (out["status"] == "could_not_be_determined")
        assert out["steps"][0]["says"].startswith("Visit: Office visit, established patient")
