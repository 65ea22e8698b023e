"""The flow's day as a source keeps it: which day is open, which tick is the first, and the
days the scheduler skipped (rules.md §5a, "Dates are never missed"; issue 13).

Both sources (``flows.files`` and ``flows.kafka.source``) release a ``day`` tick alone, then its
second phase (``flows.tick_barrier``). Around that protocol this clock, engine- and broker-free, says:

- ``open_day``: the day after the last tick released in both phases (None before the first).
  Every message the source releases is stamped with it (``RawMessage.open_day``): a message
  released after its recorded day's tick is acted on as of that day (an offer's reply window
  starts then), and ``schemas.codec.decode`` bounds event time by it (``future_date``).
- ``first_tick``: the first tick released since the process started (the calendar catches up
  on timers no tick reached, ``flows.routing.CatchUp``).
- **Gaps**: a tick for D when the open day is O < D means the ticks of O .. D-1 never came. The
  clock releases them first, made up (``filled``), in date order, each alone and in both
  phases, so every timer of those days fires, in order, before D's. Counted
  (``familycard_day_ticks_filled_total``) and alerted (``DayTicksMissing``).
- A tick beyond the horizon (``open_day + future_horizon_days``) is not believed: it goes
  through unchanged, without filling, for the decoder to dead-letter as ``future_date``, and
  the clock does not move. A tick for a day already closed (a re-sent tick) moves nothing
  either.

The clock's resume state is ``done`` (the last tick released in both phases): a source that
snapshots between a tick's phases, or while made-up ticks are pending, reads the real tick
again after a resume, and the clock makes up the same days again.
"""

from __future__ import annotations

import datetime as dt
from collections import deque

import orjson

from schemas.codec import RawMessage, second_phase
from state.dates import Day

__all__ = ["TickClock", "tick_day"]


def tick_day(parsed: object) -> Day | None:
    """The date of a ``day`` tick's ``occurred_on``, or None if it has no usable date."""
    if type(parsed) is not dict:
        return None
    text = parsed.get("occurred_on")
    if type(text) is not str:
        return None
    try:
        return dt.date.fromisoformat(text).toordinal()
    except ValueError:
        return None


class TickClock:
    """The open day, the first tick, and made-up ticks for skipped days (module doc).

    A source calls ``ticks(raw)`` when it reads a tick, releases what ``next_tick`` gives one at
    a time (each followed by its second phase, which the clock also hands out), and ``stamp``s
    every other message it releases.
    """

    def __init__(self, done: Day | None, horizon_days: int | None, on_filled: object = None) -> None:
        self.done = done                  # the last tick released in both phases
        self.horizon = horizon_days
        self.started = False              # a tick was released since this process started
        self._pending: deque[RawMessage] = deque()
        self._current: RawMessage | None = None  # a phase-1 tick whose second phase is due
        self._on_filled = on_filled       # called once per made-up tick (a metric)

    @property
    def open_day(self) -> Day | None:
        return None if self.done is None else self.done + 1

    @property
    def busy(self) -> bool:
        """A tick (made up or real) or a second phase is waiting to be released."""
        return self._current is not None or bool(self._pending)

    @property
    def reading_ahead(self) -> bool:
        """The real tick the source read is not released in both phases yet: a snapshot now must
        make the source read it again."""
        return self.busy

    @property
    def reading(self) -> RawMessage | None:
        """That real tick (``reading_ahead``), or None."""
        if self._pending:
            return self._pending[-1]
        return self._current

    def stamp(self, raw: RawMessage) -> RawMessage:
        raw.open_day = self.open_day
        return raw

    def ticks(self, raw: RawMessage) -> None:
        """A tick was read: queue the ticks to release for it (made-up ones for skipped days first)."""
        assert not self.busy, "a tick is released alone: the previous one must be out first"
        day = tick_day(raw.parsed)
        opened = self.open_day
        if day is not None and opened is not None and opened < day and not self._beyond(day):
            for missing in range(opened, day):
                self._pending.append(_made_up(raw, missing))
        self._pending.append(raw)

    def next_tick(self) -> RawMessage | None:
        """The next tick message to release (a second phase after each first), or None."""
        current = self._current
        if current is not None:
            self._current = None
            day = tick_day(current.parsed)
            if day is not None and (self.done is None or day > self.done) and not self._beyond(day):
                self.done = day
            return second_phase(current)
        if not self._pending:
            return None
        tick = self._pending.popleft()
        tick.open_day = self.open_day
        tick.first_tick = not self.started
        self.started = True
        if tick.filled and self._on_filled is not None:
            self._on_filled()  # type: ignore[operator]
        self._current = tick
        return tick

    def _beyond(self, day: Day) -> bool:
        opened = self.open_day
        return self.horizon is not None and opened is not None and day > opened + self.horizon


def _made_up(real: RawMessage, on: Day) -> RawMessage:
    """A tick for ``on``, which the scheduler skipped, carried by the real tick that showed the gap."""
    iso = dt.date.fromordinal(on).isoformat()
    parsed = {"event_id": f"day-{iso}", "type": "day", "occurred_on": iso}
    return RawMessage(real.topic, orjson.dumps(parsed), real.key, real.partition, real.offset, real.timestamp_ms,
                      parsed, real.seq, filled=True)
