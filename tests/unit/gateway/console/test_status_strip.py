"""The status strip on every console page: each EHR and each payer with a real-time
eligibility service, as its circuit breaker sees it."""

from __future__ import annotations

import re

import pytest

from simulators.sandbox import SANDBOX_CONSOLE_USER, build_sandbox
from tests.support.asgi import running
from tests.support.console_env import sign_in
from tests.support.sandbox_env import sandbox_app

PASSWORD = "strip-console-password"


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-secret")


def _strip(html: str) -> str:
    found = re.search(r'<div class="strip" role="status"[^>]*>(.*?)</div>', html, re.S)
    assert found is not None, "no status strip on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


async def test_the_strip_says_when_a_payer_is_not_answering() -> None:
    sandbox = build_sandbox(api_key="strip-tests", console_password=PASSWORD)
    app = sandbox_app(sandbox)
    async with running(app, "https://gateway.test") as client:
        await sign_in(client, SANDBOX_CONSOLE_USER, PASSWORD)
        tenant = sandbox.settings.tenants[0]
        payers = app.state.runtime.coverage.payer_breakers[tenant.id]
        assert payers, "the sandbox has a payer with a real-time service"
        payer_id, breaker = next(iter(payers.items()))
        name = next(p.name for p in tenant.payers if p.id == payer_id)
        shown = _strip((await client.get("/console/today")).text)
        assert f"Payers: {name} up" in shown and "ehr-a up" in shown
        for _ in range(20):  # the payer keeps failing: its breaker opens
            breaker.record_failure()
        shown = _strip((await client.get("/console/today")).text)
        assert f"{name} down" in shown and "ehr-a up" in shown
