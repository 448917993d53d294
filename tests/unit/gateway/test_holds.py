"""Holding a slot while the caller decides, on the in-memory sandbox EHRs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.cache import CacheKeys, MemoryCache
from gateway.services.errors import SlotHeld
from gateway.services.holds import HoldStore
from mappers import GatewayId, encode_id
from tests.support.gateway_env import SECOND_DESK_KEY, auth, clinic
from tests.support.sandbox_env import BASE_A, sandbox_gateway


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-secret")


async def test_a_held_slot_is_booked_only_by_its_holder_with_the_token():
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
        patient = encode_id("ehr-a", "Patient", c["patient"]["id"])
        held = await gw.api.post(f"/v1/slots/{slot}/hold", json={"minutes": 5}, headers=auth())
        assert held.status_code == 201, held.text
        token = held.json()["hold_token"]
        expires = datetime.fromisoformat(held.json()["expires_at"])
        assert 290 <= (expires - datetime.now(UTC)).total_seconds() <= 300

        async def book(key: str, n: str, **extra: object):
            return await gw.api.post(
                "/v1/appointments",
                json={"slot_id": slot, "patient_id": patient, **extra},
                headers={**auth(key), "Idempotency-Key": f"hold-{n}"},
            )

        other = await book(SECOND_DESK_KEY, "other")
        assert (other.status_code, other.json()["code"]) == (409, "slot_held")
        assert "held_until" in other.json()
        again = await gw.api.post(f"/v1/slots/{slot}/hold", json={}, headers=auth(SECOND_DESK_KEY))
        assert (again.status_code, again.json()["code"]) == (409, "slot_held")
        no_token = await book("test-key-all-scopes", "mine-no-token")
        assert no_token.json()["code"] == "slot_held"
        wrong = await book("test-key-all-scopes", "mine-wrong", hold_token="x" * 32)
        assert wrong.json()["code"] == "slot_held"
        mine = await book("test-key-all-scopes", "mine", hold_token=token)
        assert mine.status_code == 201, mine.text
        # The hold is consumed with the booking; the slot is simply taken now.
        after = await gw.api.post(f"/v1/slots/{slot}/hold", json={}, headers=auth(SECOND_DESK_KEY))
        assert after.json()["code"] == "slot_taken"


async def test_a_released_hold_frees_the_slot_for_others():
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
        patient = encode_id("ehr-a", "Patient", c["patient"]["id"])
        token = (await gw.api.post(f"/v1/slots/{slot}/hold", json={}, headers=auth())).json()[
            "hold_token"
        ]
        wrong = await gw.api.delete(
            f"/v1/slots/{slot}/hold", headers={**auth(SECOND_DESK_KEY), "Hold-Token": token}
        )
        assert wrong.status_code == 404  # another client can't release my hold
        ok = await gw.api.delete(f"/v1/slots/{slot}/hold", headers={**auth(), "Hold-Token": token})
        assert ok.status_code == 204
        booked = await gw.api.post(
            "/v1/appointments",
            json={"slot_id": slot, "patient_id": patient},
            headers={**auth(SECOND_DESK_KEY), "Idempotency-Key": "after-release"},
        )
        assert booked.status_code == 201, booked.text


@pytest.mark.parametrize("minutes", [0, 16])
async def test_holds_last_one_to_fifteen_minutes(minutes: int):
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
        r = await gw.api.post(f"/v1/slots/{slot}/hold", json={"minutes": minutes}, headers=auth())
        assert (r.status_code, r.json()["code"]) == (422, "validation_error")


async def test_a_hold_expires_by_itself():
    now = [0.0]
    cache = MemoryCache(clock=lambda: now[0])
    store = HoldStore(cache, CacheKeys("k"), "t1")
    slot = GatewayId("ehr-a", "Slot", "s1")
    t0 = datetime(2026, 12, 7, 9, tzinfo=UTC)
    held = await store.place(slot, "id", client="desk", minutes=2, now=t0)
    with pytest.raises(SlotHeld):
        await store.place(slot, "id", client="other", minutes=2, now=t0)
    now[0] = 119.0
    assert await store.admit(slot, client="desk", token=held.token) is not None
    now[0] = 121.0
    assert await store.admit(slot, client="other", token=None) is None
    assert (await store.place(slot, "id", client="other", minutes=2, now=t0)).token != held.token


async def test_the_holder_extends_its_own_hold_with_the_token():
    store = HoldStore(MemoryCache(), CacheKeys("k"), "t1")
    slot = GatewayId("ehr-a", "Slot", "s1")
    t0 = datetime(2026, 12, 7, 9, tzinfo=UTC)
    first = await store.place(slot, "id", client="desk", minutes=2, now=t0)
    longer = await store.place(slot, "id", client="desk", minutes=10, now=t0, token=first.token)
    assert longer.token == first.token and longer.expires_at > first.expires_at
    with pytest.raises(SlotHeld):
        await store.place(slot, "id", client="desk", minutes=10, now=t0)  # no token


async def test_a_refusal_offers_the_nearest_free_unheld_slots():
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=5)
        other = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        ids = [encode_id("ehr-a", "Slot", s["id"]) for s in c["slots"]]
        patients = {
            "first": encode_id("ehr-a", "Patient", c["patient"]["id"]),
            # Another person: the same one would be a patient_conflict, not slot_taken.
            "second": encode_id("ehr-a", "Patient", other["patient"]["id"]),
        }

        async def book(slot: str, key: str, n: str):
            return await gw.api.post(
                "/v1/appointments",
                json={"slot_id": slot, "patient_id": patients.get(n, patients["second"])},
                headers={**auth(key), "Idempotency-Key": f"alt-{n}"},
            )

        assert (await book(ids[1], "test-key-all-scopes", "first")).status_code == 201
        held = await gw.api.post(f"/v1/slots/{ids[2]}/hold", json={}, headers=auth(SECOND_DESK_KEY))
        assert held.status_code == 201
        taken = await book(ids[1], SECOND_DESK_KEY, "second")
        assert (taken.status_code, taken.json()["code"]) == (409, "slot_taken")
        offered = [s["id"] for s in taken.json()["alternatives"]]
        # Same schedule first, nearest in time; the held slot and the other clinic's are not
        # offered while those of this schedule suffice.
        assert offered == [ids[0], ids[3], ids[4]]
        assert encode_id("ehr-a", "Slot", other["slots"][0]["id"]) not in offered
        # Each is bookable as listed.
        assert (await book(offered[0], SECOND_DESK_KEY, "third")).status_code == 201
        refused = await book(ids[2], "test-key-all-scopes", "held")
        assert refused.json()["code"] == "slot_held"
        assert ids[2] not in [s["id"] for s in refused.json()["alternatives"]]
