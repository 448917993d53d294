"""The safety net in the console, in headless Chromium, on the sandbox: a patient joins
the waitlist from their card, a cancellation frees a slot that fits, the offer appears on
the Waitlist screen by itself (the console's event stream) and is booked by keyboard; a
booking over the same person's appointment in the other EHR is shown in words and a
supervisor books anyway with a reason. axe-core on each screen."""

from __future__ import annotations

import asyncio
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from mappers import encode_id
from simulators.sandbox import SANDBOX_CONSOLE_USER, build_sandbox
from tests.browser import signing
from tests.browser.conftest import Served, ThreadedServer
from tests.support.gateway_env import clinic, patients
from tests.support.sandbox_env import sandbox_app

PASSWORD = "safety-net-console-password"
API_KEY = "safety-net-browser-key"
BASE = {"ehr-a": "http://ehr-a.sandbox/fhir", "ehr-b": "http://ehr-b.sandbox/fhir"}


@pytest.fixture(scope="module")
def audit_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def sandbox(audit_path: Path) -> Any:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FRONTDESK_AUDIT_PATH", str(audit_path))
        return build_sandbox(api_key=API_KEY, console_password=PASSWORD)


@pytest.fixture(scope="module")
def served(sandbox: Any):
    app = sandbox_app(sandbox)
    with ThreadedServer(app) as url:
        yield Served(url, app)


def made(sandbox: Any, source: str, work: Any) -> Any:
    """Fixture data written straight into a sandbox EHR, on a thread of its own (the
    sync Playwright API keeps an event loop on this one)."""
    transport = httpx.ASGITransport(app=sandbox.ehr_apps[source])
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work(BASE[source], transport)).result()


def api(served: Served) -> httpx.Client:
    return httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    )


def sign_in(page: Page, served: Served) -> None:
    signing.sign_in(page, served.url, SANDBOX_CONSOLE_USER, PASSWORD)


def test_a_cancelled_slot_is_offered_to_the_waitlist_and_booked(
    page: Page, served: Served, sandbox: Any, screens
) -> None:
    place = made(sandbox, "ehr-a", lambda base, t: clinic(base, transport=t, slots=1))
    slot = encode_id("ehr-a", "Slot", place["slots"][0]["id"])
    waiting, leaving = (
        encode_id("ehr-a", "Patient", p)
        for p in made(sandbox, "ehr-a", lambda base, t: patients(base, 2, transport=t))
    )
    with api(served) as client:
        booked = client.post(
            "/v1/appointments",
            json={"slot_id": slot, "patient_id": leaving},
            headers={"Idempotency-Key": f"leaving-{place['run']}"},
        )
        assert booked.status_code == 201, booked.text

        sign_in(page, served)
        page.goto(f"{served.url}/console/patients/{waiting}")
        card = page.get_by_role("region", name="Waitlist")
        expect(card).to_contain_text("Not on the waitlist.")
        card.get_by_text("Add to waitlist").first.click()
        page.get_by_label("Visit").select_option(label="General Practice")
        page.get_by_label("Practitioner").fill(f"Doc{place['run']}")
        page.get_by_label("Notice needed (hours)").fill("0")
        page.get_by_label("Priority").select_option(label="Urgent")
        page.get_by_label("Note").fill("mornings only")
        page.get_by_label("Note").press("Enter")
        expect(page.locator("#card")).to_contain_text("Added to the waitlist for General Practice.")
        expect(card).to_contain_text("Urgent")

        signing.keys_ready(page)
        page.keyboard.press("w")  # the shortcut to the Waitlist screen
        expect(page.get_by_role("heading", name="Waitlist", level=1)).to_be_visible()
        expect(page.locator("#board")).to_contain_text("mornings only")
        expect(page.locator("#board")).to_contain_text("No open offers.")
        # The screen listens before the slot frees; it is never reloaded below.
        expect(page.locator("#board[data-listening='open']")).to_have_count(1)
        cancelled = client.post(
            f"/v1/appointments/{booked.json()['id']}/cancel",
            json={"reason": "Patient is unwell"},
        )
        assert cancelled.status_code == 200, cancelled.text

    book = page.get_by_role("button", name=re.compile(r"^Book for Person0 Crowd"))
    expect(book).to_be_visible()
    expect(page.locator("#board .countdown")).to_have_text(re.compile(r"^1[0-5]:\d\d left$"))
    assert page.get_by_role("button", name=re.compile(r"^Book for Person1")).count() == 0
    screens(page, "waitlist")

    book.focus()
    page.keyboard.press("Enter")
    outcome = page.locator("#offer-outcome")
    expect(outcome).to_contain_text(re.compile(r"Booked: Person0 Crowd\w+, "))
    expect(page.locator("#board")).to_contain_text("Nobody is waiting.")
    expect(page.locator("#board")).to_contain_text("No open offers.")

    page.goto(f"{served.url}/console/patients/{waiting}")
    expect(page.get_by_role("region", name="Upcoming appointments")).to_contain_text("booked")
    expect(page.get_by_role("region", name="Waitlist")).to_contain_text("Not on the waitlist.")


