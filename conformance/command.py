"""The work behind `frontdesk conformance`: build the config, run, print, write reports.

Also `assert_conformant` for teams that prefer running the kit from pytest.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from rich.console import Console

from conformance.console import ConsoleProgress, print_summary
from conformance.context import KitConfig, SmartCredentials
from conformance.model import Mode
from conformance.report_html import to_html
from conformance.report_json import to_json
from conformance.report_junit import to_junit
from conformance.runner import Report, run_kit
from connectors import PROFILES

__all__ = ["assert_conformant", "auth_headers", "run_command", "smart_credentials"]

TOKEN_ENV = "FRONTDESK_CONFORMANCE_TOKEN"


def auth_headers(auth: str | None) -> dict[str, str]:
    """`bearer:TOKEN`, `bearer:env` (token from $FRONTDESK_CONFORMANCE_TOKEN) or
    `basic:USER:PASSWORD`. Prefer the env form: command lines end up in shell history."""
    if not auth:
        return {}
    kind, _, value = auth.partition(":")
    if kind == "bearer":
        token = os.environ.get(TOKEN_ENV, "") if value == "env" else value
        if not token:
            raise ValueError(f"--auth bearer:env needs ${TOKEN_ENV}")
        return {"Authorization": f"Bearer {token}"}
    if kind == "basic":
        user, _, password = value.partition(":")
        return {"Authorization": httpx.BasicAuth(user, password)._auth_header}
    raise ValueError("--auth must be bearer:TOKEN, bearer:env or basic:USER:PASSWORD")


def smart_credentials(
    client_id: str | None,
    key_path: Path | None,
    kid: str | None,
    *,
    scope: str = "system/*.rs",
    jku: str | None = None,
) -> SmartCredentials | None:
    """SMART Backend Services credentials from the CLI options (None when none given).

    The key is a PEM private key file: RSA (signs RS384) or EC P-384 (signs ES384)."""
    if client_id is None and key_path is None and kid is None:
        return None
    if not (client_id and key_path and kid):
        raise ValueError("--smart-client-id, --smart-key and --smart-kid go together")
    try:
        pem = key_path.read_bytes()
    except OSError as exc:
        raise ValueError(f"--smart-key: cannot read {key_path} ({exc.strerror})") from None
    for kind in (RSAKey, ECKey):
        try:
            key = kind.import_key(pem)
        except (JoseError, ValueError, TypeError):
            continue
        if not key.is_private:
            raise ValueError("--smart-key must hold the private key (its public key is registered)")
        if isinstance(key, ECKey) and key.curve_name != "P-384":
            raise ValueError("--smart-key: an EC key must be on P-384 (ES384)")
        return SmartCredentials(client_id, key, kid, scope=scope, jku=jku)
    raise ValueError("--smart-key is not a PEM RSA or EC private key")


def write_reports(
    report: Report, *, json_path: Path | None, junit_path: Path | None, html_path: Path | None
) -> None:
    for path, render in ((json_path, to_json), (junit_path, to_junit), (html_path, to_html)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(report), encoding="utf-8")


def run_command(
    *,
    base_url: str,
    vendor: str,
    write: bool,
    only: list[str],
    auth: str | None = None,
    show_phi: bool = False,
    scope_tag: str | None = None,
    smart: SmartCredentials | None = None,
    json_path: Path | None = None,
    junit_path: Path | None = None,
    html_path: Path | None = None,
    console: Console | None = None,
) -> int:
    """Run the kit; 0 when no error-severity check failed, 1 when one did, 2 on bad usage."""
    console = console or Console()
    if vendor not in PROFILES:
        console.print(f"[red]unknown vendor {vendor!r}; one of {', '.join(PROFILES)}[/]")
        return 2
    try:
        headers = auth_headers(auth)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    if headers and smart is not None:
        console.print("[red]give --auth or the --smart-* options, not both[/]")
        return 2
    config = KitConfig(
        base_url=base_url,
        profile=PROFILES[vendor],
        mode=Mode.WRITE if write else Mode.READ_ONLY,
        only=frozenset(only),
        show_phi=show_phi,
        scope_tag=scope_tag,
        smart=smart,
    )
    console.print(f"frontdesk conformance: {base_url} ({vendor}, {config.mode.value} mode)")
    report = asyncio.run(run_kit(config, headers=headers, progress=ConsoleProgress(console)))
    print_summary(console, report)
    write_reports(report, json_path=json_path, junit_path=junit_path, html_path=html_path)
    return 1 if report.failed else 0


async def assert_conformant(config: KitConfig, **kw: object) -> Report:
    """Run the kit and raise AssertionError listing every failed error-severity check.

    For a pytest suite::

        async def test_ehr_is_ready():
            await assert_conformant(KitConfig(URL, profile=PROFILES["hapi"], mode=Mode.WRITE))
    """
    report = await run_kit(config, **kw)  # type: ignore[arg-type]
    blocking = [f"{r.id}: {r.reason}" for r in report.results if r.blocking]
    if blocking:
        raise AssertionError("conformance failures:\n" + "\n".join(blocking))
    return report
