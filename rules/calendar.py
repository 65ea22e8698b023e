"""Which birth dates have a birthday that matters on a given day (for the event-time calendar).

A person turns 18, or reaches retirement age, on a date computed from their birth date and
sex; the tick for D therefore needs only the birth dates whose milestone falls on D. Month
ends and 29 February make that a small set, found by checking a few candidates.
"""

from __future__ import annotations

from rules.params import Params
from rules.retirement import retirement_day
from state import dates
from state.dates import Day
from state.events import RETIREMENT_AGE, TURNS_18

__all__ = ["birth_dates_due", "adult_months"]


def adult_months(params: Params) -> int:
    """The age, in months, at which a child becomes an adult (``adult_age_years``)."""
    return 12 * params.scalar_int("adult_age_years")


def _candidates(on: Day, months: int) -> range:
    """Birth dates within a few days of ``on`` minus ``months``: every solution is among them."""
    approx = dates.add_months(on, -months)
    return range(approx - 4, approx + 2)


def birth_dates_due(on: Day, params: Params) -> list[tuple[Day, str, str]]:
    """``(birth_date, sex, kind)`` for every birth date and sex with a milestone on ``on``."""
    out: list[tuple[Day, str, str]] = []
    adult = adult_months(params)
    for birth in _candidates(on, adult):
        if dates.add_months(birth, adult) == on:
            out.append((birth, "male", TURNS_18))
            out.append((birth, "female", TURNS_18))
    men, women = params.retirement_schedule()
    ages = sorted({men, *(months for _, months in women)})
    seen: set[tuple[Day, str]] = set()
    for sex in ("male", "female"):
        for months in ages:
            for birth in _candidates(on, months):
                if (birth, sex) not in seen and retirement_day(birth, sex, params) == on:
                    seen.add((birth, sex))
                    out.append((birth, sex, RETIREMENT_AGE))
    return out
