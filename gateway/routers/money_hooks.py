"""Money at the moments of the desk's day: a booking opens a good-faith estimate for an
uninsured or self-pay patient, a cancellation closes it, the worklist and check-in say
what to collect. None of it ever fails the booking, cancellation or check-in itself: a
good-faith estimate that could not be opened says so in a header and in the log, and
the desk finds it missing from ``GET /v1/gfe``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Response

from connectors import UpstreamError
from mappers import MappingError
from mappers.model import Appointment

from ..logs import get_logger
from ..money_schemas import CheckedIn
from ..schemas import AppointmentOut
from ..services import collect, gfe
from ..services.errors import ServiceError
from ..services.money_desk import MoneyDesk

__all__ = ["GFE_HEADER", "booked", "cancelled", "checked_in", "with_collect"]

log = get_logger(__name__)

GFE_HEADER: dict[str, Any] = {
    "Good-Faith-Estimate": {
        "schema": {"type": "string"},
        "description": "Uninsured or self-pay patients: the good-faith estimate the booking "
        "opened, `<id>; due=<instant>` (or `<id>; not-required`); `not-opened` when it "
        "could not be (see GET /v1/gfe).",
    }
}
_FAILURES = (ServiceError, UpstreamError, MappingError, TimeoutError)


async def booked(money: MoneyDesk, appointment: Appointment, response: Response) -> None:
    try:
        async with asyncio.timeout(money.deadline_seconds):
            record = await gfe.open_for_booking(money, appointment)
    except _FAILURES as exc:
        log.warning("gfe_open_failed", error=type(exc).__name__)
        money.on_gfe("failed")
        response.headers["Good-Faith-Estimate"] = "not-opened"
        return
    if record is None:
        money.on_gfe("insured")
        return
    money.on_gfe(record.status)
    due = f"due={record.due_at.isoformat()}" if record.due_at else record.status.replace("_", "-")
    response.headers["Good-Faith-Estimate"] = f"{record.id}; {due}"


async def cancelled(money: MoneyDesk, appointment_id: str) -> None:
    try:
        await gfe.cancel_for_appointment(money, appointment_id)
    except _FAILURES as exc:
        log.warning("gfe_cancel_failed", error=type(exc).__name__)


async def with_collect(money: MoneyDesk, items: list[AppointmentOut]) -> list[AppointmentOut]:
    return await collect.fill_collect(money, items)


async def checked_in(money: MoneyDesk, appointment: Appointment) -> CheckedIn:
    due = await collect.collect_for_appointment(money, appointment)
    return CheckedIn(**appointment.model_dump(), collect=due)
