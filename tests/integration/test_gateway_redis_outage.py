"""Redis going away mid-run: the gateway keeps answering (uncached), says so, and recovers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.app import create_app
from tests.support.asgi import running
from tests.support.gateway_env import OPS_KEY, auth, clinic, settings_for
from tests.support.redis_proc import PrivateRedis, until

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


async def test_gateway_survives_redis_outage(hapi_base_urls, redis_url, tmp_path, monkeypatch):
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "outage-secret")
    base_a, base_b = hapi_base_urls
    c = await clinic(base_a, slots=2)
    server = PrivateRedis(tmp_path)
    server.start()
    url = server.url
    app = create_app(settings_for(base_a, base_b, url, audit_path=tmp_path / "audit.jsonl"))
    params = {
        "start": (c["start"] - timedelta(hours=1)).isoformat(),
        "end": (c["start"] + timedelta(hours=3)).isoformat(),
        "source": "ehr-a",
    }
    try:
        async with running(app) as api:
            runtime = app.state.runtime
            await until(runtime.cache.ping)
            first = await api.get("/v1/slots", params=params, headers=auth())
            second = await api.get("/v1/slots", params=params, headers=auth())
            assert first.status_code == second.status_code == 200
            assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")

            server.stop()
            down = await api.get("/v1/slots", params=params, headers=auth())
            assert down.status_code == 200, down.text
            assert down.headers["X-Cache"] == "miss"
            assert [s["id"] for s in down.json()["items"]] == [
                s["id"] for s in first.json()["items"]
            ]
            ready = await api.get("/readyz", headers=auth(OPS_KEY))
            assert ready.status_code == 200 and ready.json()["cache"] == "degraded"
            assert (await api.get("/readyz")).json() == {"ready": True}
            metrics = (await api.get("/metrics")).text
            assert "frontdesk_cache_errors_total" in metrics

            server.start()
            await until(runtime.cache.ping)
            await api.get("/v1/slots", params=params, headers=auth())
            again = await api.get("/v1/slots", params=params, headers=auth())
            assert again.headers["X-Cache"] == "hit"
            assert (await api.get("/readyz", headers=auth(OPS_KEY))).json()["cache"] == "ok"
    finally:
        server.stop()
