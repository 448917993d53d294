"""``frontdesk serve``: the gateway on a config file, or the sandbox when there is none."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import uvicorn

from gateway.app import create_app
from gateway.logs import configure_logging, get_logger
from gateway.settings import ConfigError, load_settings

__all__ = ["serve"]


def serve(config: Path | None, host: str, port: int, log_level: str = "INFO") -> int:
    configure_logging(log_level)
    log = get_logger("frontdesk.serve")
    if config is None:
        from simulators.sandbox import SANDBOX_CONSOLE_USER, build_sandbox

        api_key = os.environ.get("FRONTDESK_API_KEY") or secrets.token_urlsafe(24)
        password = os.environ.get("FRONTDESK_CONSOLE_PASSWORD") or secrets.token_urlsafe(12)
        sandbox = build_sandbox(api_key=api_key, console_password=password)
        app = create_app(
            sandbox.settings,
            transport_factory=sandbox.transport_factory,
            eligibility_transport_factory=sandbox.payer_transport_factory,
            prepare=sandbox.prepare,
        )
        log.warning("SANDBOX mode: simulated EHRs and payer, in-memory cache; not for real data")
        # Printed, not logged: the key is a credential and logs are shipped elsewhere.
        print(f"SANDBOX API key: {api_key}", file=sys.stderr, flush=True)
        print(
            f"Try: curl -H 'Authorization: Bearer {api_key}' "
            f"'http://{host}:{port}/v1/patients?family=Garcia'",
            file=sys.stderr,
            flush=True,
        )
        print(
            f"SANDBOX desk console: http://{host}:{port}/console  "
            f"user: {SANDBOX_CONSOLE_USER}  password: {password}",
            file=sys.stderr,
            flush=True,
        )
    else:
        try:
            settings = load_settings(config)
            settings.cache.hash_key.read()
        except ConfigError as exc:
            print(f"frontdesk: {exc}", file=sys.stderr)
            return 2
        app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    return 0
