"""The file source and sink: JSON lines in, JSON lines out.

Each has exactly one partition, so with any number of workers one worker reads the file
(in file order) and one writes each output file; the keyed stages in between spread the work.

A ``day`` tick always travels alone in its batch. Run with ``epoch_interval = 0`` (every
batch is an epoch), that makes each tick a barrier: Bytewax processes a stateful step's
epochs in order, so everything the earlier messages caused, at every step and on every
worker, is applied before anything the tick causes (see docs/DESIGN.md, "Ticks are barriers").
Days with no tick are made up first, and every message carries the open day
(``flows.tick_barrier``, shared with the Kafka source). Sinks snapshot their byte offset and truncate to it on resume, so a resumed replay writes
no line twice.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from flows import metrics
from flows.tick_barrier import TickBarrier
from flows.topics import topic_of
from schemas.codec import FUTURE_HORIZON_DAYS, RawMessage

__all__ = ["JsonLinesSource", "JsonLinesSink", "FileState"]


FileState = tuple[int, int | None]
"""Resume state of a file partition: messages consumed, and the last tick's day (``TickClock.done``)."""


def is_tick(parsed: object) -> bool:
    return type(parsed) is dict and parsed.get("type") == "day"


class _TickSeparatedPartition(StatefulSourcePartition[RawMessage, FileState]):
    """Batches of up to ``batch_size`` messages under the tick protocol (``flows.tick_barrier``):
    a ``day`` tick travels alone, through an open epoch gate, followed by its second phase, and
    days the scheduler skipped are made up first. Subclasses only say how to read the next
    message (``_read``); the resume state is the count of messages consumed and the clock's
    last day."""

    def __init__(self, batch_size: int, epoch_seconds: float = 0.0, resume: FileState | None = None,
                 future_horizon_days: int | None = None) -> None:
        count, done = _resume(resume)
        self._batch = batch_size
        self._read_count = count
        self._barrier = TickBarrier(done, future_horizon_days, epoch_seconds, metrics.TICKS_FILLED.inc)

    def _read(self) -> RawMessage | None:
        """The next message, or None at the end; advances ``_read_count``."""
        raise NotImplementedError

    def next_batch(self) -> list[RawMessage]:
        barrier = self._barrier
        batch = barrier.poll()
        if batch is None:
            batch = self._read_batch()
        return barrier.sent(batch)

    def next_awake(self) -> dt.datetime | None:
        return self._barrier.next_awake()

    def _read_batch(self) -> list[RawMessage]:
        """Messages in file order up to the next tick (a file cannot be peeked: the tick is read,
        then handed to the barrier, which releases it now if it comes first, else next time)."""
        barrier = self._barrier
        out: list[RawMessage] = []
        stamp = barrier.clock.stamp
        while len(out) < self._batch:
            msg = self._read()
            if msg is None:
                if out:
                    return out
                raise StopIteration
            if is_tick(msg.parsed):
                if out:
                    barrier.defer(msg)
                    return out
                return barrier.tick(msg)
            out.append(stamp(msg))
        return out

    def snapshot(self) -> FileState:
        self._barrier.boundary()  # Bytewax snapshots a source exactly when it closes its epoch
        # A tick read ahead, made-up ticks before it, or a tick between its two phases: the
        # real tick is read again after a resume (and the clock makes up the same days).
        clock = self._barrier.clock
        return self._read_count - clock.reading_ahead, clock.done


def _resume(state: FileState | int | None) -> FileState:
    if state is None:
        return 0, None
    if isinstance(state, int):  # written before the clock kept its day
        return state, None
    return state


class _LinesPartition(_TickSeparatedPartition):
    def __init__(self, path: Path, resume: FileState | int | None, batch_size: int, epoch_seconds: float,
                 future_horizon_days: int | None) -> None:
        super().__init__(batch_size, epoch_seconds, _resume(resume), future_horizon_days)
        self._f = open(path, "rb")
        for _ in range(self._read_count):
            if not self._f.readline():
                break

    def _read(self) -> RawMessage | None:
        while True:
            line = self._f.readline()
            if not line:
                return None
            self._read_count += 1
            value = line.rstrip(b"\r\n")
            if value.strip():  # blank lines separate nothing and mean nothing
                break
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = None
        n = self._read_count
        return RawMessage(topic_of(parsed), value, None, None, n, None, parsed, n)

    def close(self) -> None:
        self._f.close()


class JsonLinesSource(FixedPartitionedSource[RawMessage, FileState]):
    """Replay a JSON-lines file of messages of all topics, in file order (offset = line number).

    ``future_horizon_days``: a tick further than this past the open day is not believed (no days
    are made up for it; ``flows.tick_clock``); None believes any."""

    def __init__(self, path: Path | str, batch_size: int = 1000, epoch_seconds: float = 0.0,
                 future_horizon_days: int | None = FUTURE_HORIZON_DAYS) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.epoch_seconds = epoch_seconds
        self.future_horizon_days = future_horizon_days

    def list_parts(self) -> list[str]:
        return [str(self.path)]

    def build_part(self, step_id: str, for_part: str, resume_state: FileState | None) -> _LinesPartition:
        return _LinesPartition(self.path, resume_state, self.batch_size, self.epoch_seconds, self.future_horizon_days)


class _JsonLinesSinkPartition(StatefulSinkPartition[tuple[object, bytes], int]):
    def __init__(self, path: Path, resume: int | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "r+b" if resume and path.exists() else "wb")
        self._f.seek(resume or 0)
        self._f.truncate()

    def write_batch(self, values: list[tuple[object, bytes]]) -> None:
        self._f.write(b"".join(v + b"\n" for _, v in values))

    def snapshot(self) -> int:
        self._f.flush()
        return self._f.tell()

    def close(self) -> None:
        self._f.close()


class JsonLinesSink(FixedPartitionedSink[tuple[object, bytes], int]):
    """Append encoded ``(key, record)`` values, one record per line, to a single file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def list_parts(self) -> list[str]:
        return [str(self.path)]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _JsonLinesSinkPartition:
        return _JsonLinesSinkPartition(self.path, resume_state)
