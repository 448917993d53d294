"""The hospital's business days (its weekdays open, less its holidays), and when a
good-faith estimate is due by them (No Surprises Act, 45 CFR 149.610(b)(1)(vi)):

- an item or service scheduled at least 3 business days ahead: the estimate within
  1 business day of scheduling;
- scheduled at least 10 business days ahead, or asked for: within 3 business days of
  scheduling (or of the request);
- scheduled fewer than 3 business days ahead: none is required by the rule.

"Ahead" counts the business days after the day of scheduling up to and including the
day of service (Monday is 3 business days before Thursday). "Within n business days of"
a day is by the end of the n-th business day after it, on the hospital's wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["WEEKDAYS", "BusinessCalendar", "GfeClock", "gfe_clock"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar whose holidays cover more than this many days in a row is a mistake.
_LONGEST_CLOSURE = 366


class BusinessCalendar:
    def __init__(self, open_days: Iterable[str], holidays: Iterable[date] = ()) -> None:
        self._open = frozenset(WEEKDAYS.index(d) for d in open_days)
        if not self._open:
            raise ValueError("a business calendar needs at least one open weekday")
        self._holidays = frozenset(holidays)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self._open and day not in self._holidays

    def after(self, day: date, count: int) -> date:
        """The ``count``-th business day after ``day`` (``day`` itself never counts)."""
        found, current = 0, day
        for _ in range(count * 7 + _LONGEST_CLOSURE):
            current += timedelta(days=1)
            if self.is_business_day(current):
                found += 1
                if found == count:
                    return current
        raise ValueError("the calendar has no business day for a year")

    def between(self, start: date, end: date) -> int:
        """Business days after ``start``, up to and including ``end``."""
        if end <= start:
            return 0
        return sum(
            self.is_business_day(start + timedelta(days=n))
            for n in range(1, (end - start).days + 1)
        )


@dataclass(frozen=True)
class GfeClock:
    required: bool
    due_on: date | None
    due_at: datetime | None  # the end of ``due_on`` on the hospital's wall clock
    rule: str


def gfe_clock(
    calendar: BusinessCalendar,
    zone: ZoneInfo,
    *,
    since: date,
    service_date: date | None,
    requested: bool = False,
) -> GfeClock:
    """When a good-faith estimate is due: scheduled (or asked for, ``requested``) on
    ``since`` for care on ``service_date``."""

    def due(days: int, rule: str) -> GfeClock:
        day = calendar.after(since, days)
        end = datetime.combine(day + timedelta(days=1), time.min, zone)
        return GfeClock(True, day, end, rule)

    if requested:
        return due(3, "asked for: due within 3 business days of the request")
    if service_date is None:
        return due(3, "no service date: due within 3 business days, as for a request")
    ahead = calendar.between(since, service_date)
    plural = "s" if ahead != 1 else ""
    if ahead >= 10:
        return due(
            3,
            f"scheduled {ahead} business day{plural} ahead (10 or more): due within "
            "3 business days of scheduling",
        )
    if ahead >= 3:
        return due(
            1,
            f"scheduled {ahead} business day{plural} ahead (3 or more): due within "
            "1 business day of scheduling",
        )
    return GfeClock(
        False,
        None,
        None,
        f"scheduled {ahead} business day{plural} ahead (fewer than 3): the rule requires none "
        "by then; give one if the patient asks",
    )
