"""Keeping each ``day`` tick in an epoch of its own when epochs are longer than a batch.

With ``epoch_interval = 0`` every batch is an epoch and a tick alone in its batch is a
barrier for free. With longer epochs (live mode with recovery: a snapshot per batch is too
dear) a source must *wait* for an epoch boundary before a tick, between its two phases, and
after it: nothing may share the tick's epoch.

How Bytewax 0.21 closes a source's epoch (``src/inputs.rs``): in an activation of the input
operator it first calls ``next_batch`` (when the partition is awake), *then*, if the
interval has elapsed since the epoch started, calls the partition's ``snapshot`` and
advances the epoch. So

- a ``snapshot`` call is exactly an epoch boundary: whatever is emitted after it belongs to
  a new epoch. Sources report it with ``boundary()`` (the Kafka source does); this is exact.
- Without that report, time alone is not enough: the poll that finds the interval elapsed
  is answered *before* Bytewax closes the epoch in the same activation, so emitting the tick
  then would put it in the old epoch with the messages before it (measured: every tick did,
  with the former rule "open once 1.25 intervals have passed since the last emission").
  The gate therefore answers that poll "closed" and opens from the next one on: by then the
  activation that made the poll has closed the epoch.

At one tick per day the wait (up to about three intervals) costs nothing in live mode.
"""

from __future__ import annotations

import datetime as dt
import time

__all__ = ["EpochGate"]

_MARGIN = 1.25  # time rule: a quarter interval more than the interval (clocks, activation lag)
_AFTER = 0.001  # wake this long after the moment Bytewax is expected to close the epoch


class EpochGate:
    def __init__(self, epoch_seconds: float) -> None:
        self.interval = max(0.0, epoch_seconds)
        self._last_emit = -1e18
        self._last_boundary: float | None = None  # when the source last reported a boundary
        self._crossed = True  # an epoch boundary since the last emission (nothing emitted yet: yes)
        self._armed = False  # a poll found the interval elapsed and was answered closed

    def open(self) -> bool:
        """Whether what is emitted now starts a new epoch (nothing emitted earlier shares it).

        It records the poll (the time rule, see the module docstring): call it only from
        ``next_batch`` or ``next_awake``, which Bytewax calls in an activation that then
        checks whether to close the epoch.
        """
        if self.interval <= 0 or self._crossed or self._armed:
            return True
        if time.monotonic() - self._last_emit >= self.interval * _MARGIN:
            self._armed = True  # this activation closes the epoch after this poll; open from the next
        return False

    def emitted(self) -> None:
        self._last_emit = time.monotonic()
        self._crossed = False
        self._armed = False

    def boundary(self) -> None:
        """Bytewax just closed the source's epoch: call from the partition's ``snapshot``."""
        self._crossed = True
        self._last_boundary = time.monotonic()

    def awake_at(self) -> dt.datetime | None:
        """When to poll again while the gate is closed (None: it is open, poll at once)."""
        if self.interval <= 0 or self._crossed:
            return None
        now = time.monotonic()
        if self._armed:
            due = now
        else:
            due = self._last_emit + self.interval * _MARGIN
            if self._last_boundary is not None:
                # Bytewax closes the epoch at the first poll an interval after the last close.
                due = min(due, self._last_boundary + self.interval + _AFTER)
            # A poll at or after ``due`` lets the same activation close the epoch; the report
            # (``boundary``) or the armed poll then opens the gate, one more activation later.
            due = max(due, now + _AFTER)
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=max(0.0, due - now))
