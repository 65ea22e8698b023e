"""``bench.scaleout_probe`` at a tiny size: 1 and 2 Bytewax processes count the same items."""

from __future__ import annotations

import math

from bench.scaleout_probe import ProbeResult, measure


def test_probe_one_and_two_processes_agree() -> None:
    res = measure(families=50, work=[0], repeat=1, ceiling_seconds=0, log=lambda _: None)
    assert isinstance(res, ProbeResult)
    assert res.lines > 1000  # 50 families and a year of day ticks
    [row] = res.rows
    assert row.work_us == 0
    assert row.one.processes == 1 and row.two.processes == 2
    assert row.one.items == row.two.items == row.items == res.lines
    assert row.one.count_sum == row.two.count_sum > row.items  # keys saw more than one item each
    assert len(row.two.cpu_each) == 2 and all(c > 0 for c in row.two.cpu_each)
    assert isinstance(row.speedup, float) and math.isfinite(row.speedup) and row.speedup > 0
    assert isinstance(row.processing_speedup, float) and row.processing_speedup > 0
    md = res.markdown()
    assert "| work µs/item/step |" in md and md.count("\n|") == 3  # header, rule, one row
