"""Times as a desk says them: a date, or a date and time on the wall clock of the tenant.

``2026-12-07`` is that whole day in the tenant's time zone; ``2026-12-07T08:30`` is half
past eight there; a value with an offset (``Z``, ``-05:00``) means exactly that instant
and wins over the zone. Dates and times that don't exist on the calendar, and any other
shape, are refused with words, never quoting the value.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..params import DESK_TIME_PATTERN
from .errors import InvalidRequest
from .validation import check_date, check_date_year, check_instant

__all__ = ["day_bounds", "parse_desk_day", "parse_desk_time"]

_DESK_TIME = re.compile(DESK_TIME_PATTERN)
# The shape alone, so a year outside the served ones says so (date_out_of_range).
_SHAPE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)


def parse_desk_day(name: str, value: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise InvalidRequest(f"{name} must be a date, YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} is not a calendar date") from None
    check_date(name, day)
    return day


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[midnight, next midnight) of ``day`` on the zone's wall clock (23 or 25 hours on
    the days daylight saving time starts or ends)."""
    start = datetime.combine(day, time.min, zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, zone)


def parse_desk_time(name: str, value: str, zone: ZoneInfo, *, end: bool = False) -> datetime:
    """An aware instant. A date alone is the start of that day, or with ``end`` the start
    of the next one (an end date includes its day)."""
    if _SHAPE.fullmatch(value) is None:
        raise InvalidRequest(
            f"{name} must be a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDThh:mm, "
            "with an offset to mean an exact instant)"
        )
    check_date_year(name, int(value[:4]))
    if _DESK_TIME.fullmatch(value) is None:
        raise InvalidRequest(f"{name} is not a calendar date and time")
    if "T" not in value:
        first, after = day_bounds(parse_desk_day(name, value), zone)
        return after if end else first
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    check_instant(name, moment)
    return moment
