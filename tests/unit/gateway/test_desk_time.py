from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.services.desk_time import parse_desk_time
from gateway.services.errors import DateOutOfRange, InvalidRequest

NY = ZoneInfo("America/New_York")


def test_a_date_is_that_whole_day_on_the_tenant_clock() -> None:
    assert parse_desk_time("start", "2026-12-07", NY) == datetime(2026, 12, 7, tzinfo=NY)
    assert parse_desk_time("end", "2026-12-07", NY, end=True) == datetime(2026, 12, 8, tzinfo=NY)
    # Five hours behind UTC in December.
    assert parse_desk_time("start", "2026-12-07", NY).astimezone(UTC).hour == 5


def test_a_local_time_is_on_the_tenant_clock_and_an_offset_wins() -> None:
    local = parse_desk_time("start", "2026-07-01T08:30", NY)
    assert local.utcoffset() == timedelta(hours=-4)  # daylight saving time in July
    exact = parse_desk_time("start", "2026-07-01T08:30:00+02:00", NY)
    assert exact.utcoffset() == timedelta(hours=2)
    assert parse_desk_time("start", "2026-07-01T08:30Z", NY).tzinfo == UTC


def _hours(day: str) -> timedelta:
    start = parse_desk_time("start", day, NY).astimezone(UTC)
    return parse_desk_time("end", day, NY, end=True).astimezone(UTC) - start


def test_days_when_the_clock_changes_have_23_or_25_hours() -> None:
    assert (_hours("2026-03-08"), _hours("2026-11-01")) == (
        timedelta(hours=23),
        timedelta(hours=25),
    )


@pytest.mark.parametrize(
    "value",
    ["tomorrow", "2026-12-07 08:30", "2026-12-7", "2026-02-30", "2026-12-07T24:00", "2026-12-07\n"],
)
def test_other_shapes_are_refused_with_words(value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_desk_time("start", value, NY)
    assert value.strip() not in caught.value.detail or value == "tomorrow"


@pytest.mark.parametrize("value", ["9999-12-31", "1800-01-01T00:00Z", "2200-01-01"])
def test_years_outside_the_served_range_are_refused(value: str) -> None:
    with pytest.raises(DateOutOfRange):
        parse_desk_time("start", value, NY)
