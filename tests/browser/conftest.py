"""The desk console in a real browser: Debian's Chromium driven by Playwright (sync API),
the gateway served by uvicorn in a thread of this process (so a test can reach its
runtime, e.g. to end a session by idleness), axe-core injected into every screen.

In CI (CI=true) a missing Chromium or axe-core fails the run; elsewhere it skips with
how to install them (`make browser`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.servers import missing

# The same patience for assertions as for actions: on a loaded two-core machine a page
# can take seconds to arrive, which is not what these tests are about.
expect.set_options(timeout=15_000)

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".tools" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS", ROOT / ".run" / "console-screenshots"))
# Chromium's own background traffic (updates, sync, safe browsing) has nowhere to go here.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


# The desk's screen: readable at 1280x800. The console's CSP allows no inline script;
# the tests inject axe-core inline, so their contexts bypass it.
CONTEXT: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "bypass_csp": True}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, launched once per module (``playwright install`` can't
    download its own browser here: Playwright drives this executable). Module-scoped: the
    sync API runs an event loop on this thread while it is open, which the asyncio tests
    of later modules must not find there."""
    if not Path(CHROMIUM).exists():
        missing("Chromium", "run `make browser` (apt-get install chromium)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and its page for each test."""
    context = browser.new_context(**CONTEXT)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def axe_script() -> str:
    if not AXE.exists():
        missing("axe-core", "run `make browser` (npm ci into .tools/browser)")
    return AXE.read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    app: FastAPI

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime


class ThreadedServer:
    """uvicorn on a free loopback port, in a daemon thread with its own event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def screens(axe_script: str):
    """``screens(page, name)``: no serious or critical axe violation, and a screenshot."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def check(page: Any, name: str) -> None:
        page.add_script_tag(content=axe_script)
        violations = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                 .map(v => ({id: v.id, impact: v.impact, help: v.help,
                             nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
        )
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{name}: {bad}"
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    return check
