"""The days a customer means when they name an order by its date instead of its number.

"The order I placed last Tuesday", "my order from 3rd November", "the one from last week":
dateparser reads the phrase against today, and its precision sets how wide the search is.
A day searches the day either side too, for the time zone and for customers who remember a
day off, but an order on the very day named comes first. A week is that
calendar week, a month that calendar month. A year is too broad to pick an order by.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

# "the order I placed on the Tuesday before last, in the morning" is under 60 characters;
# dateparser recurses on long text (RecursionError on a few thousand characters of digits).
MAX_DATE_PHRASE = 80
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
# dateparser reads "friday" but not "last friday"; the past is preferred anyway.
_LAST_WEEKDAY = re.compile(
    r"\blast\s+(?=(?:mon|tues|wednes|thurs|fri|satur|sun)day\b)", re.IGNORECASE
)


@dataclass(frozen=True)
class DateWindow:
    """Orders placed from `start` to `end`, both included.

    `label` says it back to the customer: "around Tuesday 3 November", "in October 2026".
    """

    start: date
    end: date
    label: str
    day: date | None = None  # the day named, when the phrase names one


def order_date_window(text: str | None, today: date) -> DateWindow | None:
    """The days the phrase names, or None if it names no day, or only the future or a year."""
    if not text or not text.strip() or len(text) > MAX_DATE_PHRASE:
        return None
    iso = _ISO.search(text)
    if iso:
        try:
            day = date(*(int(part) for part in iso.groups()))
        except ValueError:
            return None
        return _day_window(day, today)
    parsed, period = _parse(_LAST_WEEKDAY.sub("", text.strip()), today)
    if parsed is None:
        return None
    if period == "week":
        monday = parsed - timedelta(days=parsed.weekday())
        return _clip(
            DateWindow(monday, monday + timedelta(days=6), f"in the week of {_day(monday)}"), today
        )
    if period == "month":
        last = calendar.monthrange(parsed.year, parsed.month)[1]
        window = DateWindow(
            parsed.replace(day=1), parsed.replace(day=last), parsed.strftime("in %B %Y")
        )
        return _clip(window, today)
    if period == "day":
        return _day_window(parsed, today)
    return None


def _parse(text: str, today: date) -> tuple[date | None, str | None]:
    from dateparser.date import DateDataParser  # loads its language data; only when needed

    parser = DateDataParser(
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "past",
            "RELATIVE_BASE": datetime.combine(today, datetime.min.time()),
            "DATE_ORDER": "DMY",  # a UK shop: 3/11 is the 3rd of November
        },
    )
    data = parser.get_date_data(text)
    if data.date_obj is None:
        return None, None
    return data.date_obj.date(), data.period


def _day_window(day: date, today: date) -> DateWindow | None:
    if day > today:
        return None
    label = f"around {_day(day)}"
    return _clip(DateWindow(day - timedelta(days=1), day + timedelta(days=1), label, day), today)


def _clip(window: DateWindow, today: date) -> DateWindow | None:
    """No order is placed in the future, so a window after today finds nothing."""
    if window.start > today:
        return None
    return DateWindow(window.start, min(window.end, today), window.label, window.day)


def _day(day: date) -> str:
    return day.strftime("%A %-d %B")
