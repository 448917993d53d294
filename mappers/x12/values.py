"""X12 data-element readers: dates (D8/RD8), times, decimals (R type), percentages.

Each returns ``None`` for an unusable value; the caller records a warning that
names the element, never the value.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

__all__ = ["parse_amount", "parse_d8", "parse_date_range", "parse_percent", "parse_stamp"]

# X12 "R" (decimal number): optional sign, digits, optional point; no exponent.
_DECIMAL = re.compile(r"-?(?:\d{1,15}(?:\.\d{0,15})?|\.\d{1,15})")
_D8 = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TIME = re.compile(r"(\d{2})(\d{2})(\d{2})?\d{0,2}")


def parse_d8(value: str) -> date | None:
    m = _D8.fullmatch(value)
    if m is None:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def parse_date_range(qualifier: str, value: str) -> tuple[date, date | None] | None:
    """DTP03 by its format qualifier DTP02: D8 is one day, RD8 a start-end range."""
    if qualifier == "D8":
        day = parse_d8(value)
        return (day, None) if day else None
    if qualifier == "RD8":
        start_text, sep, end_text = value.partition("-")
        start, end = parse_d8(start_text), parse_d8(end_text)
        if not sep or start is None or end is None or end < start:
            return None
        return start, end
    return None


def parse_stamp(day: str, time: str) -> datetime | None:
    """BHT04 date + BHT05 time (HHMM[SS[D[D]]]) as UTC.

    The 271 carries no time zone; the payer's clock is usually local. We read it
    as UTC: an hour's error is harmless for "when was this checked", and a
    guessed local zone would be no better.
    """
    d = parse_d8(day)
    if d is None:
        return None
    m = _TIME.fullmatch(time) if time else None
    if time and m is None:
        return None
    hour, minute, second = (0, 0, 0)
    if m is not None:
        hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    try:
        return datetime(d.year, d.month, d.day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def parse_amount(value: str) -> Decimal | None:
    return Decimal(value) if _DECIMAL.fullmatch(value) else None


def parse_percent(value: str) -> tuple[Decimal | None, bool]:
    """EB08 as a fraction (0.2 = 20%), and whether it had to be rescaled.

    The guide sends a decimal fraction (".2" or "0.20" for 20%). Some payers send
    whole percentages ("20"); a value above 1 and at most 100 is read that way
    (flagged so the caller warns), anything else is unusable.
    """
    number = parse_amount(value)
    if number is None or number < 0 or number > 100:
        return None, False
    if number <= 1:
        return number, False
    return number / 100, True
