"""A broker outage of 30 s in the middle of a run: the flow survives and loses nothing.

A dedicated Tansu broker advertises a TCP proxy's address, so every client connection —
the flow's consumer and producers included — goes through the proxy, which the test cuts
for 30 seconds and restores. Half the input is produced before the cut, half after.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from familycard.devbroker import stop
from familycard.generator import generate
from flows.kafka_io import ensure_topics, produce_all, read_topic
from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS, topic_of
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUTAGE_SECONDS = 30


def _records(bootstrap: str, prefix: str) -> dict[str, list[bytes]]:
    return {k: sorted(orjson.dumps(orjson.loads(v), option=orjson.OPT_SORT_KEYS)
                      for _, v in read_topic(bootstrap, prefix + t, timeout=30))
            for k, t in OUTPUT_TOPICS.items()}


def test_thirty_second_outage_loses_nothing(proxied_broker: tuple[str, TcpProxy], tmp_path: Path) -> None:
    bootstrap, proxy = proxied_broker
    generated = list(generate(120, dt.date(2026, 1, 1), 40, seed=9))
    msgs = [(topic_of(m), (m.get("iin") or "").encode(), orjson.dumps(m)) for m in generated]
    first_day = next(i for i, m in enumerate(generated) if m["type"] == "day")
    half = (first_day + len(msgs)) // 2  # halfway through the days, after the population load

    # the reference: everything at once, no outage
    ensure_topics(bootstrap, ["ref." + t for t in INPUT_TOPICS])
    produce_all(bootstrap, [("ref." + t, k, v) for t, k, v in msgs])
    ref = subprocess.run([sys.executable, "-m", "familycard", "run", "--kafka", bootstrap, "--stop-at-end",
                          "--input-prefix", "ref.", "--output-prefix", "ref.out."], capture_output=True, timeout=300)
    assert ref.returncode == 0, ref.stderr.decode()[-3000:]
    expected = _records(bootstrap, "ref.out.")
    assert len(expected["notifications"]) > 5

    # the outage run: live mode, first half in, cut, restore, second half in
    ensure_topics(bootstrap, ["o." + t for t in INPUT_TOPICS] + ["o.out." + t for t in OUTPUT_TOPICS.values()])
    produce_all(bootstrap, [("o." + t, k, v) for t, k, v in msgs[:half]])
    # stderr to a file: an unread pipe fills with reconnect logs during the outage and
    # blocks the flow, which would test the harness rather than the flow
    err_path = tmp_path / "flow.err"
    err = open(err_path, "wb")
    flow = subprocess.Popen([sys.executable, "-m", "familycard", "run", "--kafka", bootstrap,
                             "--input-prefix", "o.", "--output-prefix", "o.out."],
                            stdout=subprocess.DEVNULL, stderr=err)

    def tail() -> str:
        return err_path.read_bytes().decode(errors="replace")[-3000:]

    try:
        deadline = time.monotonic() + 120
        while not read_topic(bootstrap, "o.out.notifications", timeout=30):
            assert flow.poll() is None, tail()
            assert time.monotonic() < deadline, "no output before the outage"
            time.sleep(0.5)
        proxy.cut()
        time.sleep(OUTAGE_SECONDS)
        assert flow.poll() is None, "the flow died during the outage: " + tail()
        proxy.restore()
        produce_all(bootstrap, [("o." + t, k, v) for t, k, v in msgs[half:]], timeout=120)
        deadline = time.monotonic() + 180
        while True:
            got = _records(bootstrap, "o.out.")
            if got == expected:
                break
            assert flow.poll() is None, tail()
            assert time.monotonic() < deadline, ({k: (len(got[k]), len(expected[k])) for k in got}, tail())
            time.sleep(1.0)
    finally:
        stop(flow)
        err.close()
