"""FHIR R4 date, dateTime and instant values: the one parser every package uses.

- ``parse_datetime``: an aware datetime from a dateTime/instant with a time and an
  offset; None for anything else (a time without an offset is ambiguous for scheduling).
- ``parse_partial_date``: a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD) kept at its precision.
- ``parse_date_floor``: a date or dateTime as a calendar date, partial dates widened.
- ``interval``: the half-open interval a date, dateTime or instant stands for (FHIR
  search, "date" type: ``1980-05`` is all of May 1980); values without an offset are
  read as UTC, as HAPI does on a server running in UTC.

Pure functions over strings; nothing here raises for bad input but ``interval``
(``ValueError``, for callers that must refuse a search value).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

__all__ = [
    "datetime_problem",
    "interval",
    "parse_date_floor",
    "parse_datetime",
    "parse_partial_date",
]

_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?"
)
# ASCII digits only ([0-9], not \d): fromisoformat must never see other digits.
_COMMON = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)
_fromisoformat = datetime.fromisoformat
_INTERVAL = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def parse_partial_date(value: Any) -> str | None:
    """FHIR date (YYYY, YYYY-MM, YYYY-MM-DD) kept at its precision, or None."""
    if not isinstance(value, str):
        return None
    m = _PARTIAL_DATE.fullmatch(value.strip())
    if m is None:
        return None
    year, month, day = m.groups()
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None
    return m.group(0)


def parse_date_floor(value: Any, *, end: bool = False) -> date | None:
    """A FHIR date or dateTime as a calendar date.

    Partial dates widen to the first day of their period, or to the last when
    ``end`` is set (a coverage ending "2025-06" covers all of June).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = _PARTIAL_DATE.match(text)
    if m is None:
        return None
    rest = text[m.end() :]
    if rest and not rest.startswith("T"):
        return None
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if day is not None and month is not None:
            return date(year, int(month), int(day))
        if month is not None:
            first = date(year, int(month), 1)
            if not end:
                return first
            nxt = date(year + (first.month == 12), first.month % 12 + 1, 1)
            return nxt - timedelta(days=1)
        return date(year, 12, 31) if end else date(year, 1, 1)
    except ValueError:
        return None


def parse_datetime(value: Any) -> datetime | None:
    """A FHIR dateTime/instant with a time and an offset (or Z) as an aware datetime.

    A dateTime without an offset is ambiguous for scheduling; it returns None
    and the caller decides (usually a warning, or an error for Slot.start).
    """
    if not isinstance(value, str):
        return None
    fast = _parse_common_datetime(value)
    if fast is not None:
        return fast
    m = _DATETIME.fullmatch(value.strip())
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    if tz is None:
        return None
    if tz == "Z":
        tzinfo = UTC
    else:
        sign = 1 if tz[0] == "+" else -1
        hours, minutes = int(tz[1:3]), int(tz[4:6])
        # FHIR: offsets run to 13:59, then exactly 14:00.
        if hours > 14 or minutes > 59 or (hours == 14 and minutes):
            return None
        tzinfo = timezone(sign * timedelta(hours=hours, minutes=minutes))
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), micro, tzinfo)
    except ValueError:
        return None


def _parse_common_datetime(value: str) -> datetime | None:
    """Fast path for the shapes servers send almost always.

    ``YYYY-MM-DDThh:mm:ss[.fff]Z`` and ``YYYY-MM-DDThh:mm:ss[.fff]+hh:mm`` go to the
    C parser (``fromisoformat``) after one shape check; anything else returns None
    and takes the regex path, so the accepted language is unchanged.
    """
    if _COMMON.fullmatch(value) is None:
        return None
    try:
        return _fromisoformat(value)
    except ValueError:
        return None


def datetime_problem(raw: Any) -> str:
    """Why ``parse_datetime`` refused a value, in words safe to log (no value)."""
    m = _DATETIME.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if m is not None and m.group(8) is None:
        return "no UTC offset; the time is ambiguous and was dropped"
    if isinstance(raw, str) and _PARTIAL_DATE.fullmatch(raw.strip()):
        return "a date without a time; dropped"
    return "not a FHIR dateTime; dropped"


def interval(text: str) -> tuple[datetime, datetime]:
    """[start, end) of what a FHIR date, dateTime or instant stands for; ValueError if
    malformed or outside the calendar."""
    match = _INTERVAL.fullmatch(text.strip())
    if match is None:
        raise ValueError("not a FHIR date, dateTime or instant")
    parts = match.groupdict()
    tz = _offset(parts["tz"])
    year = int(parts["year"])
    if parts["month"] is None:
        return datetime(year, 1, 1, tzinfo=tz), _next_year(year, tz)
    month = int(parts["month"])
    if parts["day"] is None:
        start = datetime(year, month, 1, tzinfo=tz)
        if month == 12:
            return start, _next_year(year, tz)
        return start, datetime(year, month + 1, 1, tzinfo=tz)
    day = int(parts["day"])
    if parts["hour"] is None:
        start = datetime(year, month, day, tzinfo=tz)
        return start, _plus(start, timedelta(days=1))
    hour, minute = int(parts["hour"]), int(parts["minute"])
    if parts["second"] is None:
        start = datetime(year, month, day, hour, minute, tzinfo=tz)
        return start, _plus(start, timedelta(minutes=1))
    second = int(parts["second"])
    fraction = parts["fraction"]
    if fraction is None:
        start = datetime(year, month, day, hour, minute, second, tzinfo=tz)
        return start, _plus(start, timedelta(seconds=1))
    micros = int(fraction[:6].ljust(6, "0"))
    start = datetime(year, month, day, hour, minute, second, micros, tzinfo=tz)
    return start, _plus(start, timedelta(microseconds=10 ** (6 - min(len(fraction), 6))))


_LAST = datetime.max.replace(tzinfo=UTC)


def _next_year(year: int, tz: timezone) -> datetime:
    return datetime(year + 1, 1, 1, tzinfo=tz) if year < 9999 else _LAST


def _plus(start: datetime, step: timedelta) -> datetime:
    """``start + step``, or the end of time where the calendar stops (year 9999)."""
    try:
        return start + step
    except OverflowError:
        return _LAST


def _offset(tz: str | None) -> timezone:
    if tz is None or tz == "Z":
        return UTC
    sign = -1 if tz[0] == "-" else 1
    hours, minutes = int(tz[1:3]), int(tz[4:6])
    if hours > 14 or minutes > 59:
        raise ValueError("offset out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
