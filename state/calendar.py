"""An event-time timer index: who is due on which date, woken by ``day`` ticks.

Bytewax's ``notify_at`` is wall-clock time, and a per-tick scan of millions of cards is
out of the question, so date-driven rules use this instead: a stateful step keyed by a
*date* (or a birth date) holds the keys due then; the tick for that date wakes exactly
them. Each slot is one key's state; ``flows/`` routes registrations and ticks to it.

Two kinds of slot share the logic:

- a **due-date** slot (``d:YYYY-MM-DD``) holds one-off timers (kandas notice, ruling
  expiry, an offer's reminder and lapse); they fire once and are dropped. A registration
  arriving after its date was ticked fires at once (the tick is remembered), so a timer
  is never lost to arrival order;
- a **birth-date** slot (``b:YYYY-MM-DD:sex``) holds everyone born that day: the tick for
  D asks the few birth dates whose people turn 18 or reach retirement age on D (see
  ``rules.calendar``). IINs are kept as 64-bit ints in an ``array``: 8 bytes a person.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from state.dates import Day

__all__ = ["DueSlot", "BirthSlot", "Timer"]


@dataclass(slots=True, frozen=True)
class Timer:
    """Wake ``target`` (an IIN, a family id or a notification id) for ``kind`` on ``due``."""

    due: Day
    target: str
    kind: str


@dataclass(slots=True)
class DueSlot:
    """``index`` is a set of ``timers`` for the "already registered?" test, built on first use:
    at national scale one date holds ~10 000 timers (a day's offers' reminders, the kandas
    notices due before the first tick), and a list's membership test made registering them
    quadratic (found by the national-scale run, minutes per day)."""

    ticked: bool = False
    timers: list[Timer] = field(default_factory=list)
    index: set[Timer] | None = field(default=None, compare=False, repr=False)

    def register(self, timer: Timer) -> list[Timer]:
        if self.ticked:
            return [timer]
        index = self.index
        if index is None:
            index = self.index = set(self.timers)
        if timer not in index:
            index.add(timer)
            self.timers.append(timer)
        return []

    def tick(self) -> list[Timer]:
        self.ticked = True
        due, self.timers = self.timers, []
        self.index = None
        return due


@dataclass(slots=True)
class BirthSlot:
    iins: array = field(default_factory=lambda: array("q"))

    def register(self, iin: str) -> None:
        value = int(iin)
        if value not in self.iins:
            self.iins.append(value)

    def wake(self, kinds: tuple[str, ...], on: Day) -> list[Timer]:
        return [Timer(on, f"{value:012d}", kind) for value in self.iins for kind in kinds]
