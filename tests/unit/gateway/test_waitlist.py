"""The waitlist through the API, on the sandbox EHRs: joining, the order of offers, an
offer's hold (booked by any desk for its patient only), declining and expiry."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors import UpstreamError
from gateway.services.waitlist import OfferDesk
from gateway.state import StateUnavailable
from mappers import encode_id
from tests.support.gateway_env import (
    READ_ONLY_KEY,
    SECOND_DESK_KEY,
    auth,
    clinic,
    patients,
)
from tests.support.sandbox_env import BASE_A, SandboxGateway, sandbox_gateway

WAITLIST = {"offer_seconds": 300, "sweep_seconds": 300}


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-secret")


def _desk(gw: SandboxGateway) -> OfferDesk:
    return gw.runtime.waitlists["general"]


async def _join(api: httpx.AsyncClient, patient: str, **fields: Any) -> httpx.Response:
    today = date.today()
    body = {
        "patient_id": patient,
        "service_type": "124",
        "earliest": today.isoformat(),
        "latest": (today + timedelta(days=7)).isoformat(),
        "min_notice_hours": 0,
        **fields,
    }
    return await api.post("/v1/waitlist", json=body, headers=auth())


async def _booked_and_cancelled(gw: SandboxGateway, slot: str, patient: str) -> None:
    booked = await gw.api.post(
        "/v1/appointments",
        json={"slot_id": slot, "patient_id": patient},
        headers={**auth(), "Idempotency-Key": f"first-{slot}"},
    )
    assert booked.status_code == 201, booked.text
    cancelled = await gw.api.post(
        f"/v1/appointments/{booked.json()['id']}/cancel",
        json={"reason": "patient called"},
        headers=auth(),
    )
    assert cancelled.status_code == 200, cancelled.text
    await _desk(gw).drain()


async def _offers(api: httpx.AsyncClient, patient: str | None = None) -> list[dict[str, Any]]:
    params = {} if patient is None else {"patient": patient}
    r = await api.get("/v1/waitlist/offers", params=params, headers=auth())
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_a_cancelled_slot_goes_to_the_first_in_line_and_only_they_can_take_it():
    async with sandbox_gateway(waitlist=WAITLIST) as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
        routine, urgent, late = (
            encode_id("ehr-a", "Patient", p)
            for p in await patients(BASE_A, 3, transport=gw.transport("ehr-a"))
        )
        first = await _join(gw.api, routine)
        assert first.status_code == 201, first.text
        assert (await _join(gw.api, urgent, priority="urgent")).status_code == 201
        # Could come only from next month: the slot tomorrow does not fit.
        later = date.today() + timedelta(days=30)
        assert (
            await _join(
                gw.api,
                late,
                earliest=later.isoformat(),
                latest=later.isoformat(),
                priority="urgent",
            )
        ).status_code == 201
        again = await _join(gw.api, routine)
        assert (again.status_code, again.json()["code"]) == (409, "already_waitlisted")

        listed = (await gw.api.get("/v1/waitlist", headers=auth())).json()["items"]
        assert [e["patient_id"] for e in listed] == [urgent, late, routine]

        await _booked_and_cancelled(gw, slot, encode_id("ehr-a", "Patient", c["patient"]["id"]))
        [offer] = await _offers(gw.api)
        assert (offer["slot_id"], offer["patient_id"]) == (slot, urgent)
        assert 0 < offer["seconds_left"] <= 300
        assert await _offers(gw.api, urgent) == [offer]
        assert await _offers(gw.api, routine) == []

        async def book(patient: str, key: str, token: str | None, n: str) -> httpx.Response:
            body: dict[str, Any] = {"slot_id": slot, "patient_id": patient}
            if token is not None:
                body["hold_token"] = token
            return await gw.api.post(
                "/v1/appointments",
                json=body,
                headers={**auth(key), "Idempotency-Key": f"offer-{n}"},
            )

        # Without the token, or for another patient, the offered slot is not bookable.
        plain = await book(routine, SECOND_DESK_KEY, None, "a")
        assert (plain.status_code, plain.json()["code"]) == (409, "slot_held")
        other = await book(routine, SECOND_DESK_KEY, offer["hold_token"], "b")
        assert (other.status_code, other.json()["code"]) == (409, "slot_held")
        # Any desk of the hospital books it for the patient it was offered to.
        taken = await book(urgent, SECOND_DESK_KEY, offer["hold_token"], "c")
        assert taken.status_code == 201, taken.text
        await _desk(gw).drain()
        assert await _offers(gw.api) == []
        left = (await gw.api.get("/v1/waitlist", headers=auth())).json()["items"]
        assert [e["patient_id"] for e in left] == [late, routine]


async def test_declined_and_expired_offers_pass_to_the_next_in_line():
    async with sandbox_gateway(waitlist=WAITLIST) as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
        one, two, three = (
            encode_id("ehr-a", "Patient", p)
            for p in await patients(BASE_A, 3, transport=gw.transport("ehr-a"))
        )
        for p in (one, two, three):
            assert (await _join(gw.api, p)).status_code == 201
        await _booked_and_cancelled(gw, slot, encode_id("ehr-a", "Patient", c["patient"]["id"]))
        assert [o["patient_id"] for o in await _offers(gw.api)] == [one]

        r = await gw.api.post(f"/v1/waitlist/offers/{slot}/decline", headers=auth())
        assert r.status_code == 204, r.text
        await _desk(gw).drain()
        assert [o["patient_id"] for o in await _offers(gw.api)] == [two]

        # The offer window passes: the sweep offers the slot to the third patient.
        desk = _desk(gw)
        desk.wall = lambda: datetime.now(UTC) + timedelta(seconds=301)
        passed_on = await desk.sweep()
        desk.wall = lambda: datetime.now(UTC)
        assert passed_on == 1
        assert [o["patient_id"] for o in await _offers(gw.api)] == [three]
        entries = {
            e["patient_id"]: e
            for e in (await gw.api.get("/v1/waitlist", headers=auth())).json()["items"]
        }
        assert entries[one]["passed"] == [slot] and entries[two]["passed"] == [slot]
        assert entries[three]["offer_slot_id"] == slot

        # Leaving the waitlist with an open offer: nobody is left to offer it to.
        gone = await gw.api.delete(f"/v1/waitlist/{entries[three]['id']}", headers=auth())
        assert gone.status_code == 204
        assert await _offers(gw.api) == []
        missing = await gw.api.delete(f"/v1/waitlist/{entries[three]['id']}", headers=auth())
        assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


async def test_the_waitlist_refuses_what_it_cannot_keep_and_needs_its_scopes():
    async with sandbox_gateway(waitlist=WAITLIST) as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        patient = encode_id("ehr-a", "Patient", c["patient"]["id"])
        past = date.today() - timedelta(days=3)
        cases = [
            ({"latest": past.isoformat(), "earliest": past.isoformat()}, 422, "validation_error"),
            (
                {
                    "latest": date.today().isoformat(),
                    "earliest": (date.today() + timedelta(days=2)).isoformat(),
                },
                422,
                "validation_error",
            ),
            ({"patient_id": encode_id("ehr-a", "Patient", "nobody")}, 404, "not_found"),
            ({"practitioner_id": encode_id("ehr-a", "Location", "x")}, 404, "not_found"),
            ({"note": "line\u202ebreak"}, 422, "validation_error"),
        ]
        for fields, status, code in cases:
            r = await _join(gw.api, patient, **fields)
            assert (r.status_code, r.json()["code"]) == (status, code), (fields, r.text)
        viewer = await gw.api.get("/v1/waitlist", headers=auth(READ_ONLY_KEY))
        assert viewer.status_code == 403
        assert (
            await gw.api.get("/v1/waitlist/wl-000000000000000000000000", headers=auth())
        ).status_code == 404
        assert (await gw.api.delete("/v1/waitlist/offers", headers=auth())).status_code == 405
        no_offer = await gw.api.post(
            f"/v1/waitlist/offers/{encode_id('ehr-a', 'Slot', 'x')}/decline", headers=auth()
        )
        assert (no_offer.status_code, no_offer.json()["code"]) == (404, "not_found")


async def test_two_desks_adding_one_patient_at_once_make_one_entry():
    async with sandbox_gateway(waitlist=WAITLIST) as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        patient = encode_id("ehr-a", "Patient", c["patient"]["id"])
        answers = await asyncio.gather(*(_join(gw.api, patient) for _ in range(4)))
        assert sorted(r.status_code for r in answers) == [201, 409, 409, 409]
        [made] = [r.json()["id"] for r in answers if r.status_code == 201]
        told = {r.json()["entry_id"] for r in answers if r.status_code == 409}
        assert told == {made}
        listed = (await gw.api.get("/v1/waitlist", headers=auth())).json()["items"]
        assert [e["id"] for e in listed] == [made]
        # Off the list, the patient may wait again.
        assert (await gw.api.delete(f"/v1/waitlist/{made}", headers=auth())).status_code == 204
        assert (await _join(gw.api, patient)).status_code == 201


async def test_the_sweep_outlives_a_round_an_ehr_or_redis_fails():
    async with sandbox_gateway(waitlist=WAITLIST) as gw:
        desk = _desk(gw)
        rounds: list[int] = []
        failures: list[Exception] = [
            UpstreamError("down", source="ehr-a", method="GET", url_template="/Slot", status=503),
            StateUnavailable("gone"),
        ]

        async def sweep() -> int:
            rounds.append(1)
            if failures:
                raise failures.pop(0)
            return 0

        desk.sweep = sweep  # type: ignore[method-assign]
        task = asyncio.create_task(desk.sweep_forever(0.001))
        try:
            for _ in range(500):
                if len(rounds) >= 4:
                    break
                await asyncio.sleep(0.005)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert len(rounds) >= 4 and failures == []
