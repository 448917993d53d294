"""The console's safety net on the sandbox EHRs, over HTTP in-process: the waitlist
screen (join from the card, an offer after a cancel, book it or decline it), the
patient's other appointment on the booking screen (a supervisor books anyway with a
reason, a desk can't), the marks on the day's list, and the console's event stream."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway.console.accounts import ROLE_SCOPES
from gateway.console.routes import events as console_events
from gateway.console.sessions import COOKIE
from gateway.events import Event
from mappers import encode_id
from tests.support.console_env import console_settings, csrf_of, sign_in
from tests.support.gateway_env import auth, clinic, patients
from tests.support.sandbox_env import BASE_A, BASE_B, SandboxGateway, sandbox_gateway

HX = {"HX-Request": "true"}
ZONE = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-secret")


@pytest.fixture
async def gw():
    async with sandbox_gateway(
        base_url="https://gateway.test",
        console=console_settings(),
        waitlist={"offer_seconds": 120, "sweep_seconds": 300},
    ) as gateway:
        yield gateway


async def _token(gw: SandboxGateway, user: str) -> str:
    await sign_in(gw.api, user)
    return csrf_of((await gw.api.get("/console/today")).text)


async def _join(gw: SandboxGateway, token: str, patient: str, **fields: str) -> httpx.Response:
    form = {"csrf": token, "wl_service_type": "124", "wl_notice": "0", **fields}
    return await gw.api.post(f"/console/patients/{patient}/waitlist", data=form, headers=HX)


async def _freed(gw: SandboxGateway, token: str, slot: str, patient: str) -> None:
    """``slot`` booked for ``patient`` and cancelled from their card; the offer made."""
    booked = await gw.api.post(
        "/v1/appointments",
        json={"slot_id": slot, "patient_id": patient},
        headers={**auth(), "Idempotency-Key": f"freed-{slot}"},
    )
    assert booked.status_code == 201, booked.text
    cancelled = await gw.api.post(
        f"/console/appointments/{booked.json()['id']}/cancel",
        data={"csrf": token, "patient": patient, "reason": "Patient is unwell"},
        headers=HX,
    )
    assert cancelled.status_code == 200, cancelled.text
    await gw.runtime.waitlists["general"].drain()


def _offer_form(board: str, slot: str) -> dict[str, str]:
    row = board[board.index(f"/console/waitlist/offers/{slot}/book") :]
    entry = re.search(r'name="entry_id" value="([^"]+)"', row)
    assert entry is not None
    return {"entry_id": entry.group(1)}


async def test_join_from_the_card_then_a_freed_slot_is_offered_and_booked_for_them(gw):
    c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
    slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
    waiting, leaving = (
        encode_id("ehr-a", "Patient", p)
        for p in await patients(BASE_A, 2, transport=gw.transport("ehr-a"))
    )
    token = await _token(gw, "alice")
    joined = await _join(gw, token, waiting, wl_priority="urgent", wl_note="mornings only")
    assert joined.status_code == 200, joined.text
    assert "Added to the waitlist for General Practice." in joined.text
    assert "Not on the waitlist." not in joined.text  # the card lists the entry
    again = await _join(gw, token, waiting)
    assert again.status_code == 409 and "already waits" in again.text

    screen = await gw.api.get("/console/waitlist")
    assert screen.status_code == 200
    assert "Person0" in screen.text and "mornings only" in screen.text
    assert "No open offers." in screen.text
    assert 'data-events="/console/events"' in screen.text

    await _freed(gw, token, slot, leaving)
    board = (await gw.api.get("/console/waitlist/board")).text
    assert "Book for Maria" not in board and re.search(r"Book for Person0 Crowd\w+", board)
    [expires] = re.findall(r'data-expires="([^"]+)"', board)
    offer = await gw.runtime.waitlists["general"].offer_of(slot)
    assert offer is not None and offer.patient_id == waiting
    assert expires == offer.expires_at.isoformat()
    assert re.search(r">[12]:\d\d left<", board)
    assert offer.hold_token not in board  # the token stays on the server

    done = await gw.api.post(
        f"/console/waitlist/offers/{slot}/book",
        data={"csrf": token, **_offer_form(board, slot)},
        headers=HX,
    )
    assert done.status_code == 200, done.text
    when = offer.slot.start.astimezone(ZONE).strftime("%-I:%M %p")
    assert re.search(rf"Booked: Person0 Crowd\w+, \w{{3}} .* {when}\.", done.text)
    assert 'id="board" hx-swap-oob="innerHTML"' in done.text
    assert "Nobody is waiting." in done.text  # the booked offer is gone at once
    await gw.runtime.waitlists["general"].drain()
    listed = await gw.api.get(
        "/v1/appointments",
        params={
            "patient": waiting,
            "start": offer.slot.start.date().isoformat(),
            "end": (offer.slot.start + timedelta(days=1)).date().isoformat(),
        },
        headers=auth(),
    )
    [appointment] = listed.json()["items"]
    assert appointment["status"] == "booked" and appointment["slot_ids"] == [slot]
    assert await gw.runtime.waitlists["general"].entries.all("general") == []
    actions = [(e.action, e.client_id) for e in gw.audit.events]
    assert ("waitlist.join", "console:alice") in actions
    assert ("appointment.book", "console:alice") in actions


async def test_declining_passes_the_offer_on_and_a_stale_screen_acts_on_nothing(gw):
    c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
    slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
    first, second, leaving = (
        encode_id("ehr-a", "Patient", p)
        for p in await patients(BASE_A, 3, transport=gw.transport("ehr-a"))
    )
    token = await _token(gw, "bob")
    assert (await _join(gw, token, first, wl_priority="urgent")).status_code == 200
    assert (await _join(gw, token, second)).status_code == 200
    await _freed(gw, token, slot, leaving)
    board = (await gw.api.get("/console/waitlist/board")).text
    seen = _offer_form(board, slot)
    declined = await gw.api.post(
        f"/console/waitlist/offers/{slot}/decline", data={"csrf": token, **seen}, headers=HX
    )
    assert declined.status_code == 200, declined.text
    assert re.search(
        r"Declined for Person0 Crowd\w+: the slot goes to the next in line", declined.text
    )
    offer = await gw.runtime.waitlists["general"].offer_of(slot)
    assert offer is not None and offer.patient_id == second
    assert re.search(r"Book for Person1 Crowd\w+", declined.text)
    # The first patient's screen, not refreshed: its buttons name the old offer.
    for action in ("book", "decline"):
        stale = await gw.api.post(
            f"/console/waitlist/offers/{slot}/{action}", data={"csrf": token, **seen}, headers=HX
        )
        assert stale.status_code == 404 and "this offer has ended" in stale.text
    assert (await gw.runtime.waitlists["general"].offer_of(slot)) == offer
    entry_id = offer.entry_id
    removed = await gw.api.post(f"/console/waitlist/{entry_id}/remove", data={"csrf": token})
    assert removed.status_code == 303 and removed.headers["location"] == "/console/waitlist"
    assert "is off the waitlist." in (await gw.api.get("/console/waitlist")).text
    assert await gw.runtime.waitlists["general"].offer_of(slot) is None


async def _same_person_twice(gw: SandboxGateway) -> dict[str, Any]:
    """One person in both EHRs (same name, birth date and sex), booked at 14:00 in EHR A;
    a free slot at the same time in EHR B."""
    a = await clinic(BASE_A, transport=gw.transport("ehr-a"), family="Achterberg", slots=1)
    b = await clinic(BASE_B, transport=gw.transport("ehr-b"), family="Achterberg", slots=1)
    pa = encode_id("ehr-a", "Patient", a["patient"]["id"])
    first = await gw.api.post(
        "/v1/appointments",
        json={"slot_id": encode_id("ehr-a", "Slot", a["slots"][0]["id"]), "patient_id": pa},
        headers={**auth(), "Idempotency-Key": "a-first"},
    )
    assert first.status_code == 201, first.text
    return {
        "patient": pa,
        "b_patient": encode_id("ehr-b", "Patient", b["patient"]["id"]),
        "slot": encode_id("ehr-b", "Slot", b["slots"][0]["id"]),
        "start": a["start"],
        "first": first.json()["id"],
    }


def _booking_form(token: str, patient: str, slot: str, **extra: str) -> dict[str, str]:
    return {
        "csrf": token,
        "patient": patient,
        "slot_id": slot,
        "slot_start": "tomorrow 9:00",
        "idempotency_key": f"k-{len(extra)}-{slot[-6:]}",
        **extra,
    }


async def test_a_desk_is_shown_the_conflict_and_only_a_supervisor_books_anyway(gw):
    made = await _same_person_twice(gw)
    token = await _token(gw, "alice")
    form = _booking_form(token, made["patient"], made["slot"])
    held = await gw.api.post("/console/book/hold", data=form, headers=HX)
    assert held.status_code == 200, held.text
    refused = await gw.api.post("/console/book/confirm", data=form, headers=HX)
    assert refused.status_code == 409
    assert "Maria Achterberg already has an appointment at that time." in refused.text
    assert re.search(r"<strong>\w{3} \d+ \w{3} \d{4} 9:00 AM&ndash;9:30 AM</strong>", refused.text)
    assert "in ehr-a, booked" in refused.text
    # Where: named by the other appointment's own EHR, not the slot's.
    assert re.search(r"</strong>, Clinic \w+ <span", refused.text)
    assert "Book anyway" not in refused.text and "Only a supervisor" in refused.text
    assert "Release the hold" in refused.text
    # A desk that sends the override anyway is refused, and the refusal audited.
    forged = await gw.api.post(
        "/console/book/confirm", data={**form, "override_reason": "because"}, headers=HX
    )
    assert forged.status_code == 403
    denied = [e for e in gw.audit.events if e.action == "appointment.book"][-1]
    assert (denied.client_id, denied.outcome) == ("console:alice", "denied")
    released = await gw.api.post("/console/book/release", data=form, headers=HX)
    assert released.status_code == 200

    token = await _token(gw, "sam")
    form = _booking_form(token, made["patient"], made["slot"])
    await gw.api.post("/console/book/hold", data=form, headers=HX)
    refused = await gw.api.post("/console/book/confirm", data=form, headers=HX)
    assert refused.status_code == 409 and "Book anyway" in refused.text
    empty = await gw.api.post(
        "/console/book/confirm", data={**form, "override_reason": ""}, headers=HX
    )
    assert empty.status_code == 422 and "say why" in empty.text
    booked = await gw.api.post(
        "/console/book/confirm",
        data={**form, "idempotency_key": "anyway", "override_reason": "two-part visit"},
        headers=HX,
    )
    assert booked.status_code == 200, booked.text
    assert "booked over the patient's other appointment (reason recorded)" in booked.text
    event = [e for e in gw.audit.events if e.action == "appointment.book"][-1]
    assert (event.client_id, event.outcome, event.reason) == (
        "console:sam",
        "success",
        "conflict allowed: two-part visit",
    )
    found = await gw.runtime.events.read("general", "0", block_seconds=0)
    assert [e.type for e in found].count("conflict.found") == 1

    # The day's list marks both appointments, each naming the other.
    day = made["start"].astimezone(ZONE).date().isoformat()
    today = (await gw.api.get(f"/console/today?date={day}")).text
    rows = [r for r in today.split("<tr") if "Achterberg" in r]
    assert len(rows) == 2
    assert all('class="badge b-conflict"' in r for r in rows)
    assert any("in ehr-a" in r for r in rows) and any("in ehr-b" in r for r in rows)


async def test_a_patient_with_no_record_in_the_slots_ehr_is_told_in_words(gw):
    b = await clinic(BASE_B, transport=gw.transport("ehr-b"), slots=1)
    only_a = encode_id(
        "ehr-a", "Patient", (await patients(BASE_A, 1, transport=gw.transport("ehr-a")))[0]
    )
    token = await _token(gw, "alice")
    form = _booking_form(token, only_a, encode_id("ehr-b", "Slot", b["slots"][0]["id"]))
    refused = await gw.api.post("/console/book/confirm", data=form, headers=HX)
    assert refused.status_code == 409
    assert (
        "This patient has no record in ehr-b: register them there or pick their record there."
        in refused.text
    )


async def test_a_role_without_the_waitlist_scopes_neither_sees_nor_joins_it(gw, monkeypatch):
    monkeypatch.setitem(
        ROLE_SCOPES, "desk", ROLE_SCOPES["desk"] - {"waitlist:read", "waitlist:write"}
    )
    patient = encode_id(
        "ehr-a", "Patient", (await patients(BASE_A, 1, transport=gw.transport("ehr-a")))[0]
    )
    token = await _token(gw, "alice")
    assert (await gw.api.get("/console/waitlist")).status_code == 403
    card = await gw.api.get(f"/console/patients/{patient}")
    assert card.status_code == 200 and "Add to waitlist" not in card.text
    refused = await _join(gw, token, patient)
    assert refused.status_code == 403
    assert await gw.runtime.waitlists["general"].entries.all("general") == []
    # A supervisor (scopes intact) still does both.
    token = await _token(gw, "sam")
    assert (await _join(gw, token, patient)).status_code == 200
    assert (await gw.api.get("/console/waitlist")).status_code == 200


def test_the_console_stream_sends_types_and_ids_only():
    event = Event(
        "1-0",
        "waitlist.offer",
        {"slot_id": "s", "entry_id": "wl-1", "expires_at": "2026-12-07T14:00:00Z", "x": "y"},
    )
    assert console_events.frame(event) == (
        b'id: 1-0\nevent: waitlist.offer\ndata: {"slot_id":"s","entry_id":"wl-1"}\n\n'
    )
    assert console_events.frame(Event("2-0", "something.else", {"slot_id": "s"})) is None


async def test_the_stream_ends_with_the_session_and_never_renews_it(gw, monkeypatch):
    monkeypatch.setattr(console_events, "BLOCK_SECONDS", 0.05)
    await _token(gw, "alice")
    sessions = gw.runtime.console.sessions
    session_id = gw.runtime.console.signer.unsign(gw.api.cookies[COOKIE])
    before = await sessions.load(session_id, touch=False)
    await gw.runtime.events.publish("general", "waitlist.offer", {"slot_id": "s-1"})
    await gw.runtime.events.publish("general", "appointment.cancelled", {"appointment_id": "a"})
    streaming = asyncio.create_task(gw.api.get("/console/events", headers={"Last-Event-ID": "0"}))
    await asyncio.sleep(0.3)
    after = await sessions.load(session_id, touch=False)
    assert after is not None and after.last_seen == before.last_seen
    await sessions.end(session_id)
    answer = await asyncio.wait_for(streaming, 5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert "event: waitlist.offer" in answer.text and '"slot_id":"s-1"' in answer.text
    assert "event: appointment.cancelled" in answer.text
    # Signed out: the browser's reconnect meets the sign-in page and stops.
    again = await gw.api.get("/console/events")
    assert again.status_code == 303 and again.headers["location"].startswith("/console/sign-in")
