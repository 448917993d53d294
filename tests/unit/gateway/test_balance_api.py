"""GET /v1/patients/{id}/balance through each vendor profile: the patient's Accounts
(R5 cross-version balance extension) on HAPI-like EHRs, guarantor-balance accounts by
encounter on Oracle Health, and "balance_unavailable" in words where the EHR has none."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mappers import encode_id
from tests.support.money_env import ORACLE_BALANCE, MoneyGateway, account, money_gateway, patient

ELLA: dict[str, Any] = {"family": "Lind", "given": "Ella", "birth_date": "2001-02-03"}


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "balance-unit-secret")


async def _with_accounts(
    gw: MoneyGateway, source: str, *accounts: dict[str, Any]
) -> tuple[str, str]:
    """A patient in ``source`` with ``accounts`` (built for the patient id): (gateway id,
    upstream id)."""
    async with httpx.AsyncClient(transport=gw.transport(source)) as http:
        fhir = gw.fhir(http, source)
        made = await patient(fhir, **ELLA)
        for make in accounts:
            await fhir.create({**make, "subject": [{"reference": f"Patient/{made['id']}"}]})
    return encode_id(source, "Patient", made["id"]), made["id"]


async def test_the_patients_share_of_their_accounts() -> None:
    async with money_gateway() as gw:
        pid, _ = await _with_accounts(
            gw,
            "ehr-a",
            account("x", patient_owes="125.40", insurance_owes="880.00"),
            account("x", oracle_balance="10.05"),  # a guarantor-balance (self-pay) account
            account("x", oracle_balance="2000.00", oracle_type="statement"),  # a snapshot
            account("x", patient_owes="99.00", status="inactive"),
        )
        r = await gw.api.get(f"/v1/patients/{pid}/balance")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["self_pay_balance"] == "135.45"
        assert (body["accounts"], body["read_from"], body["partial"]) == (4, "mixed", False)
        assert body["says"] == "the patient owes $135.45 (self-pay balance in the EHR)"
        events = [e for e in gw.audit.events if e.action == "patient.balance"]
        assert events[-1].patient_ids == (pid,)


async def test_no_account_or_no_stated_balance_is_not_zero() -> None:
    async with money_gateway() as gw:
        nothing, _ = await _with_accounts(gw, "ehr-a")
        body = (await gw.api.get(f"/v1/patients/{nothing}/balance")).json()
        assert body["self_pay_balance"] is None and body["accounts"] == 0
        assert body["says"].startswith("no billing account for this patient")
        insurance_only, _ = await _with_accounts(gw, "ehr-a", account("x", insurance_owes="300.00"))
        body = (await gw.api.get(f"/v1/patients/{insurance_only}/balance")).json()
        assert body["self_pay_balance"] is None and body["read_from"] == "none"
        assert "state no self-pay balance" in body["says"]


async def test_an_ehr_whose_profile_shares_no_balance_says_so() -> None:
    async with money_gateway(vendor_b="epic") as gw:
        pid, _ = await _with_accounts(gw, "ehr-b", account("x", patient_owes="50.00"))
        r = await gw.api.get(f"/v1/patients/{pid}/balance")
    assert r.status_code == 404
    problem = r.json()
    assert problem["code"] == "balance_unavailable"
    assert problem["detail"] == "this EHR doesn't share balances; check the billing system"
    assert (problem["source"], problem["vendor"]) == ("ehr-b", "epic")


async def test_oracle_health_guarantor_balances_by_encounter() -> None:
    async with money_gateway(vendor_b="oracle-health") as gw:
        async with httpx.AsyncClient(transport=gw.transport("ehr-b")) as http:
            fhir = gw.fhir(http, "ehr-b")
            made = await patient(fhir, **ELLA)
            encounters = [
                await fhir.create(
                    {
                        "resourceType": "Encounter",
                        "status": "finished",
                        "class": {"code": "AMB"},
                        "subject": {"reference": f"Patient/{made['id']}"},
                    }
                )
                for _ in range(2)
            ]
            for encounter, (kind, amount) in zip(
                encounters * 2,
                [
                    ("guarantor-balance", "45.10"),
                    ("guarantor-balance", "100.00"),
                    ("insurance-balance", "800.00"),
                    ("statement", "145.10"),
                ],
                strict=True,
            ):
                await fhir.create(
                    {
                        "resourceType": "Account",
                        "status": "active",
                        "type": {"text": kind},
                        "extension": [
                            {
                                "url": ORACLE_BALANCE,
                                "valueMoney": {"value": float(amount), "currency": "USD"},
                            },
                            {
                                "url": "https://fhir-ehr.cerner.com/r4/StructureDefinition/associated-encounter",
                                "valueReference": {"reference": f"Encounter/{encounter['id']}"},
                            },
                        ],
                    }
                )
        r = await gw.api.get(f"/v1/patients/{encode_id('ehr-b', 'Patient', made['id'])}/balance")
    assert r.status_code == 200, r.text
    body = r.json()
    # Only guarantor-balance (self-pay) accounts, found through the patient's encounters.
    assert (body["self_pay_balance"], body["read_from"], body["accounts"]) == (
        "145.10",
        "oracle-health",
        2,
    )
