"""Which days a customer means by "the order I placed last Tuesday"."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from personalization.support.order_dates import order_date_window

pytestmark = pytest.mark.fast

TUESDAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("phrase", "start", "end", "label"),
    [
        ("yesterday", date(2026, 11, 22), date(2026, 11, 24), "around Monday 23 November"),
        ("3rd November", date(2026, 11, 2), date(2026, 11, 4), "around Tuesday 3 November"),
        ("november 3", date(2026, 11, 2), date(2026, 11, 4), "around Tuesday 3 November"),
        ("3/11", date(2026, 11, 2), date(2026, 11, 4), "around Tuesday 3 November"),
        ("2026-11-03", date(2026, 11, 2), date(2026, 11, 4), "around Tuesday 3 November"),
        ("last friday", date(2026, 11, 19), date(2026, 11, 21), "around Friday 20 November"),
        ("2 days ago", date(2026, 11, 21), date(2026, 11, 23), "around Sunday 22 November"),
        ("last week", date(2026, 11, 16), date(2026, 11, 22), "in the week of Monday 16 November"),
        ("last month", date(2026, 10, 1), date(2026, 10, 31), "in October 2026"),
        ("this month", date(2026, 11, 1), TUESDAY, "in November 2026"),
    ],
)
def test_a_phrase_names_the_days_to_search(phrase: str, start: date, end: date, label: str) -> None:
    window = order_date_window(phrase, TUESDAY)
    assert window is not None
    assert (window.start, window.end, window.label) == (start, end, label)
    if label.startswith("around "):
        assert window.day == start + timedelta(days=1), "the day named, with one either side"
    else:
        assert window.day is None


@pytest.mark.parametrize("phrase", ["", "   ", "the blue one", "tomorrow", "next week", "2025"])
def test_no_day_the_future_or_a_whole_year_finds_no_window(phrase: str) -> None:
    assert order_date_window(phrase, TUESDAY) is None


def test_an_impossible_iso_date_is_no_date() -> None:
    assert order_date_window("2026-02-30", TUESDAY) is None


def test_a_date_phrase_longer_than_any_real_one_is_no_date() -> None:
    """dateparser recurses on long runs of digits: such text never reaches it."""
    assert order_date_window("1" * 5000, TUESDAY) is None
    assert order_date_window("3rd November " + "x" * 100, TUESDAY) is None
