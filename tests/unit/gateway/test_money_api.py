"""Money questions through the API, on the in-memory EHRs and the payer simulator: the
estimate for each coverage shape, what to collect on the worklist and at check-in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from mappers import encode_id
from tests.support.gateway_env import auth
from tests.support.money_env import ZONE as TENANT_ZONE
from tests.support.money_env import (
    MoneyGateway,
    appointment_on,
    money_gateway,
    patient,
)

OFFICE = {"code": "124"}
LAB = {"system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "LAB"}


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "money-unit-secret")


async def _patient(gw: MoneyGateway, **fields: Any) -> str:
    async with httpx.AsyncClient(transport=gw.transport("ehr-a")) as http:
        made = await patient(gw.fhir(http), **fields)
    return encode_id("ehr-a", "Patient", made["id"])


JANE: dict[str, Any] = {
    "family": "Doe",
    "given": "Jane",
    "birth_date": "1980-01-15",
    "member_id": "SIM-ACTIVE-1",
}
RICHARD: dict[str, Any] = {
    "family": "Roe",
    "given": "Richard",
    "birth_date": "1968-03-02",
    "member_id": "SIM-DEDMET-1",
    "gender": "male",
}


async def _estimate(gw: MoneyGateway, body: dict[str, Any]) -> dict[str, Any]:
    r = await gw.api.post("/v1/estimates", json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _tomorrow() -> str:
    from datetime import datetime

    return (datetime.now(TENANT_ZONE).date() + timedelta(days=1)).isoformat()


async def test_copay_only_for_an_office_visit() -> None:
    async with money_gateway() as gw:
        jane = await _patient(gw, **JANE)
        out = await _estimate(gw, {"patient_id": jane, "visit_type": OFFICE, "date": _tomorrow()})
    assert (out["status"], out["basis"]) == ("estimated", "insured")
    # The simulated payer's rate for CPT 99213 is 123.45; Jane's plan sets a $25 copay.
    assert (out["allowed"], out["patient_pays"], out["plan_pays"]) == ("123.45", "25.00", "98.45")
    assert out["coverage"]["payer_name"] == "SIMULATED PAYER"
    assert out["visit"]["id"] == "office-established"
    says = [s["says"] for s in out["steps"]]
    assert "SIMULATED PAYER's negotiated rate for CPT 99213: $123.45." in says
    assert out["lines"][0] == {
        "code": "99213",
        "code_type": "CPT",
        "units": 1,
        "modifiers": [],
        "description": "Office or other outpatient visit, established patient, 20 minutes",
        "gross": "250.10",
        "cash": "150.05",
        "negotiated": "123.45",
    }


async def test_deductible_then_coinsurance_for_a_lab_visit() -> None:
    async with money_gateway() as gw:
        jane = await _patient(gw, **JANE)
        richard = await _patient(gw, **RICHARD)
        # Jane has $1,000 of deductible left: the whole $30.00 (2 x 15.00) is hers.
        out = await _estimate(gw, {"patient_id": jane, "visit_type": LAB})
        assert (out["allowed"], out["patient_pays"]) == ("30.00", "30.00")
        # Richard's deductible is met: 20% coinsurance, $6.00.
        out = await _estimate(gw, {"patient_id": richard, "visit_type": LAB})
    assert (out["patient_pays"], out["plan_pays"]) == ("6.00", "24.00")
    says = " ".join(s["says"] for s in out["steps"])
    assert "The deductible is met for this year." in says
    assert "Coinsurance 20% of the remaining $30.00: $6.00." in says


async def test_self_pay_and_uninsured_pay_the_cash_price() -> None:
    async with money_gateway() as gw:
        payer_self = await _patient(
            gw, family="Okafor", given="Chidi", birth_date="1990-05-14", self_pay=True
        )
        nobody = await _patient(gw, family="Lind", given="Ella", birth_date="2001-02-03")
        out = await _estimate(gw, {"patient_id": payer_self, "visit_type": OFFICE})
        assert (out["basis"], out["patient_pays"]) == ("self_pay", "150.05")
        assert out["good_faith_estimate_owed"] is True
        out = await _estimate(gw, {"patient_id": nobody, "visit_type": LAB})
    assert (out["basis"], out["patient_pays"], out["plan_pays"]) == ("uninsured", "40.00", None)


async def test_unknown_rate_or_a_payer_that_fails_could_not_be_determined() -> None:
    async with money_gateway() as gw:
        jane = await _patient(gw, **JANE)
        out = await _estimate(gw, {"patient_id": jane, "visit_type": {"code": "NEWPT"}})
        assert out["status"] == "could_not_be_determined"
        assert out["patient_pays"] is None
        assert out["reasons"] == [
            "the price list has no negotiated rate for SIMULATED PAYER for CPT 99203"
        ]
        dana = await _patient(
            gw, family="Down", given="Dana", birth_date="1970-01-01", member_id="SIM-DOWN-1"
        )
        out = await _estimate(gw, {"patient_id": dana, "visit_type": OFFICE})
    assert out["status"] == "could_not_be_determined"
    assert out["reasons"][0].startswith("coverage check failed")


async def test_an_estimate_for_an_appointment_takes_its_patient_visit_and_day() -> None:
    async with money_gateway() as gw:
        async with httpx.AsyncClient(transport=gw.transport("ehr-a")) as http:
            fhir = gw.fhir(http)
            jane = await patient(fhir, **JANE)
            from datetime import datetime

            day = datetime.now(TENANT_ZONE).date() + timedelta(days=3)
            made = await appointment_on(fhir, "ehr-a", jane["id"], day)
        out = await _estimate(gw, {"appointment_id": made["gid"]})
        assert out["patient_pays"] == "25.00"
        assert out["appointment_id"] == made["gid"]
        assert out["visit"]["date"] == day.isoformat()
        assert out["patient_id"] == encode_id("ehr-a", "Patient", jane["id"])
        # The estimate is audited with the patient it was about.
        events = [e for e in gw.audit.events if e.action == "estimate.create"]
        assert events[-1].patient_ids == (out["patient_id"],)


async def test_refusals_of_the_estimate() -> None:
    async with money_gateway() as gw:
        jane = await _patient(gw, **JANE)
        r = await gw.api.post(
            "/v1/estimates", json={"patient_id": jane, "visit_type": {"code": "UNPRICED"}}
        )
        assert (r.status_code, r.json()["code"]) == (404, "not_found")
        assert "hasn't mapped it to billing codes" in r.json()["detail"]
        r = await gw.api.post("/v1/estimates", json={"patient_id": jane})
        assert r.status_code == 422
        r = await gw.api.post(
            "/v1/estimates",
            json={"patient_id": jane, "visit_type": OFFICE},
            headers=auth(),  # the desk without billing scopes
        )
        assert (r.status_code, r.json()["code"]) == (403, "forbidden")


async def test_what_to_collect_on_the_worklist_and_at_check_in() -> None:
    from datetime import datetime

    async with money_gateway() as gw:
        day = datetime.now(TENANT_ZONE).date() + timedelta(days=2)
        async with httpx.AsyncClient(transport=gw.transport("ehr-a")) as http:
            fhir = gw.fhir(http)
            jane = await patient(fhir, **JANE)
            richard = await patient(fhir, **RICHARD)
            nobody = await patient(fhir, family="Lind", given="Ella", birth_date="2001-02-03")
            visits = {
                "jane": await appointment_on(fhir, "ehr-a", jane["id"], day, hour=9),
                "richard": await appointment_on(fhir, "ehr-a", richard["id"], day, hour=10),
                "nobody": await appointment_on(fhir, "ehr-a", nobody["id"], day, hour=11),
                "unchecked": await appointment_on(fhir, "ehr-a", jane["id"], day, hour=12),
            }
        # Coverage checks (as the day's batch would): Jane and the uninsured patient.
        for who in (jane, nobody):
            pid = encode_id("ehr-a", "Patient", who["id"])
            r = await gw.api.post(
                "/v1/coverage-checks",
                json={
                    "patient_id": pid,
                    "service_types": ["98", "30"],
                    "date_of_service": day.isoformat(),
                },
            )
            assert r.status_code == 200, r.text
        r = await gw.api.get(
            "/v1/appointments",
            params={"date": day.isoformat(), "source": "ehr-a", "include": ["collect", "coverage"]},
        )
        assert r.status_code == 200, r.text
        by_id = {a["id"]: a for a in r.json()["items"]}
        collect = {name: by_id[v["gid"]]["collect"] for name, v in visits.items()}
        assert collect["jane"] == {
            "status": "collect",
            "amount": "25.00",
            "kind": "copay",
            "says": "Collect $25.00: the copay for Professional (Physician) Visit - Office "
            "(service type 98).",
            "reasons": [],
        }
        assert (collect["nobody"]["kind"], collect["nobody"]["amount"]) == ("cash_price", "150.05")
        assert collect["richard"]["status"] == "unknown"
        assert collect["richard"]["reasons"] == ["coverage not checked yet: check coverage first"]
        assert by_id[visits["jane"]["gid"]]["coverage"]["status"] == "active"
        # Without include=collect, nothing is said about money.
        r = await gw.api.get("/v1/appointments", params={"date": day.isoformat()})
        assert all(a["collect"] is None for a in r.json()["items"])
        # Check-in says what to collect too.
        r = await gw.api.post(f"/v1/appointments/{visits['jane']['gid']}/check-in")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "arrived"
        assert (r.json()["collect"]["kind"], r.json()["collect"]["amount"]) == ("copay", "25.00")
        r = await gw.api.post(f"/v1/appointments/{visits['richard']['gid']}/check-in")
        assert r.json()["collect"]["status"] == "unknown"
