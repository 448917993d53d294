"""When a good-faith estimate is due, in the hospital's business days: weekends and the
configured holidays skipped, for both horizons (1 business day when booked 3 or more
business days ahead, 3 when 10 or more ahead or asked for)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.services.business_days import BusinessCalendar, gfe_clock

NEW_YORK = ZoneInfo("America/New_York")
HOLIDAYS = [date(2026, 12, 24), date(2026, 12, 25), date(2027, 1, 1)]
HOSPITAL = BusinessCalendar(["mon", "tue", "wed", "thu", "fri"], HOLIDAYS)
NO_HOLIDAYS = BusinessCalendar(["mon", "tue", "wed", "thu", "fri"])


def D(text: str) -> date:
    return date.fromisoformat(text)


@pytest.mark.parametrize(
    ("booked", "service", "due", "horizon"),
    [
        # 3 to 9 business days ahead: within 1 business day of booking.
        ("2026-12-11", "2026-12-17", "2026-12-14", 1),  # Friday -> Monday, over the weekend
        ("2026-12-12", "2026-12-17", "2026-12-14", 1),  # booked on a Saturday
        ("2026-12-14", "2026-12-17", "2026-12-15", 1),  # exactly 3 ahead
        ("2026-12-07", "2026-12-18", "2026-12-08", 1),  # 9 ahead
        # Over Christmas Eve and Christmas Day, then the weekend: Monday the 28th.
        ("2026-12-23", "2026-12-30", "2026-12-28", 1),
        # 10 or more business days ahead: within 3 business days.
        ("2026-12-07", "2026-12-21", "2026-12-10", 3),  # exactly 10 ahead
        ("2026-12-18", "2027-01-08", "2026-12-23", 3),  # 12 ahead (holidays not counted)
        ("2026-12-22", "2027-01-15", "2026-12-29", 3),  # the 3 days skip the holidays
    ],
)
def test_due_in_business_days_for_both_horizons(
    booked: str, service: str, due: str, horizon: int
) -> None:
    clock = gfe_clock(HOSPITAL, NEW_YORK, since=D(booked), service_date=D(service))
    assert clock.required
    assert clock.due_on == D(due)
    # Due by the end of that day on the hospital's wall clock.
    end_of_day = datetime.combine(D(due) + timedelta(days=1), time.min, NEW_YORK)
    assert clock.due_at == end_of_day
    assert f"within {horizon} business day" in clock.rule


def test_holidays_change_which_horizon_applies() -> None:
    # Friday the 18th for Monday January 4th: 11 business days without holidays, 8 with
    # Christmas Eve, Christmas and New Year's Day closed.
    since, service = D("2026-12-18"), D("2027-01-04")
    without = gfe_clock(NO_HOLIDAYS, NEW_YORK, since=since, service_date=service)
    with_holidays = gfe_clock(HOSPITAL, NEW_YORK, since=since, service_date=service)
    assert (without.due_on, with_holidays.due_on) == (D("2026-12-23"), D("2026-12-21"))
    assert "11 business days ahead (10 or more)" in without.rule
    assert "8 business days ahead (3 or more)" in with_holidays.rule


def test_fewer_than_three_business_days_ahead_requires_none() -> None:
    # Wednesday the 23rd for Tuesday the 29th: only the 28th and 29th are business days.
    clock = gfe_clock(HOSPITAL, NEW_YORK, since=D("2026-12-23"), service_date=D("2026-12-29"))
    assert not clock.required and clock.due_on is None and clock.due_at is None
    assert "2 business days ahead (fewer than 3)" in clock.rule
    # The same dates without the holidays: 4 ahead, due Christmas Eve.
    clock = gfe_clock(NO_HOLIDAYS, NEW_YORK, since=D("2026-12-23"), service_date=D("2026-12-29"))
    assert clock.due_on == D("2026-12-24")
    assert not gfe_clock(
        HOSPITAL, NEW_YORK, since=D("2026-12-15"), service_date=D("2026-12-17")
    ).required


def test_asked_for_is_due_in_three_business_days() -> None:
    clock = gfe_clock(HOSPITAL, NEW_YORK, since=D("2026-12-19"), service_date=None, requested=True)
    assert clock.due_on == D("2026-12-23")
    clock = gfe_clock(HOSPITAL, NEW_YORK, since=D("2026-12-22"), service_date=None, requested=True)
    assert clock.due_on == D("2026-12-29")
    assert clock.rule == "asked for: due within 3 business days of the request"


def test_the_end_of_the_due_day_follows_daylight_saving_time() -> None:
    clock = gfe_clock(HOSPITAL, NEW_YORK, since=D("2027-03-12"), service_date=D("2027-03-18"))
    assert clock.due_on == D("2027-03-15")
    assert clock.due_at is not None and clock.due_at.isoformat() == "2027-03-16T00:00:00-04:00"


def test_other_open_days_count() -> None:
    # A clinic open Tuesday to Saturday.
    clinic = BusinessCalendar(["tue", "wed", "thu", "fri", "sat"])
    assert clinic.after(D("2026-12-11"), 1) == D("2026-12-12")  # Friday -> Saturday
    assert clinic.after(D("2026-12-12"), 1) == D("2026-12-15")  # Saturday -> Tuesday
    assert clinic.between(D("2026-12-11"), D("2026-12-15")) == 2
    with pytest.raises(ValueError, match="at least one open weekday"):
        BusinessCalendar([])
