"""The day's worklist across the tenant's EHRs, on the in-memory sandbox EHRs."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from gateway.services.worklist import age_on
from mappers import encode_id
from tests.support.gateway_env import auth, clinic
from tests.support.sandbox_env import BASE_A, BASE_B, sandbox_gateway

TENANT_ZONE = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-secret")


async def _book(gw, c, i: int, source: str = "ehr-a") -> dict[str, object]:
    r = await gw.api.post(
        "/v1/appointments",
        json={
            "slot_id": encode_id(source, "Slot", c["slots"][i]["id"]),
            "patient_id": encode_id(source, "Patient", c["patient"]["id"]),
        },
        headers={**auth(), "Idempotency-Key": f"wl-{c['run']}-{i}"},
    )
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


async def test_the_day_at_one_location_with_names_ages_and_coverage_badges():
    async with sandbox_gateway() as gw:
        a = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=2)
        b = await clinic(BASE_B, transport=gw.transport("ehr-b"), slots=1)
        first = await _book(gw, a, 0)
        await _book(gw, a, 1)
        await _book(gw, b, 0, "ehr-b")
        patient_a = encode_id("ehr-a", "Patient", a["patient"]["id"])
        checked = await gw.api.post(
            "/v1/coverage-checks", json={"patient_id": patient_a}, headers=auth()
        )
        assert checked.status_code == 200, checked.text
        day = a["start"].astimezone(TENANT_ZONE).date()
        r = await gw.api.get(
            "/v1/appointments",
            params={
                "date": day.isoformat(),
                "location": encode_id("ehr-a", "Location", a["location"]["id"]),
                "include": "coverage",
            },
            headers=auth(),
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert items[0]["id"] == first["id"]
        assert len(items) == 2 and {i["source"]["source"] for i in items} == {"ehr-a"}
        one = items[0]
        # Exactly these: an age, never the birth date.
        assert one["patient"] == {
            "id": patient_a,
            "display": f"Maria {a['family']}",
            "age": age_on("1984-03-09", day),
        }
        assert one["practitioners"][0]["display"] == f"Ada Doc{a['run']}"
        assert one["location"]["display"] == f"Clinic {a['run']}"
        # No insurance on file in the sandbox EHR: a desk must ask for the card.
        assert one["coverage"]["status"] == "needs_attention"
        assert "card" in " ".join(one["coverage"]["reasons"])
        everyone = await gw.api.get(
            "/v1/appointments", params={"date": day.isoformat()}, headers=auth()
        )
        sources = {i["source"]["source"] for i in everyone.json()["items"]}
        assert sources == {"ehr-a", "ehr-b"}
        assert all(i["coverage"] is None for i in everyone.json()["items"])
        events = [e for e in gw.audit.events if e.action == "appointment.worklist"]
        assert events and patient_a in events[-1].patient_ids


async def test_the_worklist_needs_a_day_or_a_patient():
    async with sandbox_gateway() as gw:
        r = await gw.api.get("/v1/appointments", headers=auth())
        assert (r.status_code, r.json()["code"]) == (422, "validation_error")
        r = await gw.api.get("/v1/appointments", params={"date": "2026-02-30"}, headers=auth())
        assert r.status_code == 422


def test_age_in_whole_years_and_none_for_partial_dates():
    assert age_on("1984-03-09", date(2026, 3, 8)) == 41
    assert age_on("1984-03-09", date(2026, 3, 9)) == 42
    assert age_on("1984-03", date(2026, 3, 9)) is None
    assert age_on(None, date(2026, 3, 9)) is None
