"""Reference data the simulation draws from: regions, operators, banks, causes, awards, rates.

Tables, rates and small pure helpers over them (life tables, weighted picks, month bounds,
the retirement schedule of ``rules/``), no state: every other module of the generator reads
them and none writes them, so a change here changes the synthetic population and nothing
else. The figures are Kazakhstan-like and deliberately rough: the rules care about shapes
(who is old, who has five children), not decimals.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
import random
from typing import Any

from rules.params import load_params
from rules.retirement import retirement_day as _retirement_day

_BASELINE = load_params()  # the generator simulates the baseline policy (rules/parameters.json)

# (region, population in millions (weights the draw), share of Russian-speaking families).
# Population: Bureau of National Statistics, 2024; the language shares are a rough north/south
# gradient tuned so the whole country comes out near 70 % kk / 30 % ru.
REGIONS: tuple[tuple[str, float, float], ...] = (
    ("Almaty", 2.29, 0.45), ("Astana", 1.42, 0.30), ("Shymkent", 1.22, 0.08),
    ("Turkestan region", 2.15, 0.03), ("Almaty region", 1.52, 0.15), ("Zhambyl region", 1.22, 0.08),
    ("Karaganda region", 1.14, 0.62), ("Aktobe region", 0.94, 0.15), ("Kyzylorda region", 0.84, 0.03),
    ("Kostanay region", 0.83, 0.70), ("Akmola region", 0.79, 0.55), ("Mangystau region", 0.78, 0.04),
    ("Pavlodar region", 0.76, 0.65), ("East Kazakhstan region", 0.72, 0.62), ("Atyrau region", 0.70, 0.04),
    ("Zhetisu region", 0.70, 0.15), ("West Kazakhstan region", 0.69, 0.25), ("Abai region", 0.61, 0.35),
    ("North Kazakhstan region", 0.53, 0.75), ("Ulytau region", 0.22, 0.25),
)
_REGION_CUM = tuple(itertools.accumulate(w for _, w, _ in REGIONS))

_OPERATORS = ("700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778")
_BANKS = ("722", "601", "998", "965", "914", "826", "856", "070")  # Kaspi, Halyk, Jusan, Forte, ...
_ALNUM = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"

_DISMISSAL_REASONS = ("staff_reduction", "employer_liquidation", "contract_expiry", "own_initiative",
                      "disciplinary", "other")
_DISMISSAL_CUM = tuple(itertools.accumulate((0.25, 0.10, 0.20, 0.30, 0.05, 0.10)))
_ADULT_CAUSES = ("general_illness", "since_childhood", "work_injury", "occupational_disease", "other")
_ADULT_CAUSE_CUM = tuple(itertools.accumulate((0.68, 0.12, 0.07, 0.05, 0.08)))
_CHILD_CAUSES = ("since_childhood", "general_illness", "other")
_CHILD_CAUSE_CUM = tuple(itertools.accumulate((0.70, 0.22, 0.08)))
# Adults' groups so that, with ~15 % child rulings, the whole mix is I 10 / II 40 / III 35 / child 15.
_ADULT_GROUPS = ("I", "II", "III")
_ADULT_GROUP_CUM = tuple(itertools.accumulate((0.10, 0.40, 0.35)))
_PCT = {"I": (80, 90, 100), "II": (60, 70, 80), "III": (30, 40, 50, 60), "child": (0,)}
_OLD_AWARDS = ("mother_heroine", "materinskaya_slava_1", "materinskaya_slava_2", "altyn_alka", "kumis_alka")
_OLD_AWARD_CUM = tuple(itertools.accumulate((0.20, 0.25, 0.25, 0.15, 0.15)))

_YEAR = 365.2425
_NEVER = 1 << 30  # a day after any period: "not yet known" / "indefinite"
_MAX_SERIAL = 9999  # an IIN has four serial digits; serial 0 is never used
_SUBSCRIBERS = 10_000_000  # seven-digit subscriber numbers per operator code

# Event rates of the period, per person (or per employed person) and year.
BIRTHS_PER_1000 = 20.0
DEATHS_PER_1000 = 7.0
RULINGS_PER_1000 = 5.0
DISMISSALS_PER_EMPLOYED = 0.04
HIRES_PER_JOBLESS = 0.05
MOVERS_PER_1000 = 5.0
CONTACT_CHANGES_PER_ADULT = 0.04
TWIN_SHARE = 0.015
LATE_SHARE = 0.005


def retirement_day(born: int, male: bool) -> int:
    """First day (ordinal) on which the age is at least the retirement age then in force (rules.md §1).

    The generator retires people on the same day the rules do: one schedule, in ``rules/``.
    """
    return _retirement_day(born, "male" if male else "female", _BASELINE)


@functools.lru_cache(maxsize=256)
def _month_bounds(m: int) -> tuple[int, int]:
    """First and last day (ordinals) of month index ``year*12 + month-1``."""
    year, month = divmod(m, 12)
    return dt.date(year, month + 1, 1).toordinal(), dt.date(year + (month == 11), (month + 1) % 12 + 1, 1).toordinal() - 1


def _cum_pick(r: random.Random, cum: tuple[float, ...], items: tuple[Any, ...]) -> Any:
    return items[bisect.bisect(cum, r.random() * cum[-1])]

def _mortality(age: float) -> float:
    """Deaths per person-year by age, roughly Kazakhstan's life table; only the shape matters."""
    if age < 1:
        return 0.008
    if age < 15:
        return 0.0004
    if age < 30:
        return 0.0012
    if age < 45:
        return 0.003
    if age < 55:
        return 0.006
    if age < 65:
        return 0.014
    if age < 75:
        return 0.03
    return 0.07


def _fertility(age: float) -> float:
    """Births per woman-year by age (Kazakhstan's TFR is about 3)."""
    if age < 18 or age >= 45:
        return 0.0
    if age < 20:
        return 0.04
    if age < 25:
        return 0.13
    if age < 30:
        return 0.16
    if age < 35:
        return 0.13
    if age < 40:
        return 0.08
    return 0.025
