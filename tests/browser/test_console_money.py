"""The patient card's cost panel in headless Chromium, on the sandbox: what the patient
owes, what to collect at the next visit, an estimate with its steps by keyboard, and the
good-faith estimates (to give, then issued and printable); axe-core on each screen."""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from mappers import encode_id
from simulators.sandbox import SANDBOX_CONSOLE_USER, build_sandbox
from simulators.seed.accounts import build_accounts
from tests.browser import signing
from tests.browser.conftest import Served, ThreadedServer
from tests.support.sandbox_env import sandbox_app

PASSWORD = "money-console-password"
API_KEY = "money-browser-key"


@pytest.fixture(scope="module")
def served():
    sandbox = build_sandbox(api_key=API_KEY, console_password=PASSWORD)
    app = sandbox_app(sandbox)
    with ThreadedServer(app) as url:
        yield Served(url, app)


def sign_in(page: Page, served: Served, path: str = "/console") -> None:
    signing.sign_in(page, served.url, SANDBOX_CONSOLE_USER, PASSWORD, path)


def owing_patient() -> tuple[str, str]:
    """A seeded EHR A patient with a billing account: (gateway id, what they owe)."""
    first = build_accounts("ehr-a")[0]
    upstream = first["subject"][0]["reference"].split("/")[1]
    owed = next(
        e
        for e in first["extension"]
        if e["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "patient"
    )
    return encode_id(
        "ehr-a", "Patient", upstream
    ), f"${owed['extension'][-1]['valueMoney']['value']:,.2f}"


def test_the_cost_panel_by_keyboard(page: Page, browser: Browser, served: Served, screens) -> None:
    patient_id, owes = owing_patient()
    sign_in(page, served)
    page.goto(f"{served.url}/console/patients/{patient_id}")
    panel = page.get_by_role("region", name="Costs").or_(page.locator("section:has(#money-h)"))
    expect(page.locator("#money-h")).to_have_text("Costs")
    expect(panel).to_contain_text(f"Owes the hospital {owes}")
    expect(panel).to_contain_text("To collect at the next visit")
    expect(panel).to_contain_text("Good-faith estimates None.")
    page.get_by_label("Estimate for").select_option(label="Office visit, established patient")
    # The date defaults to today; the button is reached and pressed from the keyboard.
    page.get_by_role("button", name="Estimate the cost").focus()
    page.keyboard.press("Enter")
    answer = page.locator("#estimate-h")
    expect(answer).to_be_focused()
    expect(answer).to_contain_text(
        re.compile(r"Estimated \$[0-9,.]+ for the patient|Could not be determined")
    )
    expect(page.locator("#estimate ol.steps li").first).to_contain_text(
        "Visit: Office visit, established patient (CPT 99213)"
    )
    screens(page, "cost-panel")

    # A good-faith estimate asked for through the API shows on the card, then printable.
    with httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    ) as api:
        asked = api.post(
            "/v1/gfe",
            json={
                "patient_id": patient_id,
                "visit_type": {
                    "system": "http://terminology.hl7.org/CodeSystem/service-type",
                    "code": "124",
                },
                "date": (date.today() + timedelta(days=30)).isoformat(),
            },
        )
        assert asked.status_code == 201, asked.text
        gfe_id = asked.json()["id"]
        page.reload()
        expect(page.locator("section:has(#money-h)")).to_contain_text("to give, due by")
        issued = api.post(f"/v1/gfe/{gfe_id}/issue")
        assert issued.status_code == 200, issued.text
    page.reload()
    link = page.get_by_role("link", name="print it")
    expect(link).to_be_visible()
    screens(page, "cost-panel-gfe")
    href = link.get_attribute("href") or ""
    response = page.goto(served.url + href)
    assert response is not None
    # The page's inline style is allowed by its hash, and nothing else inline is.
    policy = response.headers["content-security-policy"]
    assert "style-src 'self' 'sha256-" in policy and "unsafe-inline" not in policy
    expect(page.get_by_role("heading", level=1)).to_have_text("Good Faith Estimate")
    expect(page.locator("body")).to_contain_text("12-3456789")
    screens(page, "gfe-document")
    # Under the console's real policy (no CSP bypass), the printed page keeps its style.
    strict = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        printed = strict.new_page()
        sign_in(printed, served)
        printed.goto(served.url + href)
        border = printed.evaluate(
            "() => getComputedStyle(document.querySelector('h2')).borderBottomStyle"
        )
        assert border == "solid"
    finally:
        strict.close()
