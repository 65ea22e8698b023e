"""Crash and resume over a real broker: nothing lost, nothing sent twice.

The flow runs as a separate process with Bytewax recovery on and is killed with SIGKILL
at random moments, then resumed from its recovery directory, until it finishes. Its
output topics must hold exactly the records of an uninterrupted run, each id once.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from familycard.generator import generate
from flows.exactly_once import RECORD_ID
from flows.kafka_io import ensure_topics, produce_all, read_topic
from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS, topic_of

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KILLS = 5


def _flow(bootstrap: str, inputs: str, outputs: str, recovery: Path | None) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "familycard", "run", "--kafka", bootstrap, "--stop-at-end",
            "--input-prefix", inputs, "--output-prefix", outputs]
    if recovery is not None:
        argv += ["--recovery", str(recovery)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _outputs(bootstrap: str, prefix: str) -> dict[str, list[dict]]:
    return {k: [orjson.loads(v) for _, v in read_topic(bootstrap, prefix + t, timeout=30)]
            for k, t in OUTPUT_TOPICS.items()}


def test_kill_9_at_random_points_then_resume(kafka_bootstrap: str, unique_topic_prefix: str,
                                             tmp_path: Path) -> None:
    p = unique_topic_prefix
    ensure_topics(kafka_bootstrap, [p + t for t in INPUT_TOPICS])
    msgs = list(generate(150, dt.date(2026, 1, 1), 60, seed=21))
    produce_all(kafka_bootstrap, [(p + topic_of(m), (m.get("iin") or "").encode(), orjson.dumps(m)) for m in msgs])

    ref = _flow(kafka_bootstrap, p, p + "ref.", None)
    assert ref.wait(timeout=300) == 0, ref.stderr.read() if ref.stderr else ""
    expected = _outputs(kafka_bootstrap, p + "ref.")
    assert len(expected["notifications"]) > 20

    # Kill when the crash run's output passes seeded random fractions of the expected
    # output: every kill lands mid-run, whatever the machine's speed.
    rng = random.Random(7)
    total = len(expected["notifications"])
    targets = sorted(int(total * rng.uniform(0.1, 0.9)) for _ in range(KILLS))
    recovery = tmp_path / "recovery"
    ensure_topics(kafka_bootstrap, [p + "crash." + t for t in OUTPUT_TOPICS.values()])
    kills = 0
    deadline = time.monotonic() + 600
    while True:
        proc = _flow(kafka_bootstrap, p, p + "crash.", recovery)
        if kills < KILLS:
            while proc.poll() is None and time.monotonic() < deadline:
                written = len(read_topic(kafka_bootstrap, p + "crash.notifications", timeout=30))
                if written >= targets[kills]:
                    time.sleep(rng.uniform(0.0, 0.3))
                    break
                time.sleep(0.2)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        code = proc.wait(timeout=300)
        assert code == 0, (proc.stderr.read() if proc.stderr else b"").decode(errors="replace")[-4000:]
        if kills >= KILLS:
            break
        assert time.monotonic() < deadline, "the crash runs did not finish"
    got = _outputs(kafka_bootstrap, p + "crash.")
    assert kills == KILLS

    for kind, records in got.items():
        ids = Counter(RECORD_ID[kind](r) for r in records)
        twice = [i for i, n in ids.items() if n > 1]
        assert not twice, f"{kind}: written twice: " + "; ".join(
            sorted({f"{r.get('code')}/{r.get('kind') or r.get('outcome') or r.get('error')}/{r.get('issued_on')}"
                    for r in records if RECORD_ID[kind](r) in twice}))
        canon = sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in records)
        want = sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in expected[kind])
        assert canon == want, f"{kind}: {len(canon)} records after {kills} kills, {len(want)} uninterrupted"
