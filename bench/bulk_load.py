"""The population load as a batch job (``familycard load``), and the stream starting from it.

The same population as ``bench.population`` (seed 7) is split at the start of the year into
its load (registrations and late records) and its year. ``familycard load`` builds a seed from
the load with 1 and with 2 worker processes; ``familycard run --initial-state`` then replays
the year from that seed (1 process, live and packed state). Each command runs in a subprocess
under ``bench.common.run_watched`` (wall, CPU of the tree, sampled RSS of the tree).

Checked, not only timed: the seeded year's sorted outputs must equal those of the stream that
read the whole file (``bench.population``'s 1-process live run, when it ran in the same work
directory; otherwise one is run here).

Memory of the stream at national scale is read from the seeded runs: RSS at the end of the
year minus RSS at start, per person (every shard has been touched by then), and the seed's
own bytes per person and family.

Run alone: ``python -m bench.bulk_load --families 2000``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import PY, ROOT, Watched, fmt_bytes, fmt_int, load_split, run_watched, write_messages

__all__ = ["BulkResult", "measure"]

OUTPUT_FILES = ("notifications.jsonl", "assignments.jsonl", "dead-letters.jsonl", "outcomes.jsonl")
NATION_FAMILIES = 6_200_000


@dataclass
class Step:
    label: str
    wall: float
    cpu: float
    peak_rss: int
    rss_start: int = 0
    rss_end: int = 0


@dataclass
class BulkResult:
    families: int
    people: int
    load_messages: int
    year_messages: int
    loads: dict[int, Step] = field(default_factory=dict)      # workers -> the load
    seed_bytes: dict[str, int] = field(default_factory=dict)
    years: dict[str, Step] = field(default_factory=dict)      # state -> the seeded year
    same_outputs: dict[str, bool] = field(default_factory=dict)

    @property
    def scale(self) -> float:
        return NATION_FAMILIES / self.families

    def load_rate(self, workers: int) -> float:
        return self.load_messages / self.loads[workers].wall

    def nation_load_minutes(self, workers: int) -> float:
        return self.loads[workers].wall * self.scale / 60

    def rss_per_person(self, state: str) -> float:
        s = self.years[state]
        return (s.rss_end - s.rss_start) / self.people


def _step(label: str, w: Watched) -> Step:
    if w.returncode != 0:
        raise RuntimeError(f"{label} failed ({w.returncode}):\n{w.stderr[-3000:]}")
    start = w.samples[min(len(w.samples) - 1, 20)][1] if w.samples else 0  # ~1 s in: imports done
    end = max((rss for t, rss in w.samples if t >= w.wall - 1.0), default=0)
    return Step(label, w.wall, w.cpu, w.peak_rss_sum, start, end)


def _sorted(path: Path) -> list[bytes]:
    return sorted(path.read_bytes().splitlines()) if path.exists() else []


def measure(families: int, work: Path, seed: int = 7, log=print,  # type: ignore[no-untyped-def]
            whole_output: Path | None = None) -> BulkResult:
    from bench.population import START
    from familycard.generator import generate

    work.mkdir(parents=True, exist_ok=True)
    messages = list(generate(families, START, 365, seed))
    split = load_split(messages, START)
    load_path, year_path = work / "load.jsonl", work / "year.jsonl"
    write_messages(messages[:split], load_path)
    write_messages(messages[split:], year_path)
    res = BulkResult(families, sum(1 for m in messages[:split] if m["type"] == "person_registered"),
                     split, len(messages) - split)
    if whole_output is None or not (whole_output / "notifications.jsonl").exists():
        whole_path = work / "whole.jsonl"
        write_messages(messages, whole_path)
        whole_output = work / "out-whole"
        shutil.rmtree(whole_output, ignore_errors=True)
        w = run_watched([PY, "-m", "familycard", "run", "--input", str(whole_path), "--output", str(whole_output)],
                        cwd=ROOT, timeout=3 * 3600)
        _step("whole file", w)
    del messages
    log(f"[bulk] {families} families, {fmt_int(res.people)} people: {fmt_int(res.load_messages)} load + "
        f"{fmt_int(res.year_messages)} year messages")
    for workers in (1, 2):
        seed_dir = work / f"seed-w{workers}"
        shutil.rmtree(seed_dir, ignore_errors=True)
        w = run_watched([PY, "-m", "familycard", "load", "--input", str(load_path), "--seed-dir", str(seed_dir),
                         "--workers", str(workers)], cwd=ROOT, timeout=3 * 3600)
        res.loads[workers] = _step(f"load w{workers}", w)
        log(f"[bulk] load, {workers} process(es): {w.wall:.1f} s, {res.load_rate(workers):,.0f} msg/s, "
            f"CPU {w.cpu:.1f} s, peak RSS {fmt_bytes(w.peak_rss_sum)}")
    manifest: dict[str, Any] = json.loads((work / "seed-w2" / "seed.json").read_text())
    for stage in ("person", "family", "calendar"):
        res.seed_bytes[stage] = sum(p.stat().st_size for p in (work / "seed-w2" / stage).glob("*.pkl"))
    res.seed_bytes["people"] = manifest["people"]
    res.seed_bytes["families"] = manifest["families"]
    for state in ("live", "packed"):
        out = work / f"out-seeded-{state}"
        shutil.rmtree(out, ignore_errors=True)
        w = run_watched([PY, "-m", "familycard", "run", "--input", str(year_path), "--output", str(out),
                         "--state", state, "--initial-state", str(work / "seed-w2")], cwd=ROOT, timeout=3 * 3600)
        res.years[state] = _step(f"year {state}", w)
        res.same_outputs[state] = all(_sorted(whole_output / n) == _sorted(out / n) for n in OUTPUT_FILES)
        log(f"[bulk] year from the seed, {state} state: {w.wall:.1f} s, RSS start {fmt_bytes(res.years[state].rss_start)}, "
            f"end {fmt_bytes(res.years[state].rss_end)}, peak {fmt_bytes(w.peak_rss_sum)}; outputs same as the "
            f"whole-file stream: {res.same_outputs[state]}")
    return res


def render(res: BulkResult) -> list[str]:
    L = [f"### 2b. The load as a batch job: `familycard load` ({fmt_int(res.families)} families, "
         f"{fmt_int(res.people)} people)", ""]
    L.append(f"The population of section 2, split at the year: {fmt_int(res.load_messages)} load messages into "
             f"`familycard load`, then the {fmt_int(res.year_messages)} messages of the year through `familycard run "
             f"--initial-state` (1 process). Extrapolated ×{res.scale:,.0f} to 6.2 M families; at small sizes fixed "
             f"costs (process start, 3 × 4 096 shard files) dominate: the section \"National scale\" has the figures "
             f"measured at 6.2 M families.")
    L.append("")
    L.append("| step | wall s | msg/s | CPU s | peak RSS (tree) | at 6.2 M families |")
    L.append("|---|---|---|---|---|---|")
    for workers, s in res.loads.items():
        L.append(f"| load, {workers} process{'es' if workers > 1 else ''} | {s.wall:.1f} | {res.load_rate(workers):,.0f} "
                 f"| {s.cpu:.1f} | {fmt_bytes(s.peak_rss)} | {res.nation_load_minutes(workers):.0f} min |")
    for state, s in res.years.items():
        L.append(f"| year from the seed, {state} state | {s.wall:.1f} | {res.year_messages / s.wall:,.0f} | {s.cpu:.1f} "
                 f"| {fmt_bytes(s.peak_rss)} | {s.wall * res.scale / 3600:.1f} h; RSS {res.rss_per_person(state):,.0f} B "
                 f"a person → {fmt_bytes(res.rss_per_person(state) * res.people * res.scale)} |")
    people, fams = res.seed_bytes["people"], res.seed_bytes["families"]
    L.append("")
    L.append(f"Seed: persons {fmt_bytes(res.seed_bytes['person'])} ({res.seed_bytes['person'] / people:.0f} B per person "
             f"slot), families {fmt_bytes(res.seed_bytes['family'])} ({res.seed_bytes['family'] / fams:.0f} B per family), "
             f"calendar {fmt_bytes(res.seed_bytes['calendar'])}. Seeded year's outputs equal to the whole-file "
             f"stream's (sorted lines, 1 process): " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in res.same_outputs.items()) + ".")
    return L


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.bulk_load")
    ap.add_argument("--families", type=int, default=2000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/familycard-bench/bulk"))
    a = ap.parse_args()
    print("\n".join(render(measure(a.families, a.work))))


if __name__ == "__main__":
    main()
