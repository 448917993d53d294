"""Mount the desk console on the gateway app: its pages, its static assets, its errors."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from .errors import install_console_errors
from .routes import access, batch, booking, coverage, money, patients, today

__all__ = ["install_console"]

_STATIC = Path(__file__).parent / "static"


def install_console(app: FastAPI) -> None:
    for module in (access, today, patients, booking, coverage, money, batch):
        app.include_router(module.router)
    app.mount("/console/static", StaticFiles(directory=_STATIC), name="console-static")
    install_console_errors(app)
