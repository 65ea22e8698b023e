"""How a source lets a ``day`` tick through: alone, in an epoch of its own, then its second phase.

Both sources (``flows.files`` and ``flows.kafka.source``) follow one protocol, kept here:

- a tick travels **alone** in its batch, and only through an **open epoch gate**
  (``flows.epochs.EpochGate``): nothing emitted before it shares its epoch;
- it is followed, in the next batch, by its **second phase** (the offer timers' epoch,
  ``schemas.codec.second_phase``), which waits for the gate too, and so does the first batch
  after the second phase;
- days the scheduler skipped are **made up** first, each alone and in both phases
  (``flows.tick_clock.TickClock``, which also keeps the open day every message is stamped with).

With ``epoch_interval = 0`` (every batch is an epoch) the gate is always open and "alone in its
batch" already makes the tick a barrier (docs/DESIGN.md, "Ticks are barriers").

A source's ``next_batch`` calls ``poll`` once, first (the gate counts polls, so it must be asked
exactly once per call): it answers "wait" (``[]``), a tick from the clock to emit alone, or
``None``: release your own messages, a tick among them only if ``tick_allowed``. A real tick the
source releases (or reads) goes through ``tick`` (or ``defer``, when messages before it already
fill the batch); every batch the source emits goes through ``sent``. The resume states stay the
sources' own; ``clock.done`` and ``clock.reading`` are what they record of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flows.epochs import EpochGate
from flows.tick_clock import TickClock
from schemas.codec import RawMessage
from state.dates import Day

__all__ = ["TickBarrier"]


class TickBarrier:
    """The tick protocol of a source (module doc): a ``TickClock`` behind an ``EpochGate``.

    ``done`` is the clock's resume state (the last tick released in both phases), ``on_filled``
    is called once per made-up tick (a metric).
    """

    def __init__(self, done: Day | None, horizon_days: int | None, epoch_seconds: float = 0.0,
                 on_filled: Callable[[], object] | None = None) -> None:
        self.clock = TickClock(done, horizon_days, on_filled)
        self.gate = EpochGate(epoch_seconds)
        self._gated_next = False  # the batch after a tick's second phase waits for the gate too
        self._gate_open = True    # the gate's answer in this poll

    @property
    def open_day(self) -> Day | None:
        return self.clock.open_day

    @property
    def tick_allowed(self) -> bool:
        """Whether a tick may go in this poll (alone): the gate was open when it began."""
        return self._gate_open

    def poll(self, tick_next: bool = False) -> list[RawMessage] | None:
        """Begin a ``next_batch``: ``[]`` = wait for the gate, ``[tick]`` = emit this tick (a second
        phase or a made-up one) alone, ``None`` = the source releases its own messages.

        ``tick_next``: the source knows its next message is a tick (the Kafka source sees its
        heap's head), so it waits for the gate before releasing anything.
        """
        self._gate_open = gate_open = self.gate.open()
        clock = self.clock
        if (clock.busy or self._gated_next or tick_next) and not gate_open:
            return []  # wait for an epoch boundary (see flows/epochs.py)
        if clock.busy:
            return self._from_clock()
        self._gated_next = False
        return None

    def tick(self, raw: RawMessage) -> list[RawMessage]:
        """A real tick comes first in the batch: the clock queues it (after made-up ticks for
        skipped days); returns the first of them to emit alone, or ``[]`` if the gate is closed
        in this poll (then it goes in a later one)."""
        self.clock.ticks(raw)
        return self._from_clock() if self._gate_open else []

    def defer(self, raw: RawMessage) -> None:
        """A real tick was read behind messages of this batch: it goes in a later poll."""
        self.clock.ticks(raw)

    def _from_clock(self) -> list[RawMessage]:
        clock = self.clock
        tick = clock.next_tick()
        assert tick is not None
        self._gated_next = tick.phase == 2 and not clock.busy
        return [tick]

    def sent(self, batch: list[RawMessage]) -> list[RawMessage]:
        """The source emits ``batch`` (returned as is): a non-empty one starts the gate's count."""
        if batch:
            self.gate.emitted()
        return batch

    def boundary(self) -> None:
        """Bytewax just closed the source's epoch: call from the partition's ``snapshot``."""
        self.gate.boundary()

    def awake_at(self) -> dt.datetime | None:
        """When a source told to wait should poll again."""
        return self.gate.awake_at()

    def next_awake(self) -> dt.datetime | None:
        """``next_awake`` for a source that always has input (a file): at once while the gate is
        open, else when it may open. Counts as a poll of the gate."""
        return None if self.gate.open() else self.gate.awake_at()
