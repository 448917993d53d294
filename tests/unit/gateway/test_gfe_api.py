"""Good-faith estimates through the API: opened by bookings of uninsured and self-pay
patients (due in business days), asked for, cancelled with the appointment, issued with
the document the rule requires (JSON and a printable page, audited), and a bill $400 or
more above it flagged."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from gateway.services.business_days import BusinessCalendar, gfe_clock
from mappers import encode_id
from tests.support.money_env import (
    HOLIDAYS,
    ZONE,
    MoneyGateway,
    appointment_on,
    money_gateway,
    patient,
    slot_on,
)

CALENDAR = BusinessCalendar(["mon", "tue", "wed", "thu", "fri"], map(date.fromisoformat, HOLIDAYS))
UNINSURED: dict[str, Any] = {"family": "Lind", "given": "Ella", "birth_date": "2001-02-03"}
SELF_PAY: dict[str, Any] = {
    "family": "Okafor",
    "given": "Chidi",
    "birth_date": "1990-05-14",
    "self_pay": True,
}
JANE: dict[str, Any] = {
    "family": "Doe",
    "given": "Jane",
    "birth_date": "1980-01-15",
    "member_id": "SIM-ACTIVE-1",
}


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "gfe-unit-secret")


def _today() -> date:
    return datetime.now(ZONE).date()


async def _book(gw: MoneyGateway, who: dict[str, Any], day: date, key: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=gw.transport("ehr-a")) as http:
        fhir = gw.fhir(http)
        made = await patient(fhir, **who)
        slot = await slot_on(fhir, day)
    return await gw.api.post(
        "/v1/appointments",
        json={
            "slot_id": encode_id("ehr-a", "Slot", slot),
            "patient_id": encode_id("ehr-a", "Patient", made["id"]),
        },
        headers={"Idempotency-Key": key},
    )


def _gfe_id(response: httpx.Response) -> str:
    header = response.headers["Good-Faith-Estimate"]
    return header.split(";", 1)[0]


async def test_booking_an_uninsured_patient_opens_an_estimate_due_in_business_days() -> None:
    today, far = _today(), _today() + timedelta(days=21)
    expected = gfe_clock(CALENDAR, ZONE, since=today, service_date=far)
    async with money_gateway() as gw:
        booked = await _book(gw, UNINSURED, far, "gfe-far")
        assert booked.status_code == 201, booked.text
        gfe_id = _gfe_id(booked)
        assert expected.due_at is not None
        assert (
            booked.headers["Good-Faith-Estimate"] == f"{gfe_id}; due={expected.due_at.isoformat()}"
        )
        # A replayed booking finds the same estimate.
        again = await gw.api.post(
            "/v1/appointments",
            content=booked.request.content,
            headers={"Idempotency-Key": "gfe-far", "Content-Type": "application/json"},
        )
        assert again.status_code == 200 and _gfe_id(again) == gfe_id
        assert expected.due_on is not None
        due = await gw.api.get("/v1/gfe", params={"due_before": expected.due_on.isoformat()})
        assert due.status_code == 200, due.text
        [item] = due.json()["items"]
        assert item["id"] == gfe_id
        assert (item["status"], item["reason"], item["overdue"]) == ("open", "uninsured", False)
        assert item["appointment_id"] == booked.json()["id"]
        assert item["service_date"] == far.isoformat()
        assert item["visit"]["id"] == "office-established"
        assert datetime.fromisoformat(item["due_at"]) == expected.due_at
        assert item["due_rule"] == expected.rule
        # Not yet due the day before.
        earlier = expected.due_on - timedelta(days=1)
        r = await gw.api.get("/v1/gfe", params={"due_before": earlier.isoformat()})
        assert r.json()["items"] == []
        mine = await gw.api.get("/v1/gfe", params={"patient": item["patient_id"]})
        assert [g["id"] for g in mine.json()["items"]] == [gfe_id]


async def test_self_pay_booked_soon_needs_none_and_insured_patients_open_none() -> None:
    async with money_gateway() as gw:
        soon = _today() + timedelta(days=1)
        booked = await _book(gw, SELF_PAY, soon, "gfe-soon")
        assert booked.status_code == 201, booked.text
        gfe_id, state = booked.headers["Good-Faith-Estimate"].split("; ")
        assert state == "not-required"
        r = await gw.api.get(f"/v1/gfe/{gfe_id}")
        assert (r.json()["status"], r.json()["reason"]) == ("not_required", "self_pay")
        assert "fewer than 3" in r.json()["due_rule"]
        insured = await _book(gw, JANE, _today() + timedelta(days=20), "gfe-insured")
        assert insured.status_code == 201, insured.text
        assert "Good-Faith-Estimate" not in insured.headers
        far = (_today() + timedelta(days=60)).isoformat()
        assert (await gw.api.get("/v1/gfe", params={"due_before": far})).json()["items"] == []


async def test_a_cancelled_appointment_closes_its_estimate() -> None:
    async with money_gateway() as gw:
        booked = await _book(gw, UNINSURED, _today() + timedelta(days=15), "gfe-cancel")
        gfe_id = _gfe_id(booked)
        r = await gw.api.post(
            f"/v1/appointments/{booked.json()['id']}/cancel", json={"reason": "patient called"}
        )
        assert r.status_code == 200, r.text
        record = (await gw.api.get(f"/v1/gfe/{gfe_id}")).json()
        assert record["status"] == "cancelled"
        far = (_today() + timedelta(days=60)).isoformat()
        assert (await gw.api.get("/v1/gfe", params={"due_before": far})).json()["items"] == []
        r = await gw.api.post(f"/v1/gfe/{gfe_id}/issue")
        assert (r.status_code, r.json()["code"]) == (409, "gfe_not_issued")


async def test_issue_print_and_flag_a_bill_400_dollars_above() -> None:
    async with money_gateway() as gw:
        booked = await _book(gw, UNINSURED, _today() + timedelta(days=14), "gfe-issue")
        gfe_id = _gfe_id(booked)
        early = await gw.api.post(f"/v1/gfe/{gfe_id}/bills", json={"amount": "100.00"})
        assert (early.status_code, early.json()["code"]) == (409, "gfe_not_issued")
        r = await gw.api.post(f"/v1/gfe/{gfe_id}/issue", json={"diagnosis_codes": ["Z00.00"]})
        assert r.status_code == 200, r.text
        issued = r.json()
        doc = issued["document"]
        assert issued["status"] == "issued" and issued["issued_at"] == doc["issued_at"]
        assert (doc["patient_name"], doc["patient_birth_date"]) == ("Ella Lind", "2001-02-03")
        assert doc["service"] == "Office visit, established patient"
        assert doc["diagnosis_codes"] == ["Z00.00"]
        assert doc["items"] == [
            {
                "billed_by": "facility",
                "description": "Office or other outpatient visit, established patient, 20 minutes",
                "code_type": "CPT",
                "code": "99213",
                "units": 1,
                "modifiers": [],
                "expected_charge": "150.05",
            }
        ]
        assert doc["total"] == "150.05" and doc["totals_by_party"] == {"facility": "150.05"}
        [facility] = doc["parties"]
        assert (facility["npi"], facility["tin"], facility["state"]) == (
            "1234567893",
            "12-3456789",
            "NY",
        )
        assert any("$400" in d and "www.cms.gov/nosurprises" in d for d in doc["disclaimers"])
        assert any("not a contract" in d for d in doc["disclaimers"])
        # Issued once: asking again answers the same document.
        again = await gw.api.post(f"/v1/gfe/{gfe_id}/issue")
        assert again.json()["document"] == doc
        # No longer due.
        far = (_today() + timedelta(days=60)).isoformat()
        assert (await gw.api.get("/v1/gfe", params={"due_before": far})).json()["items"] == []
        issue_events = [e for e in gw.audit.events if e.action == "gfe.issue"]
        assert issue_events and issue_events[-1].patient_ids == (issued["patient_id"],)
        assert issue_events[-1].outcome == "success"
        # The printable page.
        page = await gw.api.get(f"/v1/gfe/{gfe_id}/document")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        for shown in ("Ella Lind", "2001-02-03", "CPT 99213", "$150.05", "12-3456789", "Z00.00"):
            assert shown in page.text
        assert "dispute" in page.text
        # Bills: $399.94 over is not flagged, $400.00 over is.
        below = await gw.api.post(f"/v1/gfe/{gfe_id}/bills", json={"amount": "549.99"})
        assert below.status_code == 200, below.text
        assert below.json()["bills"][-1]["over_estimate"] == "399.94"
        assert below.json()["bills"][-1]["flagged"] is False and below.json()["flagged"] is False
        above = await gw.api.post(f"/v1/gfe/{gfe_id}/bills", json={"amount": "550.05"})
        bill = above.json()["bills"][-1]
        assert (bill["over_estimate"], bill["flagged"], bill["source"]) == (
            "400.00",
            True,
            "entered",
        )
        assert above.json()["flagged"] is True
        bad = await gw.api.post(f"/v1/gfe/{gfe_id}/bills", json={"amount": "550.055"})
        assert bad.status_code == 422
        r = await gw.api.post(
            f"/v1/gfe/{gfe_id}/bills", json={"amount": "10.00", "billed_by": "professional"}
        )
        assert (r.status_code, r.json()["code"]) == (422, "validation_error")


async def test_professional_charges_name_the_practitioner_with_npi_and_tin() -> None:
    day = _today() + timedelta(days=12)
    async with money_gateway() as gw:
        async with httpx.AsyncClient(transport=gw.transport("ehr-a")) as http:
            fhir = gw.fhir(http)
            who = await patient(fhir, **UNINSURED)
            with_npi = await appointment_on(fhir, "ehr-a", who["id"], day, code="CONSULT")
            no_npi = await appointment_on(
                fhir, "ehr-a", who["id"], day, code="CONSULT", npi=None, hour=14
            )
            invoice_date = datetime.combine(day, time(18), ZONE).isoformat()
            await fhir.create(
                {
                    "resourceType": "Invoice",
                    "status": "issued",
                    "subject": {"reference": f"Patient/{who['id']}"},
                    "date": invoice_date,
                    "totalGross": {"value": 700.00, "currency": "USD"},
                    "totalNet": {"value": 612.40, "currency": "USD"},
                }
            )
        r = await gw.api.post("/v1/gfe", json={"appointment_id": with_npi["gid"]})
        assert r.status_code == 201, r.text
        assert r.json()["reason"] == "requested"
        gfe_id = r.json()["id"]
        issued = (await gw.api.post(f"/v1/gfe/{gfe_id}/issue")).json()
        doc = issued["document"]
        roles = {p["role"]: p for p in doc["parties"]}
        assert roles["professional"]["npi"] == "1234567893"
        assert roles["professional"]["tin"] == "98-7654321"
        assert roles["professional"]["name"] == "Dr Ana Rivera"
        assert doc["totals_by_party"] == {"professional": "150.05", "facility": "40.00"}
        assert doc["total"] == "190.05"
        # The professional's bill against the professional's part.
        r = await gw.api.post(
            f"/v1/gfe/{gfe_id}/bills", json={"amount": "600.00", "billed_by": "professional"}
        )
        assert r.json()["bills"][-1]["over_estimate"] == "449.95"
        # The bill read from the EHR's invoices: totalNet 612.40 against 190.05.
        r = await gw.api.post(f"/v1/gfe/{gfe_id}/bills", json={"from_ehr": True})
        assert r.status_code == 200, r.text
        bill = r.json()["bills"][-1]
        assert (bill["amount"], bill["source"], bill["over_estimate"]) == (
            "612.40",
            "ehr",
            "422.35",
        )
        assert bill["flagged"] is True
        # Without the practitioner's NPI nothing is issued, and the reason says so.
        other = (await gw.api.post("/v1/gfe", json={"appointment_id": no_npi["gid"]})).json()
        r = await gw.api.post(f"/v1/gfe/{other['id']}/issue")
        assert (r.status_code, r.json()["code"]) == (409, "gfe_incomplete")
        assert "NPI" in r.json()["detail"]
        assert (await gw.api.get(f"/v1/gfe/{other['id']}")).json()["status"] == "open"


async def test_asked_for_is_due_in_three_business_days() -> None:
    today = _today()
    async with money_gateway() as gw:
        async with httpx.AsyncClient(transport=gw.transport("ehr-a")) as http:
            who = await patient(gw.fhir(http), **SELF_PAY)
        r = await gw.api.post(
            "/v1/gfe",
            json={
                "patient_id": encode_id("ehr-a", "Patient", who["id"]),
                "visit_type": {
                    "system": "http://terminology.hl7.org/CodeSystem/service-type",
                    "code": "LAB",
                },
                "date": (today + timedelta(days=30)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        assert r.headers["Location"] == f"/v1/gfe/{r.json()['id']}"
        due = CALENDAR.after(today, 3)
        assert datetime.fromisoformat(r.json()["due_at"]).date() == due + timedelta(days=1)
        assert r.json()["due_rule"] == "asked for: due within 3 business days of the request"
        issued = (await gw.api.post(f"/v1/gfe/{r.json()['id']}/issue")).json()
        assert issued["document"]["total"] == "40.00"
        assert Decimal(issued["document"]["items"][0]["expected_charge"]) == Decimal("40.00")
        missing = await gw.api.get("/v1/gfe/gfe-AAAAAAAAAAAAAAAA")
        assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


async def test_without_redis_the_booking_stands_and_the_estimates_say_they_are_away() -> None:
    # Estimates live in Redis (shared by replicas); nothing listens on port 1.
    async with money_gateway(redis_url="redis://127.0.0.1:1/0") as gw:
        booked = await _book(gw, UNINSURED, _today() + timedelta(days=20), "gfe-no-redis")
        assert booked.status_code == 201, booked.text
        assert booked.headers["Good-Faith-Estimate"] == "not-opened"
        r = await gw.api.get("/v1/gfe")
        assert (r.status_code, r.json()["code"]) == (503, "gfe_unavailable")
        metrics = await gw.api.get("/metrics")
        assert 'frontdesk_gfe_bookings_total{outcome="failed"} 1.0' in metrics.text


async def test_a_rescheduled_visit_moves_its_estimate() -> None:
    async with money_gateway() as gw:
        booked = await _book(gw, UNINSURED, _today() + timedelta(days=15), "gfe-move")
        old_gfe = _gfe_id(booked)
        async with httpx.AsyncClient(transport=gw.transport("ehr-a")) as http:
            later = await slot_on(gw.fhir(http), _today() + timedelta(days=25), hour=11)
        moved = await gw.api.post(
            f"/v1/appointments/{booked.json()['id']}/reschedule",
            json={"slot_id": encode_id("ehr-a", "Slot", later), "reason": "patient asked"},
            headers={"Idempotency-Key": "gfe-move-1"},
        )
        assert moved.status_code == 200, moved.text
        new_gfe = _gfe_id(moved)
        assert new_gfe != old_gfe
        assert (await gw.api.get(f"/v1/gfe/{old_gfe}")).json()["status"] == "cancelled"
        record = (await gw.api.get(f"/v1/gfe/{new_gfe}")).json()
        assert record["status"] == "open"
        assert record["appointment_id"] == moved.json()["appointment"]["id"]
        assert record["service_date"] == (_today() + timedelta(days=25)).isoformat()
