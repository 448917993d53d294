"""Signing in to the console as a desk user would, by keyboard."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def keys_ready(page: Page) -> None:
    """Wait until the page's script listens for the shortcut keys: a key pressed before
    that does nothing, as it would for a person on a slow connection."""
    expect(page.locator("html[data-keys='ready']")).to_have_count(1)


def sign_in(page: Page, url: str, user: str, password: str, path: str = "/console") -> None:
    page.goto(url + path)
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    # Keyboard only: the user name field has the focus.
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    keys_ready(page)
