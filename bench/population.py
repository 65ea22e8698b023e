"""Population load and a year of life events from a file; 1 versus 2 worker processes.

A generated population of N families is written to a JSON-lines file: first the population
load (every ``person_registered``, then what the registries already knew as late records:
employment, 24 months of contributions, pensions, rulings, awards), then a year of life
events with ``day`` ticks. ``familycard run --input FILE --workers W --state S [--recovery DIR]``
runs in a subprocess, five times: 1 and 2 processes with live state, 1 and 2 processes with
packed state (``--state packed``: each person's and family's slot pickled between uses), and 2
processes with live state and recovery on.

While it runs, the process tree is sampled every 50 ms: VmRSS and VmHWM of each process
(``/proc/PID/status``) and the input file's read position (``/proc/PID/fdinfo``). The time at
which the position passes the first byte of the year splits the run into *load* and *year*
(the source is held back by Bytewax's backpressure, so reading is at most a few batches ahead
of processing). RSS per person = (tree RSS at the end of the load − tree RSS when reading
started) / people registered. ``wait4`` gives CPU seconds of the whole tree and ``ru_maxrss``.

With recovery on, the sqlite files' sizes are the snapshot size; the live snapshot rows
(``snaps``, latest epoch per key; the person and family stages store one row per shard holding
each of its people's or families' pickled slots) give serialized bytes per person and per
family, and unpickling a sample of slots under ``tracemalloc`` gives their Python heap size.

Scale-out: the 1- and 2-process runs' four output files are compared as sorted line sets.

Run alone: ``python -m bench.population --families 1000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pickle
import shutil
import sqlite3
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import PY, ROOT, Watched, fmt_bytes, fmt_int, load_split, run_watched, write_messages

__all__ = ["PopulationResult", "RunFigures", "measure", "NATION_FAMILIES", "NATION_PEOPLE"]

START = dt.date(2026, 1, 1)
NATION_FAMILIES = 6_200_000
NATION_PEOPLE = 20_000_000
OUTPUT_FILES = ("notifications.jsonl", "assignments.jsonl", "dead-letters.jsonl", "outcomes.jsonl")


@dataclass
class RunFigures:
    label: str
    workers: int
    recovery: bool
    state: str
    wall: float  # whole command
    startup: float  # until the input file was first open (imports, cluster start)
    load_seconds: float  # reading started → position passed the first byte of the year
    year_seconds: float  # that moment → exit
    cpu: float
    ru_maxrss: int
    rss_start: int  # tree RSS (workers) when reading started
    rss_loaded: int  # tree RSS at the end of the load
    peak_rss_sum: int
    peak_hwm: dict[int, int]
    outputs: dict[str, int] = field(default_factory=dict)
    recovery_stats: dict[str, Any] = field(default_factory=dict)

    @property
    def flow_seconds(self) -> float:
        return self.load_seconds + self.year_seconds


@dataclass
class PopulationResult:
    families: int
    messages: int
    load_messages: int
    year_messages: int
    people_loaded: int
    births_in_year: int
    runs: dict[str, RunFigures] = field(default_factory=dict)
    same_output: dict[str, bool] = field(default_factory=dict)
    output_diff: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> what differs, when it does
    packed_same: bool = False  # 1 process: packed and live state gave the same outputs

    @property
    def scale(self) -> float:
        return NATION_FAMILIES / self.families

    @property
    def people_per_family(self) -> float:
        return self.people_loaded / self.families

    def bytes_per_person(self, key: str) -> float:
        r = self.runs[key]
        return (r.rss_loaded - r.rss_start) / self.people_loaded

    def extrapolate(self, key: str) -> dict[str, float]:
        """Linear extrapolation of one run to 6.2 million families."""
        r = self.runs[key]
        s = self.scale
        return {
            "load_seconds": r.load_seconds * s,
            "year_seconds": r.year_seconds * s,
            "rss_loaded": r.rss_start + (r.rss_loaded - r.rss_start) * s,
            "rss_peak": r.rss_start + (r.peak_rss_sum - r.rss_start) * s,
            "people": self.people_per_family * NATION_FAMILIES,
        }

    @property
    def speedup(self) -> float:
        return self.runs["w1"].flow_seconds / self.runs["w2"].flow_seconds


# (key, workers, state, recovery)
RUNS = (("w1", 1, "live", False), ("w1_packed", 1, "packed", False), ("w2", 2, "live", False),
        ("w2_packed", 2, "packed", False), ("w2_rec", 2, "live", True))
SHARDED_STEPS = {"person": "familycard.person_shards", "family": "familycard.family_shards",
                 "calendar": "familycard.calendar_shards"}


def run_label(r: RunFigures) -> str:
    return (f"{r.workers} process{'es' if r.workers > 1 else ''}, {r.state} state, "
            f"recovery {'on' if r.recovery else 'off'}")


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as fh:
        return sum(1 for ln in fh if ln.strip())


def _sorted_lines(path: Path) -> list[bytes]:
    if not path.exists():
        return []
    return sorted(ln for ln in path.read_bytes().splitlines() if ln.strip())


def _diff(a: list[bytes], b: list[bytes]) -> dict[str, Any]:
    """How two sorted output files differ: lines only in each, and whether their record ids agree."""
    import orjson

    sa, sb = set(a), set(b)
    only_a, only_b = sorted(sa - sb), sorted(sb - sa)

    def ids(lines: list[bytes]) -> list[str]:
        out = []
        for ln in lines:
            rec = orjson.loads(ln)
            out.append(str(rec.get("notification_id") or rec.get("assignment_id") or rec.get("offset") or ""))
        return sorted(out)

    same_ids = ids(a) == ids(b)
    fields: set[str] = set()
    for x, y in zip(only_a, only_b):
        ra, rb = orjson.loads(x), orjson.loads(y)
        fields |= {k for k in ra.keys() | rb.keys() if ra.get(k) != rb.get(k)}
    return {"lines_1_only": len(only_a), "lines_2_only": len(only_b), "same_ids": same_ids,
            "fields": sorted(fields)}


def recovery_stats(rec_dir: Path, sample: int = 20_000) -> dict[str, Any]:
    """Snapshot size on disk, live snapshot bytes per step, Python heap per unpickled state."""
    files = {p.name: p.stat().st_size for p in sorted(rec_dir.iterdir()) if p.is_file()}
    steps: dict[str, dict[str, float]] = {}
    epochs = 0
    heap: dict[str, float] = {}
    for db in sorted(rec_dir.glob("*.sqlite3")):
        con = sqlite3.connect(db)
        try:
            for step, n, size, ep in con.execute(
                    "SELECT step_id, count(*), sum(length(ser_change)), max(snap_epoch) FROM snaps "
                    "WHERE ser_change IS NOT NULL AND (step_id, state_key, snap_epoch) IN "
                    "(SELECT step_id, state_key, max(snap_epoch) FROM snaps GROUP BY step_id, state_key) "
                    "GROUP BY step_id"):
                s = steps.setdefault(step, {"keys": 0, "bytes": 0, "rows": 0})
                s["keys"] += n
                s["rows"] += n
                s["bytes"] += size or 0
                epochs = max(epochs, ep)
        finally:
            con.close()
    # A sharded step's row holds many slots: count them, and measure the Python heap of a
    # sample of unpickled slots (a family's member cards counted in full).
    import store  # noqa: F401 - registers the reductions and extension codes the slots use

    for short, step in SHARDED_STEPS.items():
        slots: list[bytes] = []
        inner = 0
        for db in sorted(rec_dir.glob("*.sqlite3")):
            con = sqlite3.connect(db)
            try:
                for (b,) in con.execute(
                        "SELECT ser_change FROM snaps WHERE step_id = ? AND ser_change IS NOT NULL AND "
                        "(state_key, snap_epoch) IN (SELECT state_key, max(snap_epoch) FROM snaps "
                        "WHERE step_id = ? GROUP BY state_key)", (step, step)):
                    change = pickle.loads(b)
                    if change is None:
                        continue
                    _count, packed, _eof = change
                    inner += len(packed)
                    if len(slots) < sample:
                        slots += list(packed.values())[: sample - len(slots)]
            finally:
                con.close()
        if step in steps:
            steps[step]["keys"] = inner
        if slots:
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            objs = [pickle.loads(b) for b in slots]
            used = tracemalloc.get_traced_memory()[0] - base
            tracemalloc.stop()
            heap[short] = used / len(objs)
            heap[short + "_pickled"] = sum(len(b) for b in slots) / len(slots)
            del objs
    return {"files": files, "disk_bytes": sum(files.values()), "steps": steps, "epochs": epochs, "heap": heap}


def _figures(label: str, workers: int, recovery: bool, state: str, w: Watched, boundary: int) -> RunFigures:
    if w.returncode != 0:
        raise RuntimeError(f"{label} failed ({w.returncode}):\n{w.stderr[-3000:]}")
    start = w.first_read if w.first_read is not None else 0.0
    t_loaded = w.time_at_pos(boundary)
    if t_loaded is None:
        t_loaded = w.wall
    return RunFigures(
        label, workers, recovery, state, w.wall, start, t_loaded - start, w.wall - t_loaded, w.cpu, w.ru_maxrss,
        w.rss_at(start + 0.2), w.rss_at(t_loaded), w.peak_rss_sum, w.peak_hwm,
    )


def measure(families: int, work: Path, seed: int = 7, log=print) -> PopulationResult:  # type: ignore[no-untyped-def]
    from familycard.generator import generate

    work.mkdir(parents=True, exist_ok=True)
    messages = list(generate(families, START, 365, seed))
    split = load_split(messages, START)
    input_path = work / "population.jsonl"
    offsets = write_messages(messages, input_path)
    boundary = offsets[split]
    load, year = messages[:split], messages[split:]
    res = PopulationResult(
        families, len(messages), len(load), len(year),
        sum(1 for m in load if m["type"] == "person_registered"),
        sum(1 for m in year if m["type"] == "birth"),
    )
    del messages, load, year
    log(f"[population] {families} families, {fmt_int(res.people_loaded)} people: "
        f"{fmt_int(res.load_messages)} load + {fmt_int(res.year_messages)} year messages -> {input_path}")
    for key, workers, state, recovery in RUNS:
        out = work / f"out-{key}"
        rec = work / f"rec-{key}"
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(rec, ignore_errors=True)
        argv = [PY, "-m", "familycard", "run", "--input", str(input_path), "--output", str(out),
                "--workers", str(workers), "--state", state]
        if recovery:
            argv += ["--recovery", str(rec)]
        w = run_watched(argv, watch_file=input_path, cwd=ROOT, exclude_root_rss=workers > 1, timeout=6 * 3600)
        fig = _figures(key, workers, recovery, state, w, boundary)
        fig.outputs = {name: _count_lines(out / name) for name in OUTPUT_FILES}
        if recovery:
            fig.recovery_stats = recovery_stats(rec)
        res.runs[key] = fig
        log(f"[population] {key:<7} wall {fig.wall:6.1f} s (start {fig.startup:.1f}, load {fig.load_seconds:.1f}, "
            f"year {fig.year_seconds:.1f}), cpu {fig.cpu:.1f} s, RSS start {fmt_bytes(fig.rss_start)}, "
            f"loaded {fmt_bytes(fig.rss_loaded)}, peak {fmt_bytes(fig.peak_rss_sum)}"
            + (f", recovery {fmt_bytes(fig.recovery_stats['disk_bytes'])}" if recovery else ""))
    for name in OUTPUT_FILES:
        a, b = _sorted_lines(work / "out-w1" / name), _sorted_lines(work / "out-w2" / name)
        res.same_output[name] = a == b
        if a != b:
            res.output_diff[name] = _diff(a, b)
    res.packed_same = all(_sorted_lines(work / "out-w1" / n) == _sorted_lines(work / "out-w1_packed" / n)
                          for n in OUTPUT_FILES)
    log(f"[population] live vs packed state, same outputs: {res.packed_same}")
    log(f"[population] 1 vs 2 processes, same sorted outputs: {res.same_output}"
        + (f"; differences: {res.output_diff}" if res.output_diff else ""))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.population")
    ap.add_argument("--families", type=int, default=1000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/familycard-bench/population"))
    a = ap.parse_args()
    res = measure(a.families, a.work)
    for key in res.runs:
        x = res.extrapolate(key)
        print(f"{key}: at 6.2 M families: load {x['load_seconds'] / 60:.0f} min, year {x['year_seconds'] / 3600:.1f} h, "
              f"RSS {fmt_bytes(x['rss_peak'])}; {res.bytes_per_person(key):.0f} B/person")
    print(f"speed-up 2 vs 1 process: {res.speedup:.2f}")


if __name__ == "__main__":
    main()