def test_a_conflict_in_the_other_ehr_is_said_and_a_supervisor_books_anyway(
    page: Page, served: Served, sandbox: Any, audit_path: Path, screens
) -> None:
    a = made(sandbox, "ehr-a", lambda base, t: clinic(base, transport=t, slots=1))
    b = made(sandbox, "ehr-b", lambda base, t: clinic(base, transport=t, family=a["family"]))
    person = encode_id("ehr-a", "Patient", a["patient"]["id"])
    with api(served) as client:
        first = client.post(
            "/v1/appointments",
            json={"slot_id": encode_id("ehr-a", "Slot", a["slots"][0]["id"]), "patient_id": person},
            headers={"Idempotency-Key": f"first-{a['run']}"},
        )
        assert first.status_code == 201, first.text

    sign_in(page, served)
    page.goto(f"{served.url}/console/patients/{person}")
    page.get_by_role("link", name=re.compile("^Book a visit for")).click()
    page.get_by_label("Practitioner").fill(f"Doc{b['run']}")
    page.get_by_role("button", name="Find slots").click()
    page.locator("#slots button.slot").first.click()
    page.get_by_role("button", name="Book it").click()

    refused = page.locator("#refused-h")
    expect(refused).to_have_text(f"Maria {a['family']} already has an appointment at that time.")
    expect(refused).to_be_focused()
    clash = page.locator("ul.clashes")
    expect(clash).to_contain_text(f"Clinic {a['run']}")
    expect(clash).to_contain_text("in ehr-a, booked")
    # Its words name a time, a place and an EHR; the URL names nobody.
    assert a["family"] not in page.url
    screens(page, "conflict")

    page.get_by_label(re.compile("^Reason to book anyway")).fill("two-part visit, same building")
    page.get_by_label(re.compile("^Reason to book anyway")).press("Enter")
    expect(page.locator("#booked-h")).to_contain_text(f"Booked: Maria {a['family']}")
    expect(page.locator("#hold")).to_contain_text(
        "booked over the patient's other appointment (reason recorded)"
    )
    reason = "conflict allowed: two-part visit, same building"
    assert audited(audit_path, reason) == [("console:" + SANDBOX_CONSOLE_USER, "success")]

    with api(served) as client:
        listed = client.get(
            "/v1/appointments",
            params={
                "patient": person,
                "start": a["start"].date().isoformat(),
                "end": (a["start"] + timedelta(days=1)).date().isoformat(),
            },
        )
    assert listed.status_code == 200, listed.text
    booked = [x for x in listed.json()["items"] if x["status"] == "booked"]
    assert sorted(x["source"]["source"] for x in booked) == ["ehr-a", "ehr-b"]


def audited(path: Path, reason: str) -> list[tuple[str, str]]:
    """The audit lines of bookings with ``reason`` (the file is written as requests end)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in path.read_text().splitlines() if line]
        found = [
            (e["client_id"], e["outcome"])
            for e in lines
            if e["action"] == "appointment.book" and e["reason"] == reason
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
