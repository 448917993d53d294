"""The ``frontdesk`` command line."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="frontdesk: one front-desk API over several EHRs.")


@app.callback()
def main() -> None:
    """frontdesk: FHIR front-desk gateway, seed loader and conformance kit."""


@app.command()
def serve(
    config: Annotated[
        Path | None,
        typer.Option(help="YAML configuration; without it the gateway runs the SANDBOX"),
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Run the gateway (on the sandbox when no --config is given)."""
    from frontdesk.serve import serve as run

    raise typer.Exit(run(config, host, port))


@app.command()
def worker(
    config: Annotated[Path, typer.Option(help="YAML configuration (the API's; needs Redis)")],
    concurrency: Annotated[
        int | None,
        typer.Option(help="items checked at once (default: coverage_batch_concurrency)"),
    ] = None,
) -> None:
    """Run batch verification workers (the night-before coverage checks) until stopped."""
    from frontdesk.worker import work

    raise typer.Exit(work(config, concurrency))


@app.command()
def seed(
    base_url: Annotated[
        str, typer.Option(help="FHIR R4 base URL, e.g. http://127.0.0.1:8081/fhir")
    ],
    profile: Annotated[str, typer.Option(help="which synthetic EHR: ehr-a or ehr-b")] = "ehr-a",
    seed: Annotated[int, typer.Option(help="random seed; same seed, same data")] = 7,
    date: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="reference date of the slot window (default today)"
        ),
    ] = None,
    wait: Annotated[
        float, typer.Option(help="seconds to wait for the server to answer /metadata first")
    ] = 0.0,
) -> None:
    """Load deterministic synthetic data into a FHIR server (idempotent: PUTs with stable ids)."""
    import asyncio

    from connectors import UpstreamError
    from simulators.seed import PROFILES
    from simulators.seed.run import format_report, seed_server

    if profile not in PROFILES:
        typer.echo(f"frontdesk seed: unknown profile {profile!r} ({', '.join(PROFILES)})", err=True)
        raise typer.Exit(2)
    try:
        report = asyncio.run(
            seed_server(
                base_url, profile, seed=seed, today=date.date() if date else None, wait_seconds=wait
            )
        )
    except UpstreamError as exc:
        typer.echo(f"frontdesk seed: {base_url}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(format_report(report))


@app.command()
def conformance(
    base_url: Annotated[str, typer.Option(help="FHIR R4 base URL of the server to test")],
    vendor: Annotated[
        str, typer.Option(help="vendor profile: generic, hapi, epic or oracle-health")
    ] = "generic",
    write: Annotated[
        bool,
        typer.Option(
            "--write/--read-only",
            help="write mode creates (and removes) its own tagged fixtures; read-only "
            "tests what the server already holds",
        ),
    ] = False,
    only: Annotated[
        list[str] | None, typer.Option(help="run only this group or check id (repeatable)")
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option(help="bearer:TOKEN, bearer:env ($FRONTDESK_CONFORMANCE_TOKEN) or basic:U:P"),
    ] = None,
    report_json: Annotated[Path | None, typer.Option(help="write the JSON report here")] = None,
    junit: Annotated[Path | None, typer.Option(help="write JUnit XML here")] = None,
    html: Annotated[Path | None, typer.Option(help="write the HTML report here")] = None,
    show_phi: Annotated[
        bool, typer.Option(help="keep names, birth dates and identifiers in reports (private use)")
    ] = False,
    scope_tag: Annotated[
        str | None,
        typer.Option(help="read-only: test only resources with this meta.tag (system|code)"),
    ] = None,
    smart_client_id: Annotated[
        str | None,
        typer.Option(
            help="SMART Backend Services client_id registered with the server's authorization "
            "service; with --smart-key and --smart-kid every request carries a token and the "
            "smart checks run the token round trip"
        ),
    ] = None,
    smart_key: Annotated[
        Path | None,
        typer.Option(
            help="PEM file with the client's private key (RSA signs RS384, EC P-384 signs ES384)"
        ),
    ] = None,
    smart_kid: Annotated[
        str | None, typer.Option(help="kid of that key in the client's registered JWK Set")
    ] = None,
    smart_scope: Annotated[
        str, typer.Option(help="scopes to request (SMART v2 system scopes)")
    ] = "system/*.rs",
    smart_jku: Annotated[
        str | None,
        typer.Option(help="JWK Set URL registered for the client (sent as the jku header)"),
    ] = None,
) -> None:
    """Check a FHIR server for front-desk readiness; exit 1 when an error-severity check fails."""
    from conformance.command import run_command, smart_credentials

    try:
        smart = smart_credentials(
            smart_client_id, smart_key, smart_kid, scope=smart_scope, jku=smart_jku
        )
    except ValueError as exc:
        typer.echo(f"frontdesk conformance: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(
        run_command(
            base_url=base_url,
            vendor=vendor,
            write=write,
            only=only or [],
            auth=auth,
            show_phi=show_phi,
            scope_tag=scope_tag,
            smart=smart,
            json_path=report_json,
            junit_path=junit,
            html_path=html,
        )
    )


index_app = typer.Typer(no_args_is_help=True, help="The person index: one patient across EHRs.")
app.add_typer(index_app, name="index")


def _settings_or_exit(config: Path) -> object:
    from gateway.settings import ConfigError, load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(f"frontdesk index: {exc}", err=True)
        raise typer.Exit(2) from None


@index_app.command("build")
def index_build(
    config: Annotated[Path, typer.Option(help="the gateway's YAML configuration")],
    tenant: Annotated[str | None, typer.Option(help="one tenant (default: all)")] = None,
    full: Annotated[
        bool, typer.Option(help="relink everything (default: what changed since the last run)")
    ] = False,
    backend: Annotated[str, typer.Option(help="duckdb (one machine) or spark")] = "duckdb",
    queue: Annotated[
        bool, typer.Option(help="queue the build for the batch workers instead (needs Redis)")
    ] = False,
) -> None:
    """Read every Patient of each EHR ($export, else paged search), link them with Splink
    and store the person clusters in Redis; or index only what changed."""
    import asyncio

    from frontdesk.index_command import queue_build, run_build, with_runtime
    from gateway.identity.build import BuildRunning
    from gateway.runtime import Runtime
    from gateway.settings import Settings

    settings = _settings_or_exit(config)
    assert isinstance(settings, Settings)
    if queue:
        if not settings.cache.redis_url:
            typer.echo("frontdesk index build --queue: the queue lives in Redis", err=True)
            raise typer.Exit(2)
        queued = asyncio.run(
            with_runtime(settings, lambda rt: queue_build(rt, tenant=tenant, full=full))
        )
        typer.echo("queued" if queued else "a build is already queued or running")
        return
    spark = None
    if backend == "spark":
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location

        spark = (
            SparkSession.builder.appName("frontdesk-index")
            .config("spark.jars", similarity_jar_location())
            .getOrCreate()
        )

    async def work(runtime: Runtime) -> list[str]:
        """Build each tenant in turn; the tenants whose build was already running."""
        busy: list[str] = []
        tenants = [tenant] if tenant else [t.id for t in settings.tenants]
        for tenant_id in tenants:
            try:
                report = await run_build(
                    runtime, tenant_id, full=full, backend=backend, spark=spark
                )
            except BuildRunning as exc:
                typer.echo(f"frontdesk index build: {tenant_id}: {exc}; try again later", err=True)
                busy.append(tenant_id)
                continue
            typer.echo(
                f"{tenant_id}: {'full' if report.full else 'incremental'} build, "
                f"{report.records} records, {report.clusters} people, "
                f"{report.linked_records} linked records, {report.seconds:.1f}s "
                f"({', '.join(f'{s}: {m}' for s, m in report.methods.items())})"
            )
        return busy

    if asyncio.run(with_runtime(settings, work)):
        raise typer.Exit(1)


@index_app.command("train")
def index_train(
    out: Annotated[Path, typer.Option(help="directory for settings.json and policy.json")],
    config: Annotated[Path | None, typer.Option(help="the gateway's YAML configuration")] = None,
    tenant: Annotated[str | None, typer.Option(help="whose records to learn from")] = None,
    synthetic: Annotated[
        bool, typer.Option(help="learn from the corruption model's synthetic EHRs instead")
    ] = False,
) -> None:
    """Estimate the match model (m and u of each comparison level, the prior) without
    labels; point identity.model_dir at the result."""
    import asyncio

    from frontdesk.index_command import run_train, train_synthetic, with_runtime
    from gateway.settings import Settings

    if synthetic:
        typer.echo(f"trained on {train_synthetic(out)} synthetic records -> {out}")
        return
    if config is None:
        typer.echo("frontdesk index train: give --config (or --synthetic)", err=True)
        raise typer.Exit(2)
    settings = _settings_or_exit(config)
    assert isinstance(settings, Settings)
    tenant_id = tenant or settings.tenants[0].id

    async def work(runtime: object) -> int:
        return await run_train(runtime, tenant_id, out)  # type: ignore[arg-type]

    count = asyncio.run(with_runtime(settings, work))
    typer.echo(f"trained on {count} records of {tenant_id} -> {out}")
