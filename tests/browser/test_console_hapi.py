"""The desk's flow on the real HAPI servers and Redis (sessions, holds and the slot cache
in Redis, as replicas share them): sign in, find the patient, check coverage, hold and
book, see them on the day's list, check them in, sign out."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from gateway.app import create_app
from mappers import encode_id
from tests.browser.conftest import Served, ThreadedServer
from tests.support.console_env import PASSWORD, console_settings
from tests.support.gateway_env import clinic, settings_for

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


@pytest.fixture(scope="module")
def served(hapi_base_urls, redis_url, tmp_path_factory):
    os.environ.setdefault("FRONTDESK_HASH_KEY", f"browser-{uuid.uuid4().hex}")
    base_a, base_b = hapi_base_urls
    settings = settings_for(
        base_a,
        base_b,
        redis_url,
        audit_path=tmp_path_factory.mktemp("audit") / "audit.jsonl",
        # Plain http on loopback: the cookie can't be Secure here.
        console=console_settings(secure_cookie=False),
    )
    app = create_app(settings)
    with ThreadedServer(app) as url:
        yield Served(url, app)


def test_find_book_check_in_and_sign_out_on_hapi(
    page: Page, served: Served, hapi_base_urls, screens
) -> None:
    base_a, _ = hapi_base_urls
    # Playwright's sync API keeps a loop on this thread: the fixture data is made on another.
    with ThreadPoolExecutor(1) as pool:
        made = pool.submit(asyncio.run, clinic(base_a, slots=3)).result()
    page.goto(served.url + "/console/today")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.keyboard.press("f")
    expect(page.get_by_label("Name, name and birth date, phone or MRN")).to_be_focused()
    # The fixture's family names carry digits: "name" says it is a name, not an MRN.
    page.keyboard.type(f"name {made['family']}")
    page.keyboard.press("Enter")
    page.get_by_role("link", name=f"Maria {made['family']}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(made["family"])
    page.get_by_role("button", name="Check coverage").click()
    expect(page.locator("#answer-h")).to_contain_text("Not verified")
    expect(page.locator("#coverage")).to_contain_text("no current insurance on file")

    page.get_by_role("link", name=re.compile("^Book a visit for")).click()
    page.get_by_label("Practitioner").fill(f"Doc{made['run']}")
    page.get_by_role("button", name="Find slots").click()
    expect(page.get_by_role("heading", name="3 free slots")).to_be_visible()
    screens(page, "hapi-book")
    page.locator("#slots button.slot").first.click()
    page.get_by_role("button", name="Book it").click()
    expect(page.locator("#booked-h")).to_contain_text(f"Booked: Maria {made['family']}")

    day = made["start"].astimezone(ZoneInfo("America/New_York")).date()
    doctor = encode_id("ehr-a", "Practitioner", made["practitioner"]["id"])
    page.goto(f"{served.url}/console/today?date={day.isoformat()}&where=prac:{doctor}")
    row = page.locator("#worklist tr", has_text=made["family"])
    expect(row).to_contain_text("Booked")
    row.get_by_role("button", name=re.compile("^Check in")).click()
    expect(page.locator("#worklist tr", has_text=made["family"])).to_contain_text("Arrived")
    screens(page, "hapi-today")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to the desk")).to_be_visible()
    page.goto(served.url + "/console/today")
    expect(page).to_have_url(re.compile("/console/sign-in"))
