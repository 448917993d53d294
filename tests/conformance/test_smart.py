"""SMART Backend Services: the kit authenticates every request with the given
credentials and checks the authorization server (a SMART double over the sandbox)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from joserfc.jwk import ECKey, RSAKey
from typer.testing import CliRunner

from conformance import KitConfig, Mode, Report, SmartCredentials, Status, run_kit
from conformance.report_json import to_json
from connectors import PROFILES
from frontdesk.cli import app
from simulators.fhir_server import create_fhir_app
from tests.conformance.conftest import blocking, statuses
from tests.conformance.smart_double import SmartDefect, SmartGuard

BASE = "http://smart.test/fhir"
CLIENT_ID = "frontdesk-kit"
KID = "kit-key-1"
KEY = ECKey.generate_key("P-384")
SMART_CHECKS = {
    "smart.configuration",
    "smart.token",
    "smart.token-required",
    "smart.assertion-replay",
    "smart.unregistered-key",
}

CAUGHT_BY = {
    SmartDefect.CONFIG_WITHOUT_PRIVATE_KEY_JWT: "smart.configuration",
    SmartDefect.REPLAY_ACCEPTED: "smart.assertion-replay",
    SmartDefect.ANY_KEY_ACCEPTED: "smart.unregistered-key",
    SmartDefect.OPEN_WITHOUT_TOKEN: "smart.token-required",
    SmartDefect.TOKEN_WITHOUT_EXPIRY: "smart.token",
}


def guard(defect: SmartDefect | None = None, key: RSAKey | ECKey = KEY) -> SmartGuard:
    public = type(key).import_key(key.as_dict(private=False))
    return SmartGuard(
        create_fhir_app(), client_id=CLIENT_ID, public_key=public, kid=KID, defect=defect
    )


@contextmanager
def serving(server: SmartGuard) -> Iterator[str]:
    """`server` on a free loopback port (the CLI talks real HTTP); yields its FHIR base."""
    config = uvicorn.Config(server, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    http = uvicorn.Server(config)
    thread = threading.Thread(target=http.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not http.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    port = http.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        http.should_exit = True
        thread.join(timeout=10)


async def run(server: SmartGuard, key: RSAKey | ECKey | None = KEY, **kw) -> Report:
    smart = SmartCredentials(CLIENT_ID, key, KID) if key is not None else None
    config = KitConfig(BASE, profile=PROFILES["hapi"], mode=Mode.WRITE, smart=smart, **kw)
    return await run_kit(config, transport=httpx.ASGITransport(app=server))


async def test_with_credentials_every_request_is_authenticated_and_smart_passes():
    server = guard()
    report = await run(server, show_phi=True)
    assert blocking(report) == set(), [(r.id, r.reason) for r in report.results if r.blocking]
    assert {i: s for i, s in statuses(report).items() if i in SMART_CHECKS} == dict.fromkeys(
        SMART_CHECKS, "pass"
    )
    # Only the probe without a token met a 401: the rest of the run carried tokens.
    unauthorised = {e.check_id for r in report.results for e in r.exchanges if e.status == 401}
    assert unauthorised <= {
        "smart.token-required",
        "smart.assertion-replay",
        "smart.unregistered-key",
    }
    assert server.refused == ["jti replayed", "signature"]
    assert report.leftovers == []
    # Tokens never reach a report, even one that keeps PHI.
    text = to_json(report)
    assert server.tokens and not any(token in text for token in server.tokens)


async def test_an_rsa_key_signs_rs384_and_passes():
    key = RSAKey.generate_key(2048)
    report = await run(guard(key=key), key=key, only=frozenset({"smart"}))
    assert statuses(report) == dict.fromkeys(SMART_CHECKS, "pass")


@pytest.mark.parametrize("defect", list(SmartDefect))
async def test_each_authorization_defect_fails_exactly_its_check(defect):
    report = await run(guard(defect))
    assert blocking(report) == {CAUGHT_BY[defect]}, [
        (r.id, r.reason) for r in report.results if r.blocking
    ]


async def test_without_credentials_the_round_trip_checks_skip_with_the_reason():
    report = await run(guard(), key=None, only=frozenset({"smart"}))
    by_id = {r.id: r for r in report.results}
    assert by_id["smart.configuration"].status is Status.PASS
    for check_id in SMART_CHECKS - {"smart.configuration"}:
        assert by_id[check_id].status is Status.SKIP
        assert "no SMART credentials given" in (by_id[check_id].reason or "")


async def test_a_server_without_smart_skips_the_configuration_check(sandbox_report):
    result = next(r for r in sandbox_report.results if r.id == "smart.configuration")
    assert result.status is Status.SKIP
    assert "offers no SMART configuration" in (result.reason or "")


def test_cli_documents_the_smart_options():
    result = CliRunner().invoke(app, ["conformance", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--smart-client-id", "--smart-key", "--smart-kid", "--smart-scope"):
        assert option in result.output


def test_cli_refuses_incomplete_or_unusable_smart_options(tmp_path):
    def conformance(*args: str):
        return CliRunner().invoke(
            app, ["conformance", "--base-url", "http://127.0.0.1:9/fhir", *args]
        )

    partial = conformance("--smart-client-id", CLIENT_ID)
    assert partial.exit_code == 2
    assert "go together" in partial.output
    public = tmp_path / "public.pem"
    public.write_bytes(KEY.as_pem(private=False))
    not_private = conformance(
        "--smart-client-id", CLIENT_ID, "--smart-key", str(public), "--smart-kid", KID
    )
    assert not_private.exit_code == 2
    assert "private key" in not_private.output
    other_curve = tmp_path / "p256.pem"
    other_curve.write_bytes(ECKey.generate_key("P-256").as_pem(private=True))
    wrong = conformance(
        "--smart-client-id", CLIENT_ID, "--smart-key", str(other_curve), "--smart-kid", KID
    )
    assert wrong.exit_code == 2
    assert "P-384" in wrong.output


def test_cli_runs_authenticated_against_a_smart_server(tmp_path):
    key_file = tmp_path / "client.pem"
    key_file.write_bytes(KEY.as_pem(private=True))
    with serving(guard()) as base_url:
        result = CliRunner().invoke(
            app,
            [
                "conformance",
                "--base-url",
                base_url,
                "--vendor",
                "hapi",
                "--write",
                "--smart-client-id",
                CLIENT_ID,
                "--smart-key",
                str(key_file),
                "--smart-kid",
                KID,
                "--report-json",
                str(tmp_path / "k.json"),
            ],
        )
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "k.json").read_text())
    smart = {c["id"]: c["status"] for c in doc["checks"] if c["group"] == "smart"}
    assert smart == dict.fromkeys(SMART_CHECKS, "pass")
    assert doc["summary"]["blocking"] == 0
