"""Keeping each ``day`` tick in an epoch of its own when epochs are longer than a batch.

With ``epoch_interval = 0`` every batch is an epoch and a tick alone in its batch is a
barrier for free. With recovery on, an epoch per batch means a snapshot per batch, so live
mode runs with epochs of a second or more; then a source must *wait* for an epoch
boundary before a tick, between its two phases, and after it. Bytewax advances the epoch
at the first activation after the interval has elapsed, whether or not the batch was
empty, so waiting a little longer than the interval since the last emission suffices.
At one tick per day the wait costs nothing in live mode.
"""

from __future__ import annotations

import datetime as dt
import time

__all__ = ["EpochGate"]

_MARGIN = 1.25  # wait a quarter interval more than the interval itself


class EpochGate:
    def __init__(self, epoch_seconds: float) -> None:
        self.seconds = epoch_seconds * _MARGIN
        self._last_emit = -1e18

    def open(self) -> bool:
        """Whether an epoch boundary has surely passed since the last emission."""
        return self.seconds <= 0 or time.monotonic() - self._last_emit >= self.seconds

    def emitted(self) -> None:
        self._last_emit = time.monotonic()

    def awake_at(self) -> dt.datetime | None:
        if self.seconds <= 0:
            return None
        wait = max(0.0, self.seconds - (time.monotonic() - self._last_emit))
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
