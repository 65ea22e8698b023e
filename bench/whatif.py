"""What a what-if costs: ``familycard whatif`` with one reform against one ``familycard run``.

Issue 15's goal is at most 1.3x one run for one reform: the what-if reads, decodes and folds
the input once and evaluates the rules, ledgers and offers once per policy. Both commands run
in their own process on the same generated file (the baseline measured in the same run), with
the embedded citizen simulator on both sides, best of ``--repeat``. Prints the figures and
rewrites its section of ``bench/RESULTS.md``.

    python -m bench.whatif [--families 3000] [--days 365] [--repeat 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## What-if cost (`bench/whatif.py`)"


def _timed(argv: list[str]) -> float:
    return _timed_pass(argv)[0]


def _timed_pass(argv: list[str]) -> tuple[float, float]:
    """(wall seconds of the command, seconds of its pass over the input as it reports them)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "familycard", *argv], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    found = re.search(r"in ([0-9.]+) s \(\d+ pass", done.stdout) or re.search(r"wall time ([0-9.]+) s", done.stdout)
    return wall, float(found.group(1)) if found else wall


def measure(families: int, days: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        events = work / "events.jsonl"
        subprocess.run([sys.executable, "-m", "familycard", "generate", "--families", str(families), "--days",
                        str(days), "--output", str(events)], check=True, stderr=subprocess.DEVNULL)
        reform = work / "mci.json"
        reform.write_text(json.dumps({"label": "МРП 5 000", "dated": {"mci": {"values": {"2026-01-01": 5000}}}}))
        lines = sum(1 for _ in open(events, "rb"))
        runs, ones, twos = [], [], []
        for i in range(repeat):  # interleaved, so a slow minute of a shared machine hits all three alike
            runs.append(_timed_pass(["run", "--input", str(events), "--output", str(work / f"run{i}"),
                                     "--simulate-citizens"]))
            ones.append(_timed_pass(["whatif", "--input", str(events), "--reform", str(reform), "--output",
                                     str(work / f"whatif{i}")]))
            twos.append(_timed_pass(["whatif", "--input", str(events), "--reform", str(reform), "--reform",
                                     str(reform), "--output", str(work / f"two{i}")]))
    run, run_pass = min(r[0] for r in runs), min(r[1] for r in runs)
    whatif, whatif_pass = min(r[0] for r in ones), min(r[1] for r in ones)
    two, two_pass = min(r[0] for r in twos), min(r[1] for r in twos)
    return {"families": families, "days": days, "messages": lines, "run_s": run, "whatif_s": whatif,
            "two_s": two, "ratio": whatif / run, "ratio_two": two / run, "run_pass": run_pass,
            "whatif_pass": whatif_pass, "two_pass": two_pass, "pass_ratio": whatif_pass / run_pass,
            "pass_ratio_two": two_pass / run_pass}


def record(m: dict[str, float]) -> str:
    text = (f"{SECTION}\n\n"
            f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {m['families']:.0f} generated families, "
            f"{m['days']:.0f} days ({m['messages']:.0f} messages), each command in its own process, best of the "
            f"repeats, citizen simulator on.\n\n"
            f"| command | wall s (process) | × one run | pass over the input, s | × one run's pass |\n"
            f"|---|---|---|---|---|\n"
            f"| `familycard run` | {m['run_s']:.1f} | 1.00 | {m['run_pass']:.1f} | 1.00 |\n"
            f"| `familycard whatif`, 1 reform (МРП) | {m['whatif_s']:.1f} | **{m['ratio']:.2f}** (goal ≤ 1.3) | "
            f"{m['whatif_pass']:.1f} | **{m['pass_ratio']:.2f}** |\n"
            f"| `familycard whatif`, 2 reforms | {m['two_s']:.1f} | {m['ratio_two']:.2f} | {m['two_pass']:.1f} | "
            f"{m['pass_ratio_two']:.2f} |\n\n"
            f"The process's wall time of the what-if includes writing the report (reading the input again for "
            f"family sizes and regions, importing matplotlib, ~2 s); the pass is the dataflow alone (both "
            f"commands print it). The pass shares read, decode, calendars, persons and family cards; the rules, "
            f"ledgers and offers run once per policy.\n")
    old = RESULTS.read_text() if RESULTS.exists() else ""
    if SECTION in old:
        head, _, tail = old.partition(SECTION)
        rest = re.search(r"\n## ", tail)
        old = head + (tail[rest.start() + 1:] if rest else "")
    RESULTS.write_text(old.rstrip() + "\n\n" + text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", type=int, default=3000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    print(record(measure(a.families, a.days, a.repeat)))


if __name__ == "__main__":
    main()
