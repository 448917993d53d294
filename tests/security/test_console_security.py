"""The desk console's guards: no page without a session, CSRF on every state change,
tenants kept apart when an id is edited, a new session id at sign-in, the cookie's flags,
failed sign-ins limited, and every action audited with the console user as the actor."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from connectors import FhirClient
from gateway.console.sessions import COOKIE
from mappers import encode_id
from tests.support.console_env import PASSWORD, console_settings, csrf_of, sign_in
from tests.support.sandbox_env import BASE_A, sandbox_gateway

PAGES = [
    "/console/today",
    "/console/today/list",
    "/console/patients",
    "/console/patients/new",
    "/console/book",
    "/console/batch",
]


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", f"console-{uuid.uuid4().hex}")


@pytest.fixture
async def gw():
    # https: the session cookie is Secure, as behind TLS.
    async with sandbox_gateway(
        base_url="https://gateway.test", console=console_settings()
    ) as gateway:
        yield gateway


async def _patient(gw) -> str:
    async with httpx.AsyncClient(transport=gw.transport("ehr-a")) as http:
        fhir = FhirClient(BASE_A, http=http, source="fixture")
        made = await fhir.create(
            {
                "resourceType": "Patient",
                "name": [{"family": "Okafor", "given": ["Chidi"]}],
                "birthDate": "1990-05-14",
            }
        )
    return encode_id("ehr-a", "Patient", made["id"])


@pytest.mark.parametrize("path", PAGES)
async def test_no_page_without_a_session(gw, path):
    r = await gw.api.get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/sign-in")
    fragment = await gw.api.get(path, headers={"HX-Request": "true"})
    assert fragment.status_code == 401
    assert "Sign in to the desk" in fragment.text
    assert fragment.headers["HX-Retarget"] == "body"


async def test_a_post_without_a_session_keeps_the_form_in_the_sign_in_page(gw):
    pid = await _patient(gw)
    r = await gw.api.post(
        f"/console/patients/{pid}/demographics",
        data={"csrf": "x", "phone": "555-0142", "back": f"/console/patients/{pid}"},
    )
    assert r.status_code == 401
    assert "what you typed is kept" in r.text
    assert "555-0142" in r.text  # in the sign-in form's body, never in a URL
    assert r.headers.get("location") is None


async def test_csrf_missing_or_wrong_is_refused_and_right_is_accepted(gw):
    pid = await _patient(gw)
    await sign_in(gw.api, "alice")
    page = await gw.api.get(f"/console/patients/{pid}")
    token = csrf_of(page.text)
    path = f"/console/patients/{pid}/demographics"
    missing = await gw.api.post(path, data={"phone": "555-0101"})
    wrong = await gw.api.post(path, data={"phone": "555-0101", "csrf": token[:-2] + "xx"})
    header_wrong = await gw.api.post(
        path, data={"phone": "555-0101"}, headers={"X-CSRF-Token": "no"}
    )
    assert [missing.status_code, wrong.status_code, header_wrong.status_code] == [403, 403, 403]
    card = await gw.api.get(f"/console/patients/{pid}")
    assert "555-0101" not in card.text  # nothing was written
    ok = await gw.api.post(path, data={"phone": "555-0101", "csrf": token})
    assert ok.status_code == 303
    assert "555-0101" in (await gw.api.get(f"/console/patients/{pid}")).text
    refused = [e for e in gw.audit.events if e.action == "console.csrf_refused"]
    assert len(refused) == 3 and {e.client_id for e in refused} == {"console:alice"}


async def test_sign_in_form_needs_its_own_token(gw):
    r = await gw.api.post(
        "/console/sign-in", data={"username": "alice", "password": PASSWORD, "csrf": "forged"}
    )
    assert r.status_code == 403
    assert COOKIE not in r.cookies


async def test_another_tenants_patient_is_not_found_by_editing_the_id(gw):
    pid = await _patient(gw)
    await sign_in(gw.api, "olga")  # tenant "other": its only EHR is ehr-c
    card = await gw.api.get(f"/console/patients/{pid}")
    assert card.status_code == 404
    assert "Okafor" not in card.text
    token = csrf_of((await gw.api.get("/console/today")).text)
    coverage = await gw.api.post(f"/console/patients/{pid}/coverage", data={"csrf": token})
    booking = await gw.api.get(f"/console/book?patient={pid}")
    # The other tenant has no provider NPI: its check is refused before any look-up.
    assert coverage.status_code in (404, 422) and booking.status_code == 404
    assert "Okafor" not in coverage.text + booking.text


async def test_sign_in_rotates_the_session_and_drops_the_old_one(gw):
    await sign_in(gw.api, "alice")
    before = gw.api.cookies[COOKIE]
    # A planted (or old) cookie: signing in again never keeps its id.
    again = await sign_in(gw.api, "alice")
    after = again.cookies[COOKIE]
    assert after != before
    stale = httpx.AsyncClient(transport=gw.api._transport, base_url=str(gw.api.base_url))
    async with stale:
        stale.cookies.set(COOKIE, before)
        r = await stale.get("/console/today")
    assert r.status_code == 303  # the old session no longer exists anywhere


async def test_the_cookie_is_signed_http_only_strict_and_secure(gw):
    r = await sign_in(gw.api, "alice")
    cookie = next(
        v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(COOKIE)
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "secure", "path=/"} <= flags
    assert "max-age" not in cookie.lower()  # a browser session cookie; the server ends it
    forged = httpx.AsyncClient(transport=gw.api._transport, base_url=str(gw.api.base_url))
    async with forged:
        session_id = gw.api.cookies[COOKIE].rsplit(".", 1)[0]
        forged.cookies.set(COOKIE, f"{session_id}.{'0' * 64}")
        assert (await forged.get("/console/today")).status_code == 303


async def test_failed_sign_ins_are_limited(gw):
    for _ in range(5):
        r = await sign_in(gw.api, "bob", "wrong password")
        assert r.status_code == 401
    locked = await sign_in(gw.api, "bob")  # the right password, too late
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text
    assert COOKIE not in locked.cookies
    tries = [e for e in gw.audit.events if e.action == "console.sign_in"]
    assert [e.outcome for e in tries] == ["denied"] * 5 + ["error"]  # 401s, then the 429
    assert {e.client_id for e in tries} == {"console:bob"}


async def test_sign_out_ends_the_session(gw):
    await sign_in(gw.api, "alice")
    old = gw.api.cookies[COOKIE]
    token = csrf_of((await gw.api.get("/console/today")).text)
    out = await gw.api.post("/console/sign-out", data={"csrf": token})
    assert out.status_code == 303
    gw.api.cookies.set(COOKIE, old)
    assert (await gw.api.get("/console/today")).status_code == 303


async def test_console_actions_are_audited_with_the_console_user(gw):
    pid = await _patient(gw)
    await sign_in(gw.api, "alice")
    await gw.api.get(f"/console/patients/{pid}")
    token = csrf_of((await gw.api.get("/console/patients")).text)
    await gw.api.post("/console/patients/search", data={"csrf": token, "q": "Okafor"})
    events = {(e.action, e.client_id, e.outcome) for e in gw.audit.events}
    assert ("patient.read", "console:alice", "success") in events
    assert ("patient.search", "console:alice", "success") in events
    assert ("console.sign_in", "console:alice", "success") in events
    read = next(e for e in gw.audit.events if e.action == "patient.read")
    assert pid in read.patient_ids


async def test_pages_are_not_cached_or_framed_and_search_terms_stay_out_of_urls(gw):
    await sign_in(gw.api, "alice")
    page = await gw.api.get("/console/patients")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # The search form posts its terms: no GET form carries a patient's name or number.
    assert re.search(r'<form[^>]*method="get"[^>]*action="/console/patients', page.text) is None
    assert 'action="/console/patients/search"' in page.text and 'method="post"' in page.text
