"""Lifecycle (issue 14, item 3): signals stop every process cleanly; errors are one clear line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from familycard.cli import main
from flows.kafka_io import ensure_topics, produce_all
from flows.topics import INPUT_TOPICS
from tests import scenario

ROOT = Path(__file__).resolve().parents[2]


def _start(bootstrap: str, prefix: str, workers: int, tmp: Path) -> subprocess.Popen[str]:
    ensure_topics(bootstrap, [prefix + t for t in INPUT_TOPICS])
    produce_all(bootstrap, scenario.kafka_messages(lambda t: prefix + t))
    return subprocess.Popen([sys.executable, "-m", "familycard", "run", "--kafka", bootstrap, "--input-prefix", prefix,
                             "--output-prefix", prefix + "out.", "--shards", "16", "--workers", str(workers),
                             "--recovery", str(tmp / "rec")],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)


def _members(prefix: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", "--", f"--input-prefix {prefix} .*--process-id"], capture_output=True, text=True)
    return [int(x) for x in found.stdout.split()]


@pytest.mark.kafka
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_stops_every_process_cleanly(kafka_bootstrap: str, unique_topic_prefix: str, tmp_path: Path,
                                             workers: int) -> None:
    proc = _start(kafka_bootstrap, unique_topic_prefix, workers, tmp_path)
    try:
        time.sleep(6)  # started, read the backlog, now idle waiting for more
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        if workers > 1:
            assert len(_members(unique_topic_prefix)) == workers
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        orphans = _members(unique_topic_prefix)
    finally:  # a failed assertion must not leave the run (and its workers) behind
        if proc.poll() is None:
            proc.kill()
        for pid in _members(unique_topic_prefix):
            os.kill(pid, signal.SIGKILL)
    err = proc.stderr.read() if proc.stderr else ""
    assert code == 0, err
    assert time.monotonic() - t0 < 20
    assert "SIGTERM" in err and "Traceback" not in err, err
    assert orphans == [], "no orphan worker"


def test_a_missing_input_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--input", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"familycard run: no such input file: {tmp_path / 'nope.jsonl'}"


def test_a_bad_host_port_and_an_unreachable_broker_name_the_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--kafka", "localhost"]) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err
    t0 = time.monotonic()
    assert main(["run", "--kafka", "127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Kafka broker at 127.0.0.1:9" in err and "Traceback" not in err
    assert time.monotonic() - t0 < 20


def test_a_failed_cluster_member_is_one_line_and_stops_the_others(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from flows.runner import ClusterFailed, run_cluster

    with pytest.raises(ClusterFailed, match="exited with code"):
        run_cluster(["no-such-command"], 2)
    assert os.getpid()  # this process survived; the members are gone (run_cluster waited for them)


def test_healthz_and_readyz_beside_metrics() -> None:
    import urllib.error
    import urllib.request

    from flows import metrics
    from flows.runner import free_ports

    port = free_ports(1)[0]
    metrics._servers.pop(port, None)
    server = metrics._serve(port, "127.0.0.1", metrics.export_registry())
    try:
        base = f"http://127.0.0.1:{port}"
        assert urllib.request.urlopen(base + "/healthz", timeout=5).read() == b"alive\n"
        assert b"familycard_build_info" in urllib.request.urlopen(base + "/metrics", timeout=5).read()
        metrics._started = False
        try:
            urllib.request.urlopen(base + "/readyz", timeout=5)
            raise AssertionError("not ready before any input")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503 and b"starting" in exc.read()
        metrics.mark_started()
        metrics.KAFKA_LAG.labels("t", "0").set(5000)
        try:
            urllib.request.urlopen(base + "/readyz", timeout=5)
            raise AssertionError("not ready while catching up")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503 and b"catching up" in exc.read()
        metrics.KAFKA_LAG.labels("t", "0").set(0)
        assert urllib.request.urlopen(base + "/readyz", timeout=5).read().startswith(b"ready")
    finally:
        metrics.KAFKA_LAG.remove("t", "0")
        server.shutdown()


def test_json_logs_carry_fields_and_never_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import logging

    from familycard.logs import setup

    setup("info", "json")
    try:
        logging.getLogger("familycard").info("start", extra={"fields": {"event": "start", "workers": 2}})
        logging.getLogger("familycard").debug("not shown at info")
    finally:
        setup("warning", "text")
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert len(lines) == 1
    assert lines[0]["msg"] == "start" and lines[0]["event"] == "start" and lines[0]["workers"] == 2
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "familycard" and lines[0]["ts"].endswith("+00:00")
