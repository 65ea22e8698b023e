"""The national-scale run, made once by hand: 6.2 M families loaded, then a week of the stream.

Not part of ``make bench`` (it takes about an hour on the 2-core machine and ~30 GB of disk):

    python -m bench.nation --work /work/fullscale            # 6 200 000 families, 31 parts, 7 days

1. **Generate** the population in ``--parts`` pieces (``familycard generate --part K --parts P
   --days D``), two processes at a time; each piece is split at the period into
   ``load-K.jsonl`` (registrations and late records) and ``year-K.jsonl``. Pieces already
   there are kept (the step can be resumed).
2. **Load**: ``familycard load`` over all load pieces, 2 worker processes, watched (wall,
   CPU of the tree, sampled RSS of the tree).
3. **Stream**: the pieces' periods merged day by day (one tick per day) into ``year.jsonl``,
   replayed with ``familycard run --initial-state SEED --state packed`` (1 process), watched.
   Shards read their seed when first touched; a week at national scale (~50 000 events a
   day over 4 096 person shards) touches every one, so the RSS at the end of the week is the
   stream's memory with the whole population in it.

Writes its section of ``bench/RESULTS.md`` (``<!-- bench:nation:... -->``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import PY, ROOT, Watched, fmt_bytes, fmt_int, machine, run_watched

__all__ = ["main"]

START = "2026-01-01"


def _generate_part(work: Path, families: int, part: int, parts: int, days: int) -> None:
    load, year = work / f"load-{part:02d}.jsonl", work / f"year-{part:02d}.jsonl"
    done = work / f"part-{part:02d}.done"
    if done.exists():
        return
    gen = subprocess.Popen([PY, "-m", "familycard", "generate", "--families", str(families), "--part", str(part),
                            "--parts", str(parts), "--days", str(days), "--seed", "7"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    assert gen.stdout is not None
    start = START.encode()
    with open(load, "wb", buffering=1 << 22) as lf, open(year, "wb", buffering=1 << 22) as yf:
        out = lf
        for line in gen.stdout:
            if out is lf:
                i = line.find(b'"recorded_at":"')
                when = line[i + 15:i + 25] if i >= 0 else b""
                if b'"type":"day"' in line or (when and when >= start):
                    out = yf
            out.write(line)
    if gen.wait() != 0:
        raise RuntimeError(f"generating part {part} failed")
    done.touch()


def merge_periods(work: Path) -> tuple[Path, int, int]:
    """The pieces' periods as one stream: every piece's events of a day, then that day's tick."""
    pieces = []
    for path in sorted(work.glob("year-*.jsonl")):
        days: list[tuple[list[bytes], bytes]] = []
        current: list[bytes] = []
        for line in open(path, "rb"):
            if b'"type":"day"' in line:
                days.append((current, line))
                current = []
            else:
                current.append(line)
        assert not current, f"{path}: events after the last tick"
        pieces.append(days)
    n = len(pieces[0])
    assert all(len(p) == n for p in pieces), "pieces with different periods"
    out = work / "year.jsonl"
    events = 0
    with open(out, "wb") as fh:
        for d in range(n):
            assert len({p[d][1] for p in pieces}) == 1, f"day {d}: the pieces' ticks differ"
            for p in pieces:
                fh.writelines(p[d][0])
                events += len(p[d][0])
            fh.write(pieces[0][d][1])
    return out, events, n


