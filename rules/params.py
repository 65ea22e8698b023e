"""Policy parameters as effective-dated data (``parameters.json``), looked up by event date.

Keeping values, units and source URLs in one reviewed data file (the OpenFisca habit) means a
new MCI or subsistence minimum is a one-line data change, and every amount can say which
parameter version produced it.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from state import dates
from state.dates import Day

__all__ = ["Params", "load_params", "half_up", "PARAMETERS_FILE"]

PARAMETERS_FILE = Path(__file__).with_name("parameters.json")


def half_up(amount: Decimal) -> int:
    """rules.md §1: compute exactly, round the final amount half up to whole tenge."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class _Series:
    starts: tuple[Day, ...]
    values: tuple[Decimal, ...]

    def at(self, on: Day) -> tuple[Decimal, Day]:
        i = bisect.bisect_right(self.starts, on) - 1
        if i < 0:
            raise LookupError(f"no value before {dates.iso(on)}")
        return self.values[i], self.starts[i]


class Params:
    """Read-only view of ``parameters.json``; every lookup takes the date it is for."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self._series = {
            name: _Series(
                starts=tuple(dates.day(k) for k in sorted(spec["values"])),
                values=tuple(Decimal(str(spec["values"][k])) for k in sorted(spec["values"])),
            )
            for name, spec in raw["dated"].items()
        }
        self._scalars = {name: spec["value"] for name, spec in raw["scalars"].items()}
        # Rules need every dated parameter: events before all of them are in force trigger nothing.
        self.in_force_from: Day = max(series.starts[0] for series in self._series.values())
        self._coefficients = {
            name: {k: Decimal(v) for k, v in spec["values"].items()}
            for name, spec in raw["coefficients"].items()
        }
        spec = raw["retirement_age"]
        self._retirement = (int(spec["men"]),
                            tuple(sorted((dates.day(k), int(v)) for k, v in spec["women"].items())))

    def value(self, name: str, on: Day) -> Decimal:
        return self._series[name].at(on)[0]

    def version_on(self, on: Day) -> str:
        """The newest effective date of any dated parameter in force on ``on``."""
        return dates.iso(max(s.at(on)[1] for s in self._series.values()))

    def scalar_int(self, name: str) -> int:
        return int(self._scalars[name])

    def scalar_decimal(self, name: str) -> Decimal:
        return Decimal(str(self._scalars[name]))

    def coefficient(self, table: str, key: str) -> Decimal:
        return self._coefficients[table][key]

    def retirement_schedule(self) -> tuple[int, tuple[tuple[Day, int], ...]]:
        """(men's age in months, ((from_day, women's age in months), ...)), oldest first."""
        return self._retirement

    def mci(self, on: Day) -> Decimal:
        return self.value("mci", on)

    def subsistence_minimum(self, on: Day) -> Decimal:
        return self.value("subsistence_minimum", on)

    def minimum_wage(self, on: Day) -> Decimal:
        return self.value("minimum_wage", on)


@lru_cache(maxsize=4)
def load_params(path: str | None = None) -> Params:
    with open(path or PARAMETERS_FILE, "rb") as fh:
        return Params(json.load(fh))
