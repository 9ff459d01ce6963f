"""DatetimeWindow at its edges, with `today` frozen and passed in (the window never reads a clock).

Windows cover whole local days, both ends included; a window for D1..D2 asks for
`D1 00:00:00` through `D2 23:59:59`.
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from source_avidtrak.components import DatetimeWindow, Window
from source_avidtrak.config import ConfigError, parse_settings
from unit_tests.integration.config_builder import ConfigBuilder
from unit_tests.windowing import windows_of

TODAY = date(2026, 11, 26)


def d(text: str) -> date:
    return date.fromisoformat(text)


def day_windows(builder: ConfigBuilder) -> DatetimeWindow:
    """These cases are about day edges: one-day windows unless the case sets Window Days."""
    settings = parse_settings(builder.build())
    return DatetimeWindow(replace(settings, window_days=settings.window_days or 1))


def spans(builder: ConfigBuilder, today: date = TODAY, state=None):
    windows = windows_of(day_windows(builder), today, state)
    return [(window.first_day.isoformat(), window.last_day.isoformat()) for window in windows]


@pytest.mark.parametrize(
    "builder, today, expected",
    [
        (ConfigBuilder().with_yesterday(), TODAY, [("2026-11-25", "2026-11-25")]),
        (ConfigBuilder().with_single_date(0), TODAY, [("2026-11-26", "2026-11-26")]),
        (ConfigBuilder().with_date_range("2026-11-20", "2026-11-20"), TODAY, [("2026-11-20", "2026-11-20")]),
        (ConfigBuilder().with_date_range(0, 0), TODAY, [("2026-11-26", "2026-11-26")]),
        (ConfigBuilder().with_yesterday(), d("2026-03-01"), [("2026-02-28", "2026-02-28")]),
        (ConfigBuilder().with_yesterday(), d("2028-03-01"), [("2028-02-29", "2028-02-29")]),
        (ConfigBuilder().with_yesterday(), d("2027-01-01"), [("2026-12-31", "2026-12-31")]),
        (
            ConfigBuilder().with_date_range("2026-01-30", "2026-02-02"),
            TODAY,
            [
                ("2026-01-30", "2026-01-30"),
                ("2026-01-31", "2026-01-31"),
                ("2026-02-01", "2026-02-01"),
                ("2026-02-02", "2026-02-02"),
            ],
        ),
        (
            ConfigBuilder().with_date_range("2026-01-30", "2026-02-02").with_window_days(2),
            TODAY,
            [("2026-01-30", "2026-01-31"), ("2026-02-01", "2026-02-02")],
        ),
        (
            ConfigBuilder().with_date_range("2025-12-30", "2026-01-02").with_window_days(2),
            TODAY,
            [("2025-12-30", "2025-12-31"), ("2026-01-01", "2026-01-02")],
        ),
        (
            ConfigBuilder().with_date_range("2028-02-28", "2028-03-01"),
            d("2028-03-02"),
            [("2028-02-28", "2028-02-28"), ("2028-02-29", "2028-02-29"), ("2028-03-01", "2028-03-01")],
        ),
        (
            ConfigBuilder().with_date_range("2026-11-20", "2026-11-22").with_window_days(31),
            TODAY,
            [("2026-11-20", "2026-11-22")],
        ),
        (
            ConfigBuilder().with_date_range("2026-11-01", "2026-11-07").with_window_days(3),
            TODAY,
            [("2026-11-01", "2026-11-03"), ("2026-11-04", "2026-11-06"), ("2026-11-07", "2026-11-07")],
        ),
    ],
    ids=[
        "yesterday",
        "offset-0-today",
        "one-day-range",
        "relative-0-to-0",
        "month-end-feb",
        "leap-day",
        "year-end",
        "across-month-end",
        "month-end-in-2-day-windows",
        "year-end-in-2-day-windows",
        "leap-range",
        "window-longer-than-range",
        "short-last-window",
    ],
)
def test_given_duration_when_windows_then_inclusive_day_windows(builder, today, expected):
    assert spans(builder, today) == expected


def test_given_domo_example_offsets_10_to_5_when_windows_then_six_days_both_ends_included():
    windows = spans(ConfigBuilder().with_date_range(10, 5))

    assert windows == [(f"2026-11-{day}", f"2026-11-{day}") for day in range(16, 22)]


@pytest.mark.parametrize(
    "zone, utc_now, expected_yesterday",
    [
        ("UTC", datetime(2026, 11, 26, 23, 30, tzinfo=UTC), "2026-11-25"),
        ("Pacific/Auckland", datetime(2026, 11, 26, 23, 30, tzinfo=UTC), "2026-11-26"),  # 12:30 on 27th
        ("Pacific/Honolulu", datetime(2026, 11, 26, 23, 30, tzinfo=UTC), "2026-11-25"),  # 13:30 on 26th
        ("Pacific/Auckland", datetime(2026, 11, 26, 0, 30, tzinfo=UTC), "2026-11-25"),  # 13:30 on 26th
        ("Pacific/Honolulu", datetime(2026, 11, 26, 0, 30, tzinfo=UTC), "2026-11-24"),  # 14:30 on 25th
    ],
)
def test_given_time_zone_and_utc_clock_near_midnight_when_windows_then_yesterday_is_local(
    zone, utc_now, expected_yesterday
):
    settings = parse_settings(ConfigBuilder().with_timezone(zone).build())

    today = settings.today(lambda: utc_now)
    windows = windows_of(DatetimeWindow(replace(settings, window_days=settings.window_days or 1)), today)

    assert [(w.first_day.isoformat(), w.last_day.isoformat()) for w in windows] == [(expected_yesterday,) * 2]


def test_given_date_to_today_in_auckland_when_utc_is_still_yesterday_then_not_future():
    settings = parse_settings(ConfigBuilder().with_single_date("2026-11-27").with_timezone("Pacific/Auckland").build())

    today = settings.today(lambda: datetime(2026, 11, 26, 23, 30, tzinfo=UTC))

    assert settings.resolve_range(today) == (d("2026-11-27"), d("2026-11-27"))


@pytest.mark.parametrize(
    "builder, state, expected_first, expected_last",
    [
        (ConfigBuilder().with_yesterday(), {"call_date": "2026-11-22T08:00:00"}, "2026-11-21", "2026-11-25"),
        (
            ConfigBuilder().with_yesterday().with_lookback_days(0),
            {"call_date": "2026-11-22T08:00:00"},
            "2026-11-22",
            "2026-11-25",
        ),
        (
            ConfigBuilder().with_date_range(3, 1).with_lookback_days(1),
            {"call_date": "2026-11-19T23:59:59"},
            "2026-11-18",
            "2026-11-25",
        ),
        (
            ConfigBuilder().with_date_range("2026-11-21", 1).with_lookback_days(3),
            {"call_date": "2026-11-21T05:00:00"},
            "2026-11-21",
            "2026-11-25",
        ),
        (
            ConfigBuilder().with_date_range("2026-11-10", 1).with_lookback_days(3),
            {"call_date": "2026-11-21T05:00:00"},
            "2026-11-18",
            "2026-11-25",
        ),
        (ConfigBuilder().with_yesterday(), {"call_date": "2026-11-25 10:00:00"}, "2026-11-24", "2026-11-25"),
        (ConfigBuilder().with_yesterday(), {"call_date": ""}, "2026-11-25", "2026-11-25"),
        (ConfigBuilder().with_yesterday(), {}, "2026-11-25", "2026-11-25"),
    ],
    ids=[
        "resume-minus-lookback",
        "lookback-0",
        "relative-start-is-no-floor",
        "specific-start-is-a-floor",
        "specific-start-below-resume",
        "state-with-space-separator",
        "empty-state-value",
        "empty-state",
    ],
)
def test_given_state_when_day_range_then_resumes_at_state_day_minus_lookback(
    builder, state, expected_first, expected_last
):
    day_range = DatetimeWindow(parse_settings(builder.build())).day_range(TODAY, state)

    assert day_range == (d(expected_first), d(expected_last))


def test_given_state_past_configured_end_when_windows_then_none():
    builder = ConfigBuilder().with_date_range("2026-11-01", "2026-11-10").with_lookback_days(1)

    assert spans(builder, state={"call_date": "2026-11-20T10:00:00"}) == []


def test_given_state_on_day_after_end_and_lookback_when_windows_then_last_day_reread():
    builder = ConfigBuilder().with_date_range("2026-11-01", "2026-11-10").with_lookback_days(1)

    assert spans(builder, state={"call_date": "2026-11-11T00:00:00"}) == [("2026-11-10", "2026-11-10")]


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00", "11/25/2026", 12345])
def test_given_invalid_state_when_windows_then_config_error_says_reset(value):
    with pytest.raises(ConfigError, match="Reset the stream's state"):
        spans(ConfigBuilder(), state={"call_date": value})


def test_given_window_when_request_params_then_exact_inclusive_strings():
    window = Window(d("2026-11-20"), d("2026-11-21"))

    assert window.request_params() == {"startdate": "2026-11-20 00:00:00", "enddate": "2026-11-21 23:59:59"}
    assert dict(window.as_slice("client-7")) == {
        "account": "client-7",
        "start": "2026-11-20T00:00:00",
        "end": "2026-11-21T23:59:59",
    }
    assert window.as_slice("client-7").partition == {"account": "client-7"}
    assert Window.from_slice(window.as_slice("client-7")) == window
    assert window.describe() == "2026-11-20..2026-11-21"
    assert Window(d("2026-11-20"), d("2026-11-20")).describe() == "2026-11-20"


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    first=st.dates(min_value=date(2020, 1, 1), max_value=TODAY),
    length=st.integers(min_value=1, max_value=120),
    window_days=st.integers(min_value=1, max_value=31),
)
def test_given_any_range_when_windows_then_contiguous_cover_without_overlap(first, length, window_days):
    last = min(first + timedelta(days=length - 1), TODAY)
    builder = ConfigBuilder().with_date_range(first.isoformat(), last.isoformat()).with_window_days(window_days)

    windows = windows_of(day_windows(builder), TODAY)

    assert windows[0].first_day == first and windows[-1].last_day == last
    for previous, following in pairwise(windows):
        assert following.first_day == previous.last_day + timedelta(days=1)
    assert all(0 <= (w.last_day - w.first_day).days < window_days for w in windows)
    assert all((w.last_day - w.first_day).days == window_days - 1 for w in windows[:-1])
