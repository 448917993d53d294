"""The schedule's safety net on the in-memory sandbox EHRs: one patient in two places at
once, overbooking on purpose."""

from __future__ import annotations

import pytest

from mappers import encode_id
from tests.support.gateway_env import API_KEY, SECOND_DESK_KEY, SUPERVISOR_KEY, auth, clinic
from tests.support.sandbox_env import BASE_A, BASE_B, sandbox_gateway


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-secret")


async def _book(gw, slot: str, patient: str, key: str, n: str, **extra: object):
    return await gw.api.post(
        "/v1/appointments",
        json={"slot_id": slot, "patient_id": patient, **extra},
        headers={**auth(key), "Idempotency-Key": f"net-{n}"},
    )


async def test_one_patient_in_two_ehrs_at_once_is_refused_then_allowed_with_a_reason():
    async with sandbox_gateway() as gw:
        a = await clinic(BASE_A, transport=gw.transport("ehr-a"), family="Achterberg")
        b = await clinic(BASE_B, transport=gw.transport("ehr-b"), family="Achterberg")
        pa = encode_id("ehr-a", "Patient", a["patient"]["id"])
        pb = encode_id("ehr-b", "Patient", b["patient"]["id"])
        first = await _book(gw, encode_id("ehr-a", "Slot", a["slots"][0]["id"]), pa, API_KEY, "1")
        assert first.status_code == 201, first.text
        assert first.headers["Conflict-Check"] == "complete"
        # The same person (linked across the EHRs), the same hour, another clinic.
        b_slot = encode_id("ehr-b", "Slot", b["slots"][0]["id"])
        refused = await _book(gw, b_slot, pb, SECOND_DESK_KEY, "2")
        assert (refused.status_code, refused.json()["code"]) == (409, "patient_conflict")
        [other] = refused.json()["conflicts"]
        assert other["id"] == first.json()["id"] and other["source"] == "ehr-a"
        assert "Achterberg" not in refused.text  # the refusal names times and places only
        assert refused.json()["alternatives"]
        reason = {"allow_conflict": {"reason": "urgent: two-part visit"}}
        no_scope = await _book(gw, b_slot, pb, SECOND_DESK_KEY, "3", **reason)
        assert (no_scope.status_code, no_scope.json()["code"]) == (403, "forbidden")
        allowed = await _book(gw, b_slot, pb, SUPERVISOR_KEY, "4", **reason)
        assert allowed.status_code == 201, allowed.text
        assert allowed.headers["Conflict-Check"] == "overridden"
        [event] = [
            e
            for e in gw.audit.events
            if e.action == "appointment.book" and e.client_id == "supervisor"
        ]
        assert event.reason == "conflict allowed: urgent: two-part visit"
        day = a["start"].date().isoformat()
        listed = await gw.api.get(
            f"/v1/patients/{pa}/conflicts", params={"from": day, "to": day}, headers=auth()
        )
        assert listed.status_code == 200, listed.text
        [pair] = listed.json()["items"]
        assert {x["id"] for x in pair["appointments"]} == {
            first.json()["id"],
            allowed.json()["id"],
        }


async def test_overbooking_needs_the_flag_and_the_scope_and_stops_at_the_limit():
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
        people = [
            encode_id(
                "ehr-a",
                "Patient",
                (await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=0))["patient"]["id"],
            )
            for _ in range(3)
        ]
        assert (await _book(gw, slot, people[0], API_KEY, "o1")).status_code == 201
        taken = await _book(gw, slot, people[1], SUPERVISOR_KEY, "o2")
        assert taken.json()["code"] == "slot_taken"
        why = {"overbook": {"reason": "provider agreed"}}
        no_scope = await _book(gw, slot, people[1], SECOND_DESK_KEY, "o3", **why)
        assert no_scope.status_code == 403
        extra = await _book(gw, slot, people[1], SUPERVISOR_KEY, "o4", **why)
        assert extra.status_code == 201, extra.text
        # The tenant's limit is one extra booking per slot.
        over = await _book(gw, slot, people[2], SUPERVISOR_KEY, "o5", **why)
        assert (over.status_code, over.json()["code"]) == (409, "overbook_limit")
        stored = await gw.api.get(f"/v1/appointments/{extra.json()['id']}", headers=auth())
        assert stored.json()["status"] == "booked"
