"""The desk's day in the console, in headless Chromium, on the sandbox: by keyboard."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from simulators.sandbox import SANDBOX_CONSOLE_USER, build_sandbox
from tests.browser import signing
from tests.browser.conftest import CONTEXT, Served, ThreadedServer
from tests.support.sandbox_env import sandbox_app

PASSWORD = "sandbox-console-password"


@pytest.fixture(scope="module")
def served(redis_url: str):
    sandbox = build_sandbox(api_key="browser-tests", console_password=PASSWORD)
    # Tomorrow's batch runs on the saq queue, which lives in Redis: the sandbox gets one,
    # and a worker in process.
    settings = sandbox.settings.model_copy(
        update={
            "cache": sandbox.settings.cache.model_copy(update={"redis_url": redis_url}),
            "coverage_batch_workers": 1,
        }
    )
    app = sandbox_app(sandbox, settings)
    with ThreadedServer(app) as url:
        yield Served(url, app)


def sign_in(page: Page, served: Served, path: str = "/console") -> None:
    signing.sign_in(page, served.url, SANDBOX_CONSOLE_USER, PASSWORD, path)


def next_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def focused_text(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.innerText"))


def test_sign_in_today_and_check_a_patient_in(page: Page, served: Served, screens) -> None:
    sign_in(page, served)
    expect(page).to_have_url(re.compile(r"/console/today"))
    screens(page, "sign-in-done")
    day = next_weekday(date.today() + timedelta(days=1))
    page.goto(f"{served.url}/console/today?date={day.isoformat()}")
    rows = page.locator("#worklist tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() > 3
    # Lists show an age, never a birth date.
    assert not re.search(r"\b(19|20)\d\d-\d\d-\d\d\b", page.locator("#worklist").inner_text())
    screens(page, "today")
    button = page.get_by_role("button", name=re.compile(r"^Check in ")).first
    who = button.get_attribute("aria-label") or ""
    button.focus()
    page.keyboard.press("Enter")
    # Focus moves to what changed: the row's status, now Arrived.
    expect(page.locator("td.status[data-focus]")).to_have_text("Arrived")
    assert focused_text(page) == "Arrived"
    assert page.get_by_role("button", name=who).count() == 0


def test_find_hold_and_book_by_keyboard_while_another_desk_cannot(
    page: Page, browser: Browser, served: Served, screens
) -> None:
    sign_in(page, served)
    page.keyboard.press("f")  # the shortcut to Find a patient
    expect(page.get_by_role("heading", name="Find a patient")).to_be_visible()
    page.keyboard.type("Garcia, Patricia")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile(r"found"))).to_be_focused()
    screens(page, "find")
    page.get_by_role("link", name="Patricia Garcia").first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Patricia Garcia"))
    screens(page, "patient")
    page.get_by_role("button", name="Check coverage").focus()
    page.keyboard.press("Enter")
    answer = page.locator("#answer-h")
    expect(answer).to_be_focused()
    expect(answer).to_contain_text("Covered")
    expect(page.locator("#coverage")).to_contain_text("Copay (Office visit)")
    expect(page.locator("#coverage")).to_contain_text("left to meet")
    # The payer's whole answer sits behind a disclosure (the sandbox user is a supervisor).
    expect(page.get_by_text("The payer's whole answer (supervisors)")).to_be_visible()
    screens(page, "coverage")
    page.get_by_role("link", name=re.compile(r"^Book a visit for")).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Book a visit for Patricia Garcia")
    page.get_by_label("Next available").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Find slots").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile(r"free slots"))).to_be_focused()
    first_slot = page.locator("#slots button.slot").first
    slot_id = first_slot.locator("xpath=..").locator("input[name=slot_id]").get_attribute("value")
    expect(first_slot).to_have_accessible_name(re.compile(r"^Hold \w{3} \d"))
    first_slot.focus()
    screens(page, "book")
    page.keyboard.press("Enter")
    countdown = page.locator(".countdown")
    expect(countdown).to_have_text(re.compile(r"^[45]:\d\d left$"))
    book_button = page.get_by_role("button", name="Book it")
    expect(book_button).to_be_focused()
    screens(page, "hold")

    # Another desk, in its own browser context, can't take the held slot.
    other = browser.new_context(**CONTEXT)
    try:
        desk2 = other.new_page()
        sign_in(desk2, served)
        desk2.goto(page.url)
        desk2.get_by_label("Next available").check()
        desk2.get_by_role("button", name="Find slots").click()
        desk2.locator(f'#slots form:has(input[value="{slot_id}"]) button').click()
        expect(desk2.locator("#hold")).to_contain_text("Another desk is holding this slot.")
        expect(desk2.locator("#hold")).to_contain_text("The next free slots like it")
        screens(desk2, "slot-held")
    finally:
        other.close()

    page.keyboard.press("Enter")  # Book it
    confirmation = page.locator("#booked-h")
    expect(confirmation).to_be_focused()
    expect(confirmation).to_contain_text("Booked: Patricia Garcia")
    screens(page, "booked")
    page.get_by_role("link", name="Back to Patricia Garcia").click()
    expect(page.locator("#appt-h + table")).to_contain_text("booked")


def test_register_after_a_duplicate_warning(page: Page, served: Served, screens) -> None:
    sign_in(page, served)
    page.goto(served.url + "/console/patients")
    page.get_by_label("Name, name and birth date, phone or MRN").fill("Garcia, Patricia")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Patricia Garcia").first.click()
    born = re.search(r"Born (\d{4}-\d{2}-\d{2})", page.locator("main").inner_text())
    assert born is not None
    page.goto(served.url + "/console/patients/new")
    page.get_by_label("Family name").fill("Garcia")
    page.get_by_label("Given names").fill("Patricia")
    page.get_by_label("Birth date").fill(born.group(1))
    page.get_by_label("Phone").fill("617-555-0199")
    page.get_by_role("button", name="Register", exact=True).focus()
    page.keyboard.press("Enter")
    warning = page.locator("#dup-h")
    expect(warning).to_be_focused()
    expect(page.locator("#duplicates")).to_contain_text("Patricia Garcia")
    screens(page, "register-duplicate")
    page.get_by_role("button", name=re.compile("register as a new patient")).click()
    expect(page.get_by_text("Patient registered.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Patricia Garcia")


def test_tomorrows_batch_shows_progress_then_who_needs_a_person(
    page: Page, served: Served, screens
) -> None:
    sign_in(page, served)
    page.goto(served.url + "/console/batch")
    day = next_weekday(date.today() + timedelta(days=1))
    page.get_by_label("Appointments on").fill(day.isoformat())
    page.get_by_role("button", name="Start verification").click()
    expect(page).to_have_url(re.compile(r"/console/batch/[A-Za-z0-9_-]+$"))
    expect(page.locator("#batch-h")).to_contain_text("done", timeout=30_000)
    expect(page.locator("progress")).to_be_visible()
    summary = page.locator("#batch").inner_text()
    assert re.search(r"(\d+) of \1 patients checked", summary)
    screens(page, "batch")


def test_an_expired_session_keeps_what_was_typed(page: Page, served: Served, screens) -> None:
    sign_in(page, served)
    page.goto(served.url + "/console/patients")
    page.get_by_label("Name, name and birth date, phone or MRN").fill("Garcia")
    page.keyboard.press("Enter")
    page.locator("#results a").first.click()
    card = page.url
    page.get_by_label("Phone").fill("617-555-0142")
    sessions = served.runtime.console.sessions
    real = sessions.clock
    sessions.clock = lambda: time.time() + 16 * 60  # sixteen idle minutes later
    try:
        page.get_by_role("button", name="Save contact details").click()
        expect(page.get_by_role("heading", name="Sign in to the desk")).to_be_visible()
        expect(page.get_by_text("what you typed is kept")).to_be_visible()
        screens(page, "session-expired")
    finally:
        sessions.clock = real
    page.get_by_label("User name").fill(SANDBOX_CONSOLE_USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(card)
    expect(page.get_by_text("what you typed is back in the form")).to_be_visible()
    expect(page.get_by_label("Phone")).to_have_value("617-555-0142")


def test_sign_out_and_the_cookie_flags(page: Page, served: Served) -> None:
    sign_in(page, served)
    cookie = next(c for c in page.context.cookies() if c["name"] == "fd_console")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert page.evaluate("() => document.cookie").find("fd_console=") == -1
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to the desk")).to_be_visible()
    page.goto(served.url + "/console/today")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))


def test_single_key_shortcuts_can_be_turned_off_and_stay_off(page: Page, served: Served) -> None:
    """WCAG 2.1.4: a single-key shortcut must be one a person can turn off."""
    sign_in(page, served)
    page.keyboard.press("f")
    expect(page).to_have_url(re.compile(r"/console/patients"))
    signing.keys_ready(page)
    off = page.get_by_role("button", name="Turn single-key shortcuts off")
    off.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#announce")).to_have_text("Single-key shortcuts are off.")
    expect(page.locator("[data-keys-list]")).to_be_hidden()
    page.keyboard.press("t")
    page.wait_for_timeout(500)  # a shortcut would have navigated by now
    expect(page).to_have_url(re.compile(r"/console/patients"))
    # This browser remembers, on every page.
    page.goto(f"{served.url}/console/book")
    signing.keys_ready(page)
    expect(page.locator("html[data-keys-state='off']")).to_have_count(1)
    page.keyboard.press("t")
    page.wait_for_timeout(500)
    expect(page).to_have_url(re.compile(r"/console/book"))
    on = page.get_by_role("button", name="Turn single-key shortcuts on")
    on.focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-keys-list]")).to_be_visible()
    page.keyboard.press("t")
    expect(page).to_have_url(re.compile(r"/console/today"))
