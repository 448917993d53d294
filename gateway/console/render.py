"""Jinja2 templates of the console: one per page, one per fragment (included by the page),
so an htmx swap and a full page without JavaScript show the same markup."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

__all__ = ["Templates"]

_LANGUAGES = {
    "en": "English",
    "es": "Spanish",
    "pt": "Portuguese",
    "pt-BR": "Portuguese (Brazil)",
    "zh": "Chinese",
    "vi": "Vietnamese",
    "ko": "Korean",
    "ar": "Arabic",
    "ru": "Russian",
    "fr": "French",
    "ht": "Haitian Creole",
    "pl": "Polish",
    "tl": "Tagalog",
}


def _clock(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%-I:%M %p")


def _day(moment: datetime | date | None, zone: str) -> str:
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        moment = moment.astimezone(ZoneInfo(zone)).date()
    return moment.strftime("%a %-d %b %Y")


def _money(amount: Any) -> str:
    return "" if amount is None else f"${amount:,.2f}"


def _percent(value: Any) -> str:
    return "" if value is None else f"{value * 100:.0f}%"


def _language(code: str | None) -> str:
    if not code:
        return ""
    return _LANGUAGES.get(code) or _LANGUAGES.get(code.split("-")[0], code)


class Templates:
    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("gateway.console", "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            clock=_clock, day=_day, money=_money, percent=_percent, language=_language
        )

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.env.get_template(name).render(context)
