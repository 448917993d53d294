"""Console users and sign-in for tests."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import httpx

from gateway.console.accounts import hash_password

PASSWORD = "correct horse battery staple"


@cache
def _hash(password: str) -> str:
    return hash_password(password)  # Argon2 is slow on purpose: hash once per run


def console_settings(**extra: Any) -> dict[str, Any]:
    """Console users of settings_for's two tenants: desks, a supervisor, another tenant's desk."""
    users = [
        ("alice", "general", "desk"),
        ("bob", "general", "desk"),
        ("sam", "general", "supervisor"),
        ("olga", "other", "desk"),
    ]
    return {
        "users": [
            {"username": u, "password_hash": _hash(PASSWORD), "tenant": t, "role": r}
            for u, t, r in users
        ],
        **extra,
    }


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/console/sign-in")
    return await client.post(
        "/console/sign-in",
        data={
            "csrf": csrf_of(form.text),
            "username": username,
            "password": password,
            "next": "/console/today",
        },
    )
