"""File and in-memory sources and sinks: JSON lines in, JSON lines out.

Each has exactly one partition, so with any number of workers one worker reads the file
(in file order) and one writes each output file; the keyed stages in between spread the work.

A ``day`` tick always travels alone in its batch. Run with ``epoch_interval = 0`` (every
batch is an epoch), that makes each tick a barrier: Bytewax processes a stateful step's
epochs in order, so everything the earlier messages caused, at every step and on every
worker, is applied before anything the tick causes (see docs/DESIGN.md, "Ticks are barriers").
Sinks snapshot their byte offset and truncate to it on resume, so a resumed replay writes
no line twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from flows.epochs import EpochGate
from flows.topics import topic_of
from schemas.codec import RawMessage, second_phase

__all__ = ["JsonLinesSource", "IterableSource", "JsonLinesSink"]


def is_tick(parsed: object) -> bool:
    return type(parsed) is dict and parsed.get("type") == "day"


class _TickSeparatedPartition(StatefulSourcePartition[RawMessage, int]):
    """Batches of up to ``batch_size`` messages in which a ``day`` tick travels alone and is
    followed, one batch later, by its second phase. Subclasses only say how to read the
    next message (``_read``); the resume state is the count of messages consumed."""

    def __init__(self, batch_size: int, epoch_seconds: float = 0.0) -> None:
        self._batch = batch_size
        self._read_count = 0
        self._next_tick: RawMessage | None = None
        self._gate = EpochGate(epoch_seconds)
        self._gated_next = False  # the batch after a tick's second phase waits too

    def _read(self) -> RawMessage | None:
        """The next message, or None at the end; advances ``_read_count``."""
        raise NotImplementedError

    def next_batch(self) -> list[RawMessage]:
        batch = self._next_batch()
        if batch:
            self._gate.emitted()
        return batch

    def next_awake(self) -> dt.datetime | None:
        return None if self._gate.open() else self._gate.awake_at()

    def _next_batch(self) -> list[RawMessage]:
        if self._next_tick is not None or self._gated_next:
            if not self._gate.open():
                return []  # wait for an epoch boundary (see flows/epochs.py)
        if self._next_tick is not None:
            tick, self._next_tick = self._next_tick, None
            if tick.phase == 1:
                self._next_tick = second_phase(tick)
            else:
                self._gated_next = True
            return [tick]
        self._gated_next = False
        out: list[RawMessage] = []
        while len(out) < self._batch:
            msg = self._read()
            if msg is None:
                if out:
                    return out
                raise StopIteration
            if is_tick(msg.parsed):
                self._next_tick = msg
                return out if out else self._next_batch()
            out.append(msg)
        return out

    def snapshot(self) -> int:
        self._gate.boundary()  # Bytewax snapshots a source exactly when it closes its epoch
        # A tick read ahead, or between its two phases, is read again after a resume.
        return self._read_count - (self._next_tick is not None)


class _LinesPartition(_TickSeparatedPartition):
    def __init__(self, path: Path, resume: int | None, batch_size: int, epoch_seconds: float) -> None:
        super().__init__(batch_size, epoch_seconds)
        self._f = open(path, "rb")
        for _ in range(resume or 0):
            if not self._f.readline():
                break
        self._read_count = resume or 0

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


class JsonLinesSource(FixedPartitionedSource[RawMessage, int]):
    """Replay a JSON-lines file of messages of all topics, in file order (offset = line number)."""

    def __init__(self, path: Path | str, batch_size: int = 1000, epoch_seconds: float = 0.0) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.epoch_seconds = epoch_seconds

    def list_parts(self) -> list[str]:
        return [str(self.path)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _LinesPartition:
        return _LinesPartition(self.path, resume_state, self.batch_size, self.epoch_seconds)


class _IterPartition(_TickSeparatedPartition):
    def __init__(self, messages: Iterator[dict], resume: int | None, batch_size: int,
                 epoch_seconds: float = 0.0) -> None:
        super().__init__(batch_size, epoch_seconds)
        self._it = messages
        for _ in range(resume or 0):
            next(self._it, None)
        self._read_count = resume or 0

    def _read(self) -> RawMessage | None:
        msg = next(self._it, None)
        if msg is None:
            return None
        self._read_count += 1
        n = self._read_count
        return RawMessage(topic_of(msg), orjson.dumps(msg), None, None, n, None, msg, n)


class IterableSource(FixedPartitionedSource[RawMessage, int]):
    """Messages from a deterministic generator function (the embedded default, no Kafka)."""

    def __init__(self, make: Callable[[], Iterable[dict]], batch_size: int = 1000) -> None:
        self.make = make
        self.batch_size = batch_size

    def list_parts(self) -> list[str]:
        return ["generated"]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _IterPartition:
        return _IterPartition(iter(self.make()), resume_state, self.batch_size)


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
