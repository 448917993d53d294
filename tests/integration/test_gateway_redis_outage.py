"""Redis going away mid-run: the gateway keeps answering (uncached), says so, and recovers."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.app import create_app
from tests.support.asgi import running
from tests.support.gateway_env import auth, clinic, settings_for

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )


async def _until(check, tries: int = 100) -> None:
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met")


async def test_gateway_survives_redis_outage(hapi_base_urls, redis_url, tmp_path, monkeypatch):
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "outage-secret")
    base_a, base_b = hapi_base_urls
    c = await clinic(base_a, slots=2)
    port = _port()
    proc = _redis(port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    app = create_app(settings_for(base_a, base_b, url, audit_path=tmp_path / "audit.jsonl"))
    params = {
        "start": (c["start"] - timedelta(hours=1)).isoformat(),
        "end": (c["start"] + timedelta(hours=3)).isoformat(),
        "source": "ehr-a",
    }
    try:
        async with running(app) as api:
            runtime = app.state.runtime
            await _until(runtime.cache.ping)
            first = await api.get("/v1/slots", params=params, headers=auth())
            second = await api.get("/v1/slots", params=params, headers=auth())
            assert first.status_code == second.status_code == 200
            assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")

            proc.terminate()
            proc.wait(5)
            down = await api.get("/v1/slots", params=params, headers=auth())
            assert down.status_code == 200, down.text
            assert down.headers["X-Cache"] == "miss"
            assert [s["id"] for s in down.json()["items"]] == [
                s["id"] for s in first.json()["items"]
            ]
            ready = await api.get("/readyz")
            assert ready.status_code == 200 and ready.json()["cache"] == "degraded"
            metrics = (await api.get("/metrics")).text
            assert "frontdesk_cache_errors_total" in metrics

            proc = _redis(port, tmp_path)
            await _until(runtime.cache.ping)
            await api.get("/v1/slots", params=params, headers=auth())
            again = await api.get("/v1/slots", params=params, headers=auth())
            assert again.headers["X-Cache"] == "hit"
            assert (await api.get("/readyz")).json()["cache"] == "ok"
    finally:
        proc.terminate()
        proc.wait(5)
