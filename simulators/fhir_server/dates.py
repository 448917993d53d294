"""FHIR date, dateTime and instant values as ranges, and the date search prefixes.

A FHIR date stands for the whole interval its precision implies: `1980-05` is
all of May 1980, `2031-03-01T10:00:00Z` is one second. Search compares those
intervals (FHIR R4 search, "date" type): `eq` means the resource's interval
lies within the parameter's, `ge` that it reaches at or beyond the parameter's
start, and so on. Values without an offset are read as UTC, as HAPI does on a
server running in UTC. Intervals are half-open: [start, end).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

_DATE_RE = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)

_MIN = datetime.min.replace(tzinfo=UTC)
_MAX = datetime.max.replace(tzinfo=UTC)

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


@dataclass(frozen=True, slots=True)
class DateRange:
    start: datetime
    end: datetime  # exclusive


def parse_range(text: str) -> DateRange:
    """The interval a FHIR date/dateTime/instant stands for; ValueError if malformed."""
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise ValueError(f"Invalid date/time format: {text!r}")
    parts = match.groupdict()
    tz = _offset(parts["tz"])
    year = int(parts["year"])
    if parts["month"] is None:
        start = datetime(year, 1, 1, tzinfo=tz)
        return DateRange(start, datetime(year + 1, 1, 1, tzinfo=tz))
    month = int(parts["month"])
    if parts["day"] is None:
        start = datetime(year, month, 1, tzinfo=tz)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
        return DateRange(start, end)
    day = int(parts["day"])
    if parts["hour"] is None:
        start = datetime(year, month, day, tzinfo=tz)
        return DateRange(start, start + timedelta(days=1))
    hour, minute = int(parts["hour"]), int(parts["minute"])
    if parts["second"] is None:
        start = datetime(year, month, day, hour, minute, tzinfo=tz)
        return DateRange(start, start + timedelta(minutes=1))
    second = int(parts["second"])
    fraction = parts["fraction"]
    if fraction is None:
        start = datetime(year, month, day, hour, minute, second, tzinfo=tz)
        return DateRange(start, start + timedelta(seconds=1))
    micros = int(fraction[:6].ljust(6, "0"))
    start = datetime(year, month, day, hour, minute, second, micros, tzinfo=tz)
    return DateRange(start, start + timedelta(microseconds=10 ** (6 - min(len(fraction), 6))))


def period_range(start: str | None, end: str | None) -> DateRange:
    """The interval of a FHIR Period; a missing bound is open."""
    return DateRange(
        parse_range(start).start if start else _MIN,
        parse_range(end).end if end else _MAX,
    )


def split_prefix(value: str) -> tuple[str, str]:
    """`ge2031-01-01` → ("ge", "2031-01-01"); no prefix means eq."""
    if len(value) > 2 and value[:2] in PREFIXES and not value[:2].isdigit():
        return value[:2], value[2:]
    return "eq", value


_COMPARATORS: dict[str, Callable[[DateRange, DateRange], bool]] = {
    "eq": lambda r, p: p.start <= r.start and r.end <= p.end,
    "ne": lambda r, p: not (p.start <= r.start and r.end <= p.end),
    "gt": lambda r, p: r.end > p.end,
    "lt": lambda r, p: r.start < p.start,
    "ge": lambda r, p: r.end > p.start,
    "le": lambda r, p: r.start < p.end,
    "sa": lambda r, p: r.start >= p.end,
    "eb": lambda r, p: r.end <= p.start,
}


def matches(prefix: str, resource: DateRange, param: DateRange) -> bool:
    """Whether a resource's interval satisfies `prefix` against the parameter's."""
    return _COMPARATORS[prefix](resource, param)


def _offset(tz: str | None) -> timezone:
    if tz is None or tz == "Z":
        return UTC
    sign = -1 if tz[0] == "-" else 1
    hours, minutes = int(tz[1:3]), int(tz[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
