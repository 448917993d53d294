"""The ``frontdesk`` command line."""

from __future__ import annotations

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
    from gateway.serve import serve as run

    raise typer.Exit(run(config, host, port))
