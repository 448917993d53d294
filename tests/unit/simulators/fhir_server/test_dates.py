from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simulators.fhir_server.dates import matches, parse_range, split_prefix


def test_precision_sets_the_range() -> None:
    assert parse_range("1980").start == datetime(1980, 1, 1, tzinfo=UTC)
    assert parse_range("1980").end == datetime(1981, 1, 1, tzinfo=UTC)
    assert parse_range("1980-12").end == datetime(1981, 1, 1, tzinfo=UTC)
    second = parse_range("2031-03-01T10:00:00Z")
    assert (second.end - second.start).total_seconds() == 1


def test_offsets_are_honoured_and_naive_means_utc() -> None:
    assert parse_range("2031-03-01T12:00:00+02:00").start == datetime(2031, 3, 1, 10, tzinfo=UTC)
    assert parse_range("2031-03-01T10:00").start == datetime(2031, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["xx", "2031-13-01", "2031-03-01T25:00"])
def test_malformed_dates_raise(bad: str) -> None:
    with pytest.raises(ValueError, match=r"Invalid|must be in"):
        parse_range(bad)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("eq", False),
        ("ge", True),
        ("le", True),
        ("gt", True),
        ("lt", True),
        ("sa", False),
        ("eb", False),
        ("ne", True),
    ],
)
def test_prefixes_compare_ranges(prefix: str, expected: bool) -> None:
    # The resource is May 1980; the parameter is 10 May 1980.
    assert matches(prefix, parse_range("1980-05"), parse_range("1980-05-10")) is expected


def test_split_prefix_defaults_to_eq() -> None:
    assert split_prefix("ge2031-01-01") == ("ge", "2031-01-01")
    assert split_prefix("2031-01-01") == ("eq", "2031-01-01")
