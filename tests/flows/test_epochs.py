"""``flows.epochs.EpochGate``: with epochs longer than a batch, a ``day`` tick is alone in its epoch.

A source that emits one message per poll, with a tick every 25 messages, gated as the Kafka
and file sources gate theirs. The epoch of each emission is counted from the partition's
``snapshot`` calls, which Bytewax makes exactly when it closes the source's epoch.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.testing import TestingSink, run_main

from flows.epochs import EpochGate

EVERY = 25


class _Part(StatefulSourcePartition[tuple[str, int], int]):
    def __init__(self, n: int, interval: float, report: bool, log: list[tuple[int, tuple[str, int]]]) -> None:
        self.i, self.n, self.epoch, self.log, self.report = 0, n, 0, log, report
        self.gate = EpochGate(interval)
        self.after_tick = False

    def _gated(self) -> bool:
        return self.i % EVERY == EVERY - 1 or self.after_tick

    def next_batch(self) -> list[tuple[str, int]]:
        if self.i >= self.n:
            raise StopIteration
        is_open = self.gate.open()  # once per poll, as the sources do
        if self._gated() and not is_open:
            return []
        tick = self.i % EVERY == EVERY - 1
        self.after_tick = tick
        item = ("tick" if tick else "msg", self.i)
        self.i += 1
        self.log.append((self.epoch, item))
        self.gate.emitted()
        return [item]

    def next_awake(self) -> dt.datetime | None:
        return self.gate.awake_at() if self._gated() else None

    def snapshot(self) -> int:
        self.epoch += 1
        if self.report:
            self.gate.boundary()
        return self.i


class _Source(FixedPartitionedSource[tuple[str, int], int]):
    def __init__(self, *args: Any) -> None:
        self.args = args

    def list_parts(self) -> list[str]:
        return ["only"]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Part:
        return _Part(*self.args)


@pytest.mark.parametrize("report", [True, False], ids=["boundary-reported", "time-only"])
def test_a_tick_never_shares_its_epoch(report: bool) -> None:
    interval, n = 0.01, 300
    log: list[tuple[int, tuple[str, int]]] = []
    flow = Dataflow("gate")
    op.output("out", op.input("in", flow, _Source(n, interval, report, log)), TestingSink([]))
    t0 = time.monotonic()
    run_main(flow, epoch_interval=dt.timedelta(seconds=interval))
    assert [item[1] for _, item in log] == list(range(n))
    by_epoch: dict[int, list[tuple[str, int]]] = {}
    for epoch, item in log:
        by_epoch.setdefault(epoch, []).append(item)
    ticks = [items for items in by_epoch.values() if any(kind == "tick" for kind, _ in items)]
    assert len(ticks) == n // EVERY
    assert all(len(items) == 1 for items in ticks), [items for items in ticks if len(items) > 1][:3]
    # Messages between ticks still share epochs (the gate waits only around ticks) ...
    assert len(by_epoch) < n
    # ... and each tick waits about one to three intervals, not more.
    assert time.monotonic() - t0 < 5.0


def test_zero_interval_never_waits() -> None:
    gate = EpochGate(0)
    gate.emitted()
    assert gate.open() and gate.awake_at() is None


def test_time_rule_answers_the_closing_poll_closed() -> None:
    """Without boundary reports the poll that finds the interval elapsed is answered closed:
    Bytewax closes the epoch after that poll, in the same activation; the next poll opens."""
    gate = EpochGate(0.01)
    assert gate.open()  # nothing emitted yet
    gate.emitted()
    assert not gate.open()
    time.sleep(0.0125 * 1.1)
    assert not gate.open()  # arms
    assert gate.awake_at() is not None
    assert gate.open()
    gate.emitted()
    assert not gate.open()
    gate.boundary()
    assert gate.open() and gate.awake_at() is None


def test_file_replay_with_longer_epochs_gives_the_same_outputs(tmp_path: Path) -> None:
    """The file source gates its ticks by the time rule (it does not report boundaries):
    a replay with epochs longer than a batch must give exactly the outputs of interval 0."""
    from familycard.cli import OUTPUT_FILES, main
    from familycard.generator import generate, write_jsonl

    src = tmp_path / "events.jsonl"
    with open(src, "wb") as fh:
        write_jsonl(generate(300, dt.date(2026, 1, 1), 60, 3), fh)
    outs = {}
    for interval in ("0", "0.01"):
        out = tmp_path / f"out-{interval}"
        assert main(["run", "--input", str(src), "--output", str(out), "--epoch-seconds", interval,
                     "--simulate-citizens"]) == 0
        outs[interval] = {name: sorted((out / name).read_bytes().splitlines()) if (out / name).exists() else []
                          for name in OUTPUT_FILES}
    assert sum(len(v) for v in outs["0"].values()) > 40
    assert outs["0"] == outs["0.01"]
