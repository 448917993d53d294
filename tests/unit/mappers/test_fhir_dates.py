from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mappers.fhir_dates import interval, parse_datetime, parse_partial_date


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("1980", datetime(1980, 1, 1, tzinfo=UTC), datetime(1981, 1, 1, tzinfo=UTC)),
        ("1980-12", datetime(1980, 12, 1, tzinfo=UTC), datetime(1981, 1, 1, tzinfo=UTC)),
        ("1980-05-02", datetime(1980, 5, 2, tzinfo=UTC), datetime(1980, 5, 3, tzinfo=UTC)),
        (
            "2031-03-01T10:00:00-05:00",
            datetime(2031, 3, 1, 10, tzinfo=timezone(timedelta(hours=-5))),
            datetime(2031, 3, 1, 10, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
        ),
        (
            "2031-03-01T10:00:00.25Z",
            datetime(2031, 3, 1, 10, 0, 0, 250000, tzinfo=UTC),
            datetime(2031, 3, 1, 10, 0, 0, 260000, tzinfo=UTC),
        ),
    ],
)
def test_interval_covers_the_precision(text: str, start: datetime, end: datetime) -> None:
    assert interval(text) == (start, end)


@pytest.mark.parametrize("text", ["9999", "9999-12", "9999-12-31", "9999-12-31T23:59:59Z"])
def test_interval_at_the_end_of_the_calendar_does_not_overflow(text: str) -> None:
    start, end = interval(text)
    assert start < end


@pytest.mark.parametrize(
    "text", ["1980-13-01", "1980-02-30", "1980-05-02T25:00:00Z", "1980-05-02\nx", "19800502", ""]
)
def test_interval_refuses_what_is_not_a_date(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a FHIR date|out of range|must be in"):
        interval(text)


def test_datetime_needs_an_offset_and_partial_dates_keep_precision() -> None:
    assert parse_datetime("2031-03-01T10:00:00") is None
    assert parse_datetime("2031-03-01T10:00:00Z") == datetime(2031, 3, 1, 10, tzinfo=UTC)
    assert parse_partial_date("1980-05") == "1980-05"
    assert parse_partial_date("1980-13") is None


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("2026-12-07T08:00:00+14:00", timedelta(hours=14)),
        ("2026-12-07T08:00:00-13:59", -timedelta(hours=13, minutes=59)),
        ("2026-12-07T08:00:00.123456789+05:30", timedelta(hours=5, minutes=30)),
        (" 2026-12-07T08:00:00Z ", timedelta(0)),
        ("2026-12-07T08:00+01:00", timedelta(hours=1)),
        ("2026-12-07T08:00:00+14:30", None),
        ("2026-12-07T08:00:00+14:60", None),
        ("2026-12-07T08:00:00+09:60", None),
        ("2026-12-07T08:00:00", None),
        ("2026-12-07T08:00:00\u0661Z", None),
        ("2026-02-30T08:00:00Z", None),
    ],
)
def test_parse_datetime_offsets_follow_fhir(text: str, offset: timedelta | None) -> None:
    # The fast path (fromisoformat) and the regex path accept the same language.
    parsed = parse_datetime(text)
    if offset is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert parsed.utcoffset() == offset
