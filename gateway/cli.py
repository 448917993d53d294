"""The ``frontdesk`` command line."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="frontdesk: one front-desk API over several EHRs.")


@app.callback()
def main() -> None:
    """frontdesk: FHIR front-desk gateway, seed loader and conformance kit."""
