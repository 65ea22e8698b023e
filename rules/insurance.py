"""Social insurance (СОСС) definitions of rules.md §2: insured, participation, AMD and PSC.

The figures (the 24-month window, the 7 x minimum wage cap, the PSC bands) are data in
``parameters.json``; this module only knows how to read a banded table.
"""

from __future__ import annotations

import re
from decimal import Decimal

from rules.params import Params
from state import dates
from state.dates import Day, Month
from state.person import PersonCard

__all__ = [
    "insured", "participation_months", "amd_window", "amd", "contribution_months_before", "psc", "banded",
]

# A band key of a coefficient table: "6" (exactly 6), "6-11" (6 to 11), "6+" (6 or more).
_BAND = re.compile(r"^(\d+)(?:-(\d+)|(\+))?$")


def _bands(params: Params, table: str) -> list[tuple[int, int | None, str]]:
    """(low, high or None for open-ended, key) of every band key of ``table``, lowest first."""
    out: list[tuple[int, int | None, str]] = []
    for key in params.raw["coefficients"][table]["values"]:
        m = _BAND.match(key)
        if m is None:
            continue  # a named entry of the table (a step, a cap), not a band
        low = int(m.group(1))
        high = None if m.group(3) else int(m.group(2) or low)
        out.append((low, high, key))
    return sorted(out)


def banded(params: Params, table: str, n: int) -> tuple[Decimal, str] | None:
    """The coefficient of the band of ``table`` that contains ``n``, with its key (None if none)."""
    for low, high, key in _bands(params, table):
        if low <= n and (high is None or n <= high):
            return params.coefficient(table, key), key
    return None


def insured(card: PersonCard) -> bool:
    """rules.md §2: a СОСС participant has at least one contribution month."""
    return bool(card.contributions)


def participation_months(card: PersonCard, event_day: Day) -> int:
    """Distinct contribution months up to and including the event's month."""
    return card.participation_months(dates.month_of(event_day))


def amd_window(event_day: Day, params: Params) -> tuple[Month, Month]:
    """The calendar months [first, last] before the event's month that AMD averages over."""
    last = dates.month_of(event_day) - 1
    return last - params.scalar_int("amd_window_months") + 1, last


def contribution_months_before(card: PersonCard, event_day: Day, params: Params) -> int:
    """Contribution months in the AMD window (the 24 calendar months before the event's month)."""
    first, last = amd_window(event_day, params)
    return len(card.contribution_months(first, last))


def amd(card: PersonCard, event_day: Day, params: Params) -> Decimal:
    """Average monthly insured income: capped incomes of the window's months over its length, exactly."""
    first, last = amd_window(event_day, params)
    cap = params.scalar_decimal("amd_cap_minimum_wages") * params.minimum_wage(event_day)
    total = sum((min(Decimal(income), cap) for _, income in card.contribution_months(first, last)), Decimal(0))
    return total / params.scalar_int("amd_window_months")


def psc(months: int, params: Params) -> Decimal:
    """Participation coefficient by participation months (rules.md §2, table ``psc``).

    Past the last band, each further full 12 months adds the step, up to the cap.
    """
    found = banded(params, "psc", months)
    if found is not None:
        return found[0]
    bands = _bands(params, "psc")
    _, last_high, last_key = bands[-1]
    if last_high is None or months < bands[0][0]:
        raise LookupError(f"no PSC band for {months} months")
    steps = (months - last_high - 1) // 12 + 1
    value = params.coefficient("psc", last_key) + steps * params.coefficient("psc", "step per further 12 months")
    return min(value, params.coefficient("psc", "max"))
