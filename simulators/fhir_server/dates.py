"""FHIR date, dateTime and instant values as ranges, and the date search prefixes.

A FHIR date stands for the whole interval its precision implies: `1980-05` is
all of May 1980, `2031-03-01T10:00:00Z` is one second. Search compares those
intervals (FHIR R4 search, "date" type): `eq` means the resource's interval
lies within the parameter's, `ge` that it reaches at or beyond the parameter's
start, and so on. Values without an offset are read as UTC, as HAPI does on a
server running in UTC. Intervals are half-open: [start, end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mappers.fhir_dates import interval

_MIN = datetime.min.replace(tzinfo=UTC)
_MAX = datetime.max.replace(tzinfo=UTC)

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


@dataclass(frozen=True, slots=True)
class DateRange:
    start: datetime
    end: datetime  # exclusive


def parse_range(text: str) -> DateRange:
    """The interval a FHIR date/dateTime/instant stands for; ValueError if malformed."""
    try:
        start, end = interval(text)
    except ValueError:
        raise ValueError(f"Invalid date/time format: {text!r}") from None
    return DateRange(start, end)


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