def _check(label: str, w: Watched) -> Watched:
    if w.returncode != 0:
        raise RuntimeError(f"{label} failed ({w.returncode}):\n{w.stderr[-3000:]}")
    return w


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.nation")
    ap.add_argument("--work", type=Path, required=True, help="scratch directory on a disk with ~40 GB free")
    ap.add_argument("--families", type=int, default=6_200_000)
    ap.add_argument("--parts", type=int, default=31)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    work: Path = a.work
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"{time.perf_counter() - t0:7.1f}s {msg}", flush=True)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda k: _generate_part(work, a.families, k, a.parts, a.days), range(a.parts)))
    loads = sorted(work.glob("load-*.jsonl"))
    load_bytes = sum(p.stat().st_size for p in loads)
    log(f"[nation] {len(loads)} load pieces, {fmt_bytes(load_bytes)}")

    seed = work / "seed"
    if not (seed / "seed.json").exists():
        subprocess.run(["rm", "-rf", str(seed)], check=True)
        argv_load = [PY, "-m", "familycard", "load", "--seed-dir", str(seed), "--workers", str(a.workers)]
        for p in loads:
            argv_load += ["--input", str(p)]
        w = _check("load", run_watched(argv_load, cwd=ROOT, timeout=6 * 3600, interval=1.0))
        (work / "load-figures.json").write_text(json.dumps(
            {"wall": w.wall, "cpu": w.cpu, "peak_rss": w.peak_rss_sum, "stdout": w.stdout}))
        log(f"[nation] load: {w.wall / 60:.1f} min, CPU {w.cpu / 60:.1f} min, peak RSS {fmt_bytes(w.peak_rss_sum)}")
    lf = json.loads((work / "load-figures.json").read_text())
    manifest = json.loads((seed / "seed.json").read_text())
    seed_sizes = {stage: sum(p.stat().st_size for p in (seed / stage).glob("*.pkl"))
                  for stage in ("person", "family", "calendar")}

    year, events, days = merge_periods(work)
    out = work / "out"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    w = _check("stream", run_watched([PY, "-m", "familycard", "run", "--input", str(year), "--output", str(out),
                                      "--state", "packed", "--initial-state", str(seed)],
                                     cwd=ROOT, timeout=6 * 3600, interval=0.5))
    start_rss = w.samples[min(len(w.samples) - 1, 4)][1] if w.samples else 0
    end_rss = max((r for t, r in w.samples if t >= w.wall - 3), default=0)
    outputs = {p.name: sum(1 for _ in open(p, "rb")) for p in sorted(out.glob("*.jsonl"))}
    log(f"[nation] stream: {days} days, {fmt_int(events)} events in {w.wall:.0f} s, RSS end {fmt_bytes(end_rss)}, "
        f"peak {fmt_bytes(w.peak_rss_sum)}; outputs {outputs}")

    mach = machine("none (file replay)")
    people, families = manifest["people"], manifest["families"]
    L = [f"## National scale: {fmt_int(families)} families loaded, then {days} days of the stream — {mach['date']}", ""]
    L.append(f"Made once by hand (`python -m bench.nation --work DIR`, ~1 h); the machine as in the sections "
             f"below ({mach['cpu']}, {mach['ram']}). The population was generated in {a.parts} pieces "
             f"(`familycard generate --part K --parts {a.parts}`) and loaded from {fmt_bytes(load_bytes)} of JSON "
             f"lines.")
    L.append("")
    L.append("| step | measured |")
    L.append("|---|---|")
    L.append(f"| `familycard load`, {a.workers} processes | **{lf['wall'] / 60:.1f} min** wall, CPU {lf['cpu'] / 60:.1f} min "
             f"(tree), peak RSS {fmt_bytes(lf['peak_rss'])} (tree): {fmt_int(manifest['messages'])} messages, "
             f"{fmt_int(manifest['messages'] / lf['wall'])}/s |")
    L.append(f"| seed | {fmt_int(people)} person slots, {fmt_int(families)} families, {fmt_int(manifest['calendar_keys'])} "
             f"calendar keys; persons {fmt_bytes(seed_sizes['person'])} ({seed_sizes['person'] / people:.0f} B each), "
             f"families {fmt_bytes(seed_sizes['family'])} ({seed_sizes['family'] / families:.0f} B each), calendar "
             f"{fmt_bytes(seed_sizes['calendar'])}; dead letters {sum(manifest['dead_letters'].values())} |")
    L.append(f"| stream from the seed, packed state, 1 process | {days} days: {fmt_int(events)} events in {w.wall:.0f} s "
             f"({fmt_int(events / w.wall)}/s), CPU {w.cpu:.0f} s |")
    L.append(f"| its RSS | {fmt_bytes(start_rss)} after start, **{fmt_bytes(end_rss)}** at the end of the week "
             f"({(end_rss - start_rss) / people:,.0f} B a person), peak {fmt_bytes(w.peak_rss_sum)} |")
    L.append("| outputs | " + ", ".join(f"{k} {fmt_int(v)}" for k, v in outputs.items()) + " |")
    L.append("")
    section = "\n".join(L) + "\n"
    print(section)
    if not a.no_write:
        from bench.run import write_results

        write_results("nation", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
