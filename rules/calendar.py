"""Which birth dates have a birthday that matters on a given day (for the event-time calendar).

A person turns 18, or reaches retirement age, on a date computed from their birth date and
sex; the tick for D therefore needs only the birth dates whose milestone falls on D. Month
ends and 29 February make that a small set, found by checking a few candidates.
"""

from __future__ import annotations

from rules.retirement import retirement_day, retirement_schedule
from state import dates
from state.dates import Day
from state.events import RETIREMENT_AGE, TURNS_18

__all__ = ["birth_dates_due", "ADULT_MONTHS"]

ADULT_MONTHS = 18 * 12


def _candidates(on: Day, months: int) -> range:
    """Birth dates within a few days of ``on`` minus ``months``: every solution is among them."""
    approx = dates.add_months(on, -months)
    return range(approx - 4, approx + 2)


def birth_dates_due(on: Day) -> list[tuple[Day, str, str]]:
    """``(birth_date, sex, kind)`` for every birth date and sex with a milestone on ``on``."""
    out: list[tuple[Day, str, str]] = []
    for birth in _candidates(on, ADULT_MONTHS):
        if dates.add_months(birth, ADULT_MONTHS) == on:
            out.append((birth, "male", TURNS_18))
            out.append((birth, "female", TURNS_18))
    men, women = retirement_schedule()
    ages = sorted({men, *(months for _, months in women)})
    seen: set[tuple[Day, str]] = set()
    for sex in ("male", "female"):
        for months in ages:
            for birth in _candidates(on, months):
                if (birth, sex) not in seen and retirement_day(birth, sex) == on:
                    seen.add((birth, sex))
                    out.append((birth, sex, RETIREMENT_AGE))
    return out
