"""Booking on a $find/$book EHR (Epic profile) through the gateway, against a fake endpoint.

State is asserted in the fake EHR ("an Appointment is booked for the patient"), not calls,
except where the number of calls *is* the property ($book is never resent).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest

from connectors import EPIC, PROFILES, FindBookNames
from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.cache import MemoryCache
from gateway.security import hash_api_key
from gateway.services.scheduling.find_book import PROPOSAL_TYPE, find_parameters
from gateway.settings import ApiClientConfig, Settings, SourceConfig, TenantConfig
from mappers import decode_id, encode_id

from .fake_epic import TOMORROW, FakeEpic

KEY = "find-book-test-key"
SOURCE = "ehr-epic"
PATIENT = encode_id(SOURCE, "Patient", "pat-1")


async def _gateway(
    fake: FakeEpic, monkeypatch: pytest.MonkeyPatch, **extra: Any
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-test-hash-key")
    if fake.hold:
        # A vendor profile that declares Argonaut $hold (none of ours does yet).
        holding = replace(EPIC, operations={"Appointment": frozenset({"find", "hold", "book"})})
        monkeypatch.setattr("gateway.connections.PROFILES", {**PROFILES, "epic": holding})
    settings = Settings(
        tenants=[
            TenantConfig(
                id="t1",
                name="Clinic",
                sources=[
                    SourceConfig(
                        id=SOURCE, base_url="https://epic.test/api/FHIR/STU3", vendor="epic"
                    )
                ],
            )
        ],
        api_clients=[
            ApiClientConfig(
                id="desk",
                tenant="t1",
                scopes=[
                    "slots:read",
                    "appointments:read",
                    "appointments:write",
                    "waitlist:read",
                    "waitlist:write",
                ],
                key_sha256=hash_api_key(KEY),
            )
        ],
        **extra,
    )

    def transport(source: SourceConfig) -> httpx.AsyncBaseTransport:
        assert source.id == SOURCE
        return httpx.MockTransport(fake.handler)

    app = create_app(
        settings, transport_factory=transport, cache=MemoryCache(), audit=MemoryAuditSink()
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gw",
            headers={"Authorization": f"Bearer {KEY}"},
        ) as client,
    ):
        yield client


@pytest.fixture
def fake() -> FakeEpic:
    return FakeEpic()


@pytest.fixture
async def api(fake: FakeEpic, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _gateway(fake, monkeypatch):
        yield client


async def _slots(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await api.get(
        "/v1/slots",
        params={"start": TOMORROW.isoformat(), "end": (TOMORROW + timedelta(days=1)).isoformat()},
    )
    assert r.status_code == 200, r.text
    assert r.json()["sources"] == [{"source": SOURCE, "status": "ok", "detail": None}]
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def _book(
    api: httpx.AsyncClient, slot_id: str, key: str = "k1", **extra: Any
) -> httpx.Response:
    return await api.post(
        "/v1/appointments",
        json={"slot_id": slot_id, "patient_id": PATIENT, **extra},
        headers={"Idempotency-Key": key},
    )


def test_find_parameters_use_the_profile_names() -> None:
    end = TOMORROW + timedelta(hours=8)
    assert EPIC.find_book is not None
    epic = find_parameters(EPIC.find_book, start=TOMORROW, end=end, service_type="124")
    argonaut = find_parameters(FindBookNames(), start=TOMORROW, end=end, actor="Location/x")
    assert [p["name"] for p in epic["parameter"]] == ["startTime", "endTime", "service-type"]
    assert [p["name"] for p in argonaut["parameter"]] == ["start", "end", "location-reference"]


async def test_find_then_book(api: httpx.AsyncClient, fake: FakeEpic) -> None:
    slots = await _slots(api)
    assert [s["start"] for s in slots] == sorted(s["start"] for s in slots)
    assert len(slots) == 3
    first = slots[0]
    assert first["status"] == "free"
    assert first["service_types"] == ["124"]
    # Epic's temporary appointment id is the slot id's upstream part.
    ref = decode_id(first["id"])
    assert (ref.source, ref.resource_type) == (SOURCE, "Appointment")
    # Epic sandbox names, not Argonaut's (field-facts §2).
    _, _, find_body = next(r for r in fake.requests if r[1].endswith("$find"))
    assert {p["name"] for p in find_body["parameter"]} >= {"startTime", "endTime"}

    r = await _book(api, first["id"], reason="checkup")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "booked"
    assert r.json()["patient_id"] == PATIENT
    [booked] = fake.booked()
    assert booked["start"] == first["start"].replace("+00:00", "Z")
    assert {"actor": {"reference": "Patient/pat-1"}, "status": "accepted"} in booked["participant"]

    # The booked time is no longer offered (the booking bumped the slot-list generation).
    assert first["start"] not in [s["start"] for s in await _slots(api)]


async def test_same_idempotency_key_replays_without_a_second_book(
    api: httpx.AsyncClient, fake: FakeEpic
) -> None:
    slot = (await _slots(api))[0]
    first = await _book(api, slot["id"], key="same")
    again = await _book(api, slot["id"], key="same")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert fake.calls("$book") == 1
    assert len(fake.booked()) == 1


@pytest.mark.parametrize("taken_status", [409, 422])
async def test_a_taken_time_answers_slot_taken(
    api: httpx.AsyncClient, fake: FakeEpic, taken_status: int
) -> None:
    fake.taken_status = taken_status
    slot = (await _slots(api))[0]
    fake.book_directly(TOMORROW)  # another desk, straight in the EHR
    r = await _book(api, slot["id"])
    assert r.status_code == 409
    assert r.json()["code"] == "slot_taken"
    assert len(fake.booked()) == 1  # only the other desk's


async def test_book_is_sent_once_but_find_is_retried(
    api: httpx.AsyncClient, fake: FakeEpic
) -> None:
    fake.fail_next["$find"] = 1
    slot = (await _slots(api))[0]  # the 503 was retried: $find is read-only
    assert fake.calls("$find") == 2
    fake.fail_next["$book"] = 1
    r = await _book(api, slot["id"])
    assert r.status_code >= 500
    assert fake.calls("$book") == 1  # never blindly resent: it may have booked
    # The failed attempt released its Idempotency-Key; the PSR's retry goes through.
    assert (await _book(api, slot["id"])).status_code == 201


async def test_cancel_patches_status_with_if_match(api: httpx.AsyncClient, fake: FakeEpic) -> None:
    slot = (await _slots(api))[0]
    appt = (await _book(api, slot["id"])).json()
    r = await api.post(f"/v1/appointments/{appt['id']}/cancel", json={"reason": "patient ill"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    stored = fake.appointments[decode_id(appt["id"]).id]
    assert stored["status"] == "cancelled"
    assert stored["cancelationReason"] == {"text": "patient ill"}
    method, _, ops = fake.requests[-1]
    assert method == "PATCH"
    assert ops["patch"][0] == {"op": "replace", "path": "/status", "value": "cancelled"}
    # The time is offered again.
    assert slot["start"] in [s["start"] for s in await _slots(api)]


async def test_reschedule_uses_cancelled_appt_id(api: httpx.AsyncClient, fake: FakeEpic) -> None:
    first, second = (await _slots(api))[:2]
    old = (await _book(api, first["id"])).json()
    r = await api.post(
        f"/v1/appointments/{old['id']}/reschedule",
        json={"slot_id": second["id"]},
        headers={"Idempotency-Key": "move-1"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "rescheduled"
    assert body["previous"]["status"] == "cancelled"
    assert body["appointment"]["start"] == second["start"]
    _, _, book_body = [r for r in fake.requests if r[1].endswith("$book")][-1]
    assert {"name": "cancelled-appt-id", "valueString": decode_id(old["id"]).id} in book_body[
        "parameter"
    ]
    # One $book did both; no separate cancel was needed.
    assert not any(m == "PATCH" for m, _, _ in fake.requests)
    assert [a["start"] for a in fake.booked()] == [second["start"].replace("+00:00", "Z")]


async def test_id_less_proposals_book_with_appt_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeEpic(ids=False, start_name="startTime", end_name="endTime")
    async for api in _gateway(fake, monkeypatch):
        slots = await _slots(api)
        ref = decode_id(slots[1]["id"])
        assert ref.resource_type == PROPOSAL_TYPE
        # The same proposal gets the same id on the next $find (the slot-list cache aside).
        assert slots[1]["id"] in [s["id"] for s in await _slots(api)]

        r = await _book(api, slots[1]["id"], comment="bring referral")
        assert r.status_code == 201, r.text
        _, _, book_body = [r for r in fake.requests if r[1].endswith("$book")][-1]
        resource = next(
            p["resource"] for p in book_body["parameter"] if p["name"] == "appt-resource"
        )
        assert {"reference": "Patient/pat-1"} in [p["actor"] for p in resource["participant"]]
        assert resource["identifier"][-1]["system"] == "urn:frontdesk:booking"
        assert "id" not in resource
        [booked] = fake.booked()
        assert booked["start"] == slots[1]["start"].replace("+00:00", "Z")

        # A made-up proposal id is not bookable: it was never offered.
        forged = encode_id(SOURCE, PROPOSAL_TYPE, "0" * 32)
        r = await _book(api, forged, key="forged")
        assert r.status_code == 409
        assert r.json()["code"] == "slot_unavailable"
        assert fake.calls("$book") == 1


@dataclass
class _Held:
    """A slot held through the gateway on an EHR that holds too."""

    api: httpx.AsyncClient
    fake: FakeEpic
    slot: dict[str, Any]
    token: str
    pending: dict[str, Any]

    async def release(self) -> httpx.Response:
        return await self.api.delete(
            f"/v1/slots/{self.slot['id']}/hold", headers={"Hold-Token": self.token}
        )


@pytest.fixture
async def held(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[_Held]:
    fake = FakeEpic(hold=True)
    async for api in _gateway(fake, monkeypatch):
        first = (await _slots(api))[0]
        r = await api.post(f"/v1/slots/{first['id']}/hold", json={})
        assert r.status_code == 201, r.text
        [pending] = fake.pending()
        yield _Held(api, fake, first, r.json()["hold_token"], pending)


async def test_a_hold_where_the_ehr_holds_is_released_there_too(held: _Held) -> None:
    assert held.pending["start"] == held.slot["start"].replace("+00:00", "Z")
    fresh = {"Cache-Control": "no-cache"}
    window = {"start": TOMORROW.isoformat(), "end": (TOMORROW + timedelta(days=1)).isoformat()}
    shown = (await held.api.get("/v1/slots", params=window, headers=fresh)).json()["items"]
    assert held.slot["start"] not in [s["start"] for s in shown]  # the EHR holds it

    released = await held.release()
    assert released.status_code == 204, released.text
    assert held.fake.pending() == []
    assert held.fake.appointments[held.pending["id"]]["status"] == "cancelled"
    shown = (await held.api.get("/v1/slots", params=window, headers=fresh)).json()["items"]
    assert held.slot["start"] in [s["start"] for s in shown]  # offered again at once


async def test_a_booking_with_the_hold_books_the_pending_appointment(held: _Held) -> None:
    r = await _book(held.api, held.slot["id"], hold_token=held.token)
    assert r.status_code == 201, r.text
    [booked] = held.fake.booked()
    assert booked["id"] == held.pending["id"] and len(held.fake.appointments) == 1


async def test_a_declined_offer_frees_the_ehrs_hold_and_goes_to_the_next_in_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeEpic(hold=True)
    waitlist = {"offer_seconds": 300, "sweep_seconds": 300}
    async for api in _gateway(fake, monkeypatch, waitlist=waitlist):
        first = (await _slots(api))[0]
        booked = (await _book(api, first["id"])).json()
        entries = [await _join(api, patient) for patient in ("pat-2", "pat-3")]
        cancelled = await api.post(
            f"/v1/appointments/{booked['id']}/cancel", json={"reason": "patient ill"}
        )
        assert cancelled.status_code == 200, cancelled.text
        offers = await _offers_after_the_waitlist_ran(api)
        assert [o["entry_id"] for o in offers] == [entries[0]]
        [held] = fake.pending()  # the offer holds the time in the EHR too

        declined = await api.post(f"/v1/waitlist/offers/{offers[0]['slot_id']}/decline")
        assert declined.status_code == 204, declined.text
        offers = await _offers_after_the_waitlist_ran(api)
        # The EHR's hold for the first ended; the time was found again for the next.
        assert fake.appointments[held["id"]]["status"] == "cancelled"
        assert [o["entry_id"] for o in offers] == [entries[1]]
        [again] = fake.pending()
        assert again["start"] == held["start"] and again["id"] != held["id"]


async def test_an_offer_that_ran_out_frees_the_ehrs_hold_for_the_next_in_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeEpic(hold=True)
    async for api in _gateway(fake, monkeypatch, waitlist={"offer_seconds": 60}):
        first = (await _slots(api))[0]
        booked = (await _book(api, first["id"])).json()
        entries = [await _join(api, patient) for patient in ("pat-2", "pat-3")]
        await api.post(f"/v1/appointments/{booked['id']}/cancel", json={"reason": "ill"})
        [offer] = await _offers_after_the_waitlist_ran(api)
        [held] = fake.pending()
        desk = cast(Any, api._transport).app.state.runtime.waitlists["t1"]

        # The window ended: the gateway's own hold lapsed with it (the cache's time to
        # live), so only the offer still knows the EHR's hold.
        release_offer = desk.holds.release_offer

        async def lapsed(*args: Any, _release: Any = release_offer) -> None:
            await _release(*args)  # gone from the cache, as if by its time to live

        monkeypatch.setattr(desk.holds, "release_offer", lapsed)
        real = desk.wall
        monkeypatch.setattr(desk, "wall", lambda real=real: real() + timedelta(minutes=2))
        assert await desk.sweep() == 1
        assert fake.appointments[held["id"]]["status"] == "cancelled"
        offers = await _offers_after_the_waitlist_ran(api)
        assert [o["entry_id"] for o in offers] == [entries[1]] != [offer["entry_id"]]


async def _join(api: httpx.AsyncClient, patient: str) -> str:
    day = TOMORROW.date().isoformat()
    joined = await api.post(
        "/v1/waitlist",
        json={
            "patient_id": encode_id(SOURCE, "Patient", patient),
            "service_type": "124",
            "earliest": day,
            "latest": day,
            "min_notice_hours": 0,
        },
    )
    assert joined.status_code == 201, joined.text
    entry: str = joined.json()["id"]
    return entry


async def _offers_after_the_waitlist_ran(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    app = cast(Any, api._transport).app
    await app.state.runtime.waitlists["t1"].drain()
    r = await api.get("/v1/waitlist/offers")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_an_ehr_that_fails_to_end_its_hold_does_not_fail_the_release(
    held: _Held,
) -> None:
    held.fake.fail_next[held.pending["id"]] = 50  # every read and patch of it answers 503
    released = await held.release()
    # The desk's hold is gone; the EHR's lapses on its own clock.
    assert released.status_code == 204, released.text
    assert [a["id"] for a in held.fake.pending()] == [held.pending["id"]]
    again = await held.api.post(
        f"/v1/slots/{held.slot['id']}/hold", json={"hold_token": held.token}
    )
    assert again.status_code == 409, again.text  # the EHR still holds the time
