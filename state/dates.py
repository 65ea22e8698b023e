"""Event-time dates as proleptic ordinals (``date.toordinal()``).

State holds millions of dates; a small int is cheaper to keep, compare and pickle than a
``datetime.date``, and day arithmetic becomes plain addition. Months are ``year*12 + m-1``.
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "Day", "Month", "day", "kz_day", "KZ_TIME", "iso", "to_date", "month_of", "month_iso", "parse_month",
    "add_months", "birthday_on", "age_in_months", "age_years", "quarter_start",
]

Day = int
Month = int


def day(value: str | dt.date) -> Day:
    """Ordinal of an ISO ``YYYY-MM-DD`` string (or the date part of an ISO instant)."""
    if isinstance(value, dt.date):
        return value.toordinal()
    return dt.date.fromisoformat(value[:10]).toordinal()


_FIVE_HOURS = dt.timedelta(hours=5)
KZ_TIME = dt.timezone(_FIVE_HOURS, "UTC+5")  # all of Kazakhstan since 1 March 2024


def kz_day(instant: str) -> Day:
    """The Kazakhstan (UTC+5) date of an ISO 8601 instant with an offset (rules.md §5a: dates of
    instants are taken in Kazakhstan time, whatever offset the instant carries)."""
    when = dt.datetime.fromisoformat(instant)  # raises ValueError on an impossible date or time
    if when.utcoffset() == _FIVE_HOURS:
        return when.toordinal()
    return when.astimezone(KZ_TIME).toordinal()


def to_date(d: Day) -> dt.date:
    return dt.date.fromordinal(d)


def iso(d: Day) -> str:
    return dt.date.fromordinal(d).isoformat()


def month_of(d: Day) -> Month:
    x = dt.date.fromordinal(d)
    return x.year * 12 + x.month - 1


def month_iso(m: Month) -> str:
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


def parse_month(text: str) -> Month:
    return int(text[:4]) * 12 + int(text[5:7]) - 1


def add_months(d: Day, months: int) -> Day:
    """The same day-of-month ``months`` later; 29 Feb (or 31st) rolls to the 1st of the next month.

    rules.md §2: someone born on 29 February has their birthday on 1 March in non-leap
    years; the same convention covers month ends for half-year ages.
    """
    x = dt.date.fromordinal(d)
    total = x.year * 12 + x.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    try:
        return dt.date(year, month, x.day).toordinal()
    except ValueError:
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        return nxt.toordinal()


def birthday_on(birth: Day, years: int) -> Day:
    """The date a person born on ``birth`` turns ``years`` old."""
    return add_months(birth, 12 * years)


def age_in_months(birth: Day, on: Day) -> int:
    """Whole months of age on ``on`` (the anniversary day counts as completed)."""
    b, o = dt.date.fromordinal(birth), dt.date.fromordinal(on)
    months = (o.year - b.year) * 12 + (o.month - b.month)
    if add_months(birth, months) > on:
        months -= 1
    return months


def age_years(birth: Day, on: Day) -> int:
    return age_in_months(birth, on) // 12


def quarter_start(d: Day) -> Day:
    x = dt.date.fromordinal(d)
    return dt.date(x.year, 3 * ((x.month - 1) // 3) + 1, 1).toordinal()
