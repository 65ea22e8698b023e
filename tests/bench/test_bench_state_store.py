"""``bench/state_store.py`` runs, and its correctness claims hold at a tiny size (timings are not
asserted): after a ``kill -9`` mid-epoch and a rewind, each embedded store holds exactly the
reference's content at that epoch, and what they write per epoch follows the keys touched (K),
not the keys held (N) — unlike today's whole-shard snapshots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import lmdb  # noqa: F401  (the test extra installs both: a missing one fails here, never skips)
import rocksdict  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def run_bench(tmp_path: Path, keys: int) -> dict[str, Any]:
    out = tmp_path / f"state-store-{keys}.json"
    run = subprocess.run([sys.executable, "-m", "bench.state_store", "--keys", str(keys), "--epochs", "2",
                          "--touched", "10,100,1000", "--shards", "64", "--pool-families", "20",
                          "--work", str(tmp_path / f"work-{keys}"), "--json", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def per_epoch(figures: dict[str, Any], store: str) -> dict[int, float]:
    [result] = [r for r in figures["results"] if r["name"] == store]
    return {p["touched"]: p["payload"] / p["epochs"] for p in result["phases"]}


def test_state_store_rewinds_to_the_reference_and_writes_follow_k(tmp_path: Path) -> None:
    small, large = run_bench(tmp_path, 5_000), run_bench(tmp_path, 40_000)
    for figures in (small, large):
        assert figures["checks"] and all(figures["checks"].values()), figures["checks"]
        assert sum("kill -9" in what for what in figures["checks"]) == 3  # every embedded store was killed
        for r in figures["results"][1:]:
            assert "child killed" in r["kill"]
    for store in ("rocksdb", "rocksdb-shards", "lmdb"):
        s, g = per_epoch(small, store), per_epoch(large, store)
        assert s[10] < s[100] < s[1000]
        assert 5 * s[10] < s[100] and 5 * s[100] < s[1000]  # ~10x K, ~10x bytes
        for k in (10, 100, 1000):
            assert 0.8 < g[k] / s[k] < 1.25, (store, k, s[k], g[k])  # 8x the keys, the same bytes
    # the reference, by contrast, writes whole shards: 8x the keys, several times the bytes
    ref_s, ref_g = per_epoch(small, "reference"), per_epoch(large, "reference")
    assert ref_g[100] > 4 * ref_s[100]
    assert ref_s[100] > 10 * per_epoch(small, "rocksdb")[100]  # whole shards vs the keys touched
