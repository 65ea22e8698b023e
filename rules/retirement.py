"""The date a person reaches retirement age (rules.md §1).

"A person reaches retirement age on the first date D on which their age is at least the
retirement age in force on D": for women the age rises by half a year from 2028 to 2031,
so a woman born 1967-01-10 turns 61 on 2028-01-10 — when 61.5 is already in force — and
reaches it on 2028-07-10.
"""

from __future__ import annotations

from rules.params import Params
from state import dates
from state.dates import Day

__all__ = ["retirement_day", "retirement_schedule"]

_NEVER = dates.day("9999-12-31")


def retirement_schedule(params: Params) -> tuple[int, tuple[tuple[Day, int], ...]]:
    """(men's months, ((from_day, women's months), ...)) from the parameters' ``retirement_age``."""
    return params.retirement_schedule()


def retirement_day(birth: Day, sex: str, params: Params) -> Day:
    men, women = params.retirement_schedule()
    if sex == "male":
        return dates.add_months(birth, men)
    for i, (since, months) in enumerate(women):
        d = dates.add_months(birth, months)
        if i:
            d = max(d, since)  # old enough already when this age came into force
        until = women[i + 1][0] if i + 1 < len(women) else _NEVER
        if d < until:
            return d
    raise AssertionError("unreachable: the last period is open-ended")
