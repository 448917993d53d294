"""A bug answers a bare 500 problem; the log says where (frame names), never what."""

from __future__ import annotations

import io

import pytest

from gateway.app import create_app
from gateway.logs import configure_logging
from tests.support.asgi import running
from tests.support.gateway_env import settings_for


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-secret")


def _explode() -> None:
    raise ValueError("patient Jane Doe born 1970-01-01 at /srv/secret/path.py")


async def test_an_unhandled_error_is_contained_and_logged_by_frame_names_only(tmp_path):
    logs = io.StringIO()
    configure_logging("DEBUG", stream=logs)
    app = create_app(
        settings_for(
            "http://ehr-a.test/fhir", "http://ehr-b.test/fhir", None, audit_path=tmp_path / "a"
        )
    )

    async def broken() -> None:
        _explode()

    app.add_api_route("/v1/broken", broken)
    try:
        # ASGITransport re-raises what escapes the app: reaching the asserts means nothing did.
        async with running(app) as api:
            r = await api.get("/v1/broken")
    finally:
        configure_logging("INFO")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "internal_error"
    assert "Jane" not in r.text
    text = logs.getvalue()
    assert "unhandled_error" in text and "test_contained_errors._explode" in text
    for leak in ("Jane", "1970-01-01", "/srv/secret", "Traceback", 'raise ValueError("'):
        assert leak not in text
