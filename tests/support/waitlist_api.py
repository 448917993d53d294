"""The waitlist through a gateway's API, as the HAPI tests use it: join, read a slot's
offers, wait for one; and the source watcher's starting point in Redis."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from typing import Any

import httpx
import redis.asyncio as aioredis

from tests.support.gateway_env import auth


async def join(api: httpx.AsyncClient, patient: str, visit: str, **fields: Any) -> str:
    """A week's window from today, no notice; the new entry's id."""
    today = date.today()
    r = await api.post(
        "/v1/waitlist",
        json={
            "patient_id": patient,
            "service_type": visit,
            "earliest": today.isoformat(),
            "latest": (today + timedelta(days=7)).isoformat(),
            "min_notice_hours": 0,
            **fields,
        },
        headers=auth(),
    )
    assert r.status_code == 201, r.text
    entry_id: str = r.json()["id"]
    return entry_id


async def offers_for(api: httpx.AsyncClient, slot: str) -> list[dict[str, Any]]:
    r = await api.get("/v1/waitlist/offers", headers=auth())
    assert r.status_code == 200, r.text
    return [o for o in r.json()["items"] if o["slot_id"] == slot]


async def wait_for_offer(
    api: httpx.AsyncClient, slot: str, seconds: float, *, entry: str | None = None
) -> tuple[dict[str, Any], float]:
    """The slot's offer (to ``entry`` if given) and how long it took to appear."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        found = [o for o in await offers_for(api, slot) if entry is None or o["entry_id"] == entry]
        if found:
            return found[0], time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"no offer for the slot within {seconds}s")


async def forget_cursor(redis_url: str, tenant: str, source: str) -> None:
    """Drop the watcher's cursor an earlier test left: a watcher resuming from it would
    first replay (or, past its backlog limit, skip) every change made since."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.hdel(f"fd:watch-cursor:{tenant}", source)  # type: ignore[misc]
    finally:
        await client.aclose()


async def wait_cursor(redis_url: str, tenant: str, source: str, seconds: float = 30.0) -> None:
    """The watcher has its starting point: changes from now on are news to it."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + seconds
        while not await client.hexists(f"fd:watch-cursor:{tenant}", source):  # type: ignore[misc]
            assert time.monotonic() < deadline, "the watcher never took its starting point"
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
