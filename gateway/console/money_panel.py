"""The patient card's cost panel: what the patient owes (where the EHR tells it), what to
collect at their next visit, their good-faith estimates, and the estimate form. The same
services as API v1 (``services.balance``, ``collect``, ``gfe``, ``estimates``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors import UpstreamError
from mappers import MappingError
from mappers.model import Appointment

from ..services import balance, collect, gfe
from ..services.errors import ServiceError
from ..services.money_desk import MoneyDesk
from .desk import Desk

__all__ = ["money_desk", "money_panel"]


def money_desk(desk: Desk) -> MoneyDesk:
    return desk.runtime.money[desk.user.tenant]


async def money_panel(desk: Desk, patient_id: str, upcoming: list[Appointment]) -> dict[str, Any]:
    """The panel's facts, each in words a desk can read out; nothing here fails the card."""
    money = money_desk(desk)
    owed: dict[str, Any]
    try:
        found = await balance.patient_balance(
            money.sources,
            patient_id,
            deadline_seconds=desk.runtime.settings.source_deadline_seconds,
            wall=money.wall,
        )
        owed = {"amount": found.self_pay_balance, "says": found.says}
    except balance.BalanceUnavailable as exc:
        owed = {"amount": None, "says": exc.detail}
    except (UpstreamError, MappingError, TimeoutError):
        owed = {"amount": None, "says": "the EHR didn't answer about the balance: try again"}
    now = datetime.now(money.zone)
    coming = [a for a in upcoming if a.start is not None and a.start >= now]
    next_visit = min(coming, key=lambda a: a.start or now) if coming else None
    if next_visit is None:
        due = None
    else:
        due = await collect.collect_for_appointment(money, next_visit)
    try:
        estimates = await gfe.list_for_patient(money, patient_id)
        gfe_words = None
    except ServiceError as exc:
        estimates, gfe_words = [], exc.detail
    return {
        "owed": owed,
        "next_visit": next_visit,
        "collect": due,
        "gfes": estimates,
        "gfe_words": gfe_words,
        "visit_types": money.book.visit_types,
        "today": now.date(),
    }
