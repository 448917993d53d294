"""Rules for values a client sends that the gateway forwards upstream.

Everything that leaves for an EHR or a payer is checked here first, strictly: text
without control characters, calendar dates that exist, instants inside the years the
gateway serves (so date arithmetic can't overflow past year 9999). A refusal is an
``InvalidRequest`` with its own code and words that never quote the value.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from ..params import FORBIDDEN_CHARACTERS
from .errors import DateOutOfRange, InvalidRequest

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "check_date",
    "check_date_year",
    "check_instant",
    "check_partial_date",
    "check_text",
]

# The years an instant or date may fall in; documented in the OpenAPI descriptions.
FIRST_YEAR = 1900
LAST_YEAR = 2199
_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_FORBIDDEN = re.compile(f"[{FORBIDDEN_CHARACTERS}]")


def check_text(name: str, value: str | None, *, max_length: int = 100) -> str | None:
    """``value`` as given, if it is 1 to ``max_length`` characters of text without control
    characters or invisible formatting (``params.TEXT_PATTERN``: the same rule the OpenAPI
    states) that could split a header, a log line or a query upstream."""
    if value is None:
        return None
    if not (1 <= len(value) <= max_length):
        raise InvalidRequest(f"{name} must be 1 to {max_length} characters")
    if _FORBIDDEN.search(value):
        raise InvalidRequest(f"{name} must not contain control or invisible characters")
    return value


def check_partial_date(name: str, value: str | None) -> str | None:
    """A FHIR date as a search value: YYYY, YYYY-MM or YYYY-MM-DD that exists."""
    if value is None:
        return None
    match = _PARTIAL_DATE.fullmatch(value)
    if match is None:
        raise InvalidRequest(f"{name} must be YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = match.groups()
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise InvalidRequest(f"{name} is not a calendar date") from None
    _in_years(name, int(year))
    return value


def check_date(name: str, value: date | None) -> date | None:
    if value is not None:
        _in_years(name, value.year)
    return value


def check_instant(name: str, value: datetime | None) -> datetime | None:
    """An aware instant within the served years (read in UTC, where it is compared)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidRequest(f"{name} needs a time zone offset (e.g. Z or -05:00)")
    # The year on the value's own clock, as the client wrote it (and the schema bounds it);
    # arithmetic on it stays far from the calendar's ends.
    _in_years(name, value.year)
    return value


def check_date_year(name: str, year: int) -> None:
    _in_years(name, year)


def _in_years(name: str, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise DateOutOfRange(f"{name} must fall in the years {FIRST_YEAR} to {LAST_YEAR}")
