"""``bench/state_size.py`` keeps running (it had rotted: it imported a class the rights ledger
replaced), and what it measures holds: every object pickles smaller with ``store.compact``
than in the stdlib layout it is compared with."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_state_size_runs_and_compact_pickles_are_smaller() -> None:
    run = subprocess.run([sys.executable, "-m", "bench.state_size", "--families", "20", "--days", "10"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and not line.startswith("| object")]
    assert len(rows) >= 6
    for row in rows:
        name, before, after = (c.strip() for c in row.strip("|").split("|")[:3])
        smaller = int(re.sub(r"\D", "", after.split("(")[0]))
        assert smaller < int(before.replace(",", "")), name
