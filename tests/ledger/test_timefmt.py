"""ledger/timefmt.py: times as people type and read them (issue 7 item 3).
Checked against the standard library's own arithmetic, not against numbers
worked out here by hand."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.timefmt import (DEFAULT_ZONE, MAX_MS, MIN_MS, check_time, format_date, format_time, month_of,
                            month_start, next_month, parse_time, zone)

UTC = dt.timezone.utc
HCM = dt.timezone(dt.timedelta(hours=7))  # Asia/Ho_Chi_Minh since 1975


def ms(d: dt.datetime) -> int:
    return round(d.timestamp() * 1000)


def test_bounds_are_years_0001_to_9999_in_utc():
    assert MIN_MS == ms(dt.datetime(1, 1, 1, tzinfo=UTC))
    assert MAX_MS == ms(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)) + 999
    assert check_time(MIN_MS, "f") == MIN_MS and check_time(MAX_MS, "f") == MAX_MS
    for bad in (MIN_MS - 1, MAX_MS + 1, 2**64 - 1, -(2**63)):
        with pytest.raises(InvalidInput) as info:
            check_time(bad, "body.held_at")
        assert info.value.field == "body.held_at" and "out of range" in info.value.rule
    for bad in (1.5, "1", None, True):
        with pytest.raises(InvalidInput):
            check_time(bad, "f")


@pytest.mark.parametrize("text, expected", [
    ("2026-09-01", dt.datetime(2026, 9, 1, tzinfo=HCM)),                     # a date: midnight, display zone
    ("2026-09-01T19:00", dt.datetime(2026, 9, 1, 19, tzinfo=HCM)),           # no offset: display zone
    ("2026-09-01 19:00:30", dt.datetime(2026, 9, 1, 19, 0, 30, tzinfo=HCM)),
    ("2026-09-01T19:00+07:00", dt.datetime(2026, 9, 1, 19, tzinfo=HCM)),
    ("2026-09-01T12:00:00Z", dt.datetime(2026, 9, 1, 12, tzinfo=UTC)),
    ("2026-09-01T12:00:00z", dt.datetime(2026, 9, 1, 12, tzinfo=UTC)),
    ("2026-09-01T12:00:00.250-05:00", dt.datetime(2026, 9, 1, 12, 0, 0, 250_000,
                                                  tzinfo=dt.timezone(dt.timedelta(hours=-5)))),
    ("  2026-09-01  ", dt.datetime(2026, 9, 1, tzinfo=HCM)),
])
def test_parse_iso_8601(text, expected):
    assert parse_time(text, "f", tz=DEFAULT_ZONE) == ms(expected)


def test_parse_unix_ms_and_dates_before_1970():
    assert parse_time(1_767_225_600_000) == 1_767_225_600_000
    assert parse_time("1767225600000") == 1_767_225_600_000
    assert parse_time("-1") == -1
    admitted = parse_time("1965-03-01", tz="UTC")  # issue 7 fault 6: a member admitted in 1965
    assert admitted == ms(dt.datetime(1965, 3, 1, tzinfo=UTC)) < 0
    assert format_date(admitted, "UTC") == "1965-03-01"


def test_naive_input_is_read_in_the_zone_asked_for(monkeypatch):
    assert parse_time("2026-09-01T19:00", tz="UTC") == ms(dt.datetime(2026, 9, 1, 19, tzinfo=UTC))
    monkeypatch.setenv("MINUTEBOOK_TZ", "Europe/Paris")
    paris = parse_time("2026-07-01T12:00")  # summer time: UTC+2
    assert paris == ms(dt.datetime(2026, 7, 1, 10, tzinfo=UTC))
    monkeypatch.delenv("MINUTEBOOK_TZ")
    assert parse_time("2026-07-01T12:00") == ms(dt.datetime(2026, 7, 1, 5, tzinfo=UTC))  # the default, UTC+7


def test_yaml_dates_and_datetimes():
    """What a YAML loader makes of unquoted timestamps: a date, a naive datetime (no offset:
    the display zone, not UTC), an aware one (its own offset)."""
    loaded = yaml.safe_load("a: 2026-11-20\nb: 2026-11-20 19:00:00\nc: 2026-11-20T19:00:00Z\n"
                            "d: 2026-11-20T19:00:00+07:00\n")
    assert isinstance(loaded["a"], dt.date) and loaded["b"].tzinfo is None
    assert parse_time(loaded["a"]) == ms(dt.datetime(2026, 11, 20, tzinfo=HCM))
    assert parse_time(loaded["b"]) == ms(dt.datetime(2026, 11, 20, 19, tzinfo=HCM))
    assert parse_time(loaded["c"]) == ms(dt.datetime(2026, 11, 20, 19, tzinfo=UTC))
    assert parse_time(loaded["d"]) == ms(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))


@pytest.mark.parametrize("value, words", [
    ("2026-02-30", "not a time"), ("10000-01-01", "not a time"), ("yesterday", "not a time"),
    ("99999999999999999999", "out of range"), ("9999-12-31T23:59:59.999-01:00", "out of range"),
    (1.5, "expected unix milliseconds"), (True, "expected a time"), (None, "expected unix milliseconds"),
])
def test_bad_input_names_the_field(value, words):
    with pytest.raises(InvalidInput) as info:
        parse_time(value, "since")
    assert info.value.field == "since" and words in info.value.rule


def test_unknown_zone_is_a_clear_error():
    for name in ("Mars/Olympus", "asia/ho_chi_minh", "../etc/passwd", "x" * 500):
        with pytest.raises(InvalidInput) as info:
            zone(name)
        assert info.value.field == "tz" and len(info.value.message) < 200
    with pytest.raises(InvalidInput):
        parse_time("2026-01-01", tz="Nowhere/At_All")


def test_format_in_the_display_zone():
    t = ms(dt.datetime(2026, 9, 1, 12, tzinfo=UTC))
    assert format_time(t) == "2026-09-01T19:00+07:00"
    assert format_time(t, "UTC", seconds=True) == "2026-09-01T12:00:00+00:00"
    assert format_date(ms(dt.datetime(2026, 9, 30, 20, tzinfo=UTC))) == "2026-10-01"  # already tomorrow at UTC+7
    assert parse_time(format_time(t)) == t  # what a user reads is what they would type


def test_months_in_a_zone():
    late = ms(dt.datetime(2026, 9, 30, 23, 30, tzinfo=HCM))
    assert month_of(late, "Asia/Ho_Chi_Minh") == "2026-09" and month_of(late, "Asia/Tokyo") == "2026-10"
    assert month_start("2026-10", "Asia/Ho_Chi_Minh") == ms(dt.datetime(2026, 10, 1, tzinfo=HCM))
    assert next_month("2026-12") == "2027-01" and next_month("2026-01") == "2026-02"
    for bad in ("2026-13", "2026-1", "26-01", "0000-01"):
        with pytest.raises(InvalidInput) as info:
            month_start(bad)
        assert info.value.field == "month"


@pytest.mark.parametrize("tz", ["Asia/Ho_Chi_Minh", "Pacific/Kiritimati", "America/New_York", "Pacific/Niue", "UTC"])
def test_every_bounded_time_formats_in_every_zone(tz):
    """Near the bounds the zone's local time would leave years 0001..9999: such a time is
    formatted in UTC rather than raising (a view bucketing held_at by month must never crash)."""
    for t in (MIN_MS, MIN_MS + 1, MAX_MS - 1, MAX_MS):
        assert format_time(t, tz) and format_date(t, tz) and month_of(t, tz)
    with pytest.raises(InvalidInput):
        format_time(MAX_MS + 1, tz)


@given(st.integers(MIN_MS, MAX_MS))
def test_format_then_parse_round_trips_to_the_second(t):
    text = format_time(t, "UTC", seconds=True)
    assert parse_time(text) == t - t % 1000
    assert month_of(t, "UTC") == text[:7]
