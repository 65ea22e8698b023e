"""A start that never re-decides history (issue 14, item 2), over a real broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from familycard.cli import main
from flows.kafka_io import ensure_topics, produce_all, read_topic, topics_holding_records
from flows.runner import recovery_has_state
from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS
from tests import scenario

pytestmark = pytest.mark.kafka


def _produce(bootstrap: str, prefix: str) -> None:
    ensure_topics(bootstrap, [prefix + t for t in INPUT_TOPICS])
    produce_all(bootstrap, scenario.kafka_messages(lambda t: prefix + t))


def _run(bootstrap: str, prefix: str, *extra: str) -> int:
    return main(["run", "--kafka", bootstrap, "--stop-at-end", "--input-prefix", prefix, "--output-prefix",
                 prefix + "out.", "--shards", "16", *extra])


def test_a_second_run_without_recovery_over_written_outputs_refuses_and_says_how(
        kafka_bootstrap: str, unique_topic_prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    p = unique_topic_prefix
    _produce(kafka_bootstrap, p)
    assert _run(kafka_bootstrap, p) == 0
    notes = p + "out." + OUTPUT_TOPICS["notifications"]
    first = read_topic(kafka_bootstrap, notes)
    assert first and notes in topics_holding_records(kafka_bootstrap, [notes, p + "out.nothing"])
    capsys.readouterr()
    assert _run(kafka_bootstrap, p) == 2
    err = capsys.readouterr().err
    assert "already hold records" in err and "--recovery" in err and "--from-beginning" in err
    assert read_topic(kafka_bootstrap, notes) == first, "nothing was written"
    assert _run(kafka_bootstrap, p, "--from-beginning") == 0  # a deliberate replay is allowed


def test_a_run_with_recovery_resumes(kafka_bootstrap: str, unique_topic_prefix: str, tmp_path: Path) -> None:
    p = unique_topic_prefix
    _produce(kafka_bootstrap, p)
    rec = tmp_path / "rec"
    assert _run(kafka_bootstrap, p, "--recovery", str(rec)) == 0
    assert recovery_has_state(rec)
    from flows.runner import recovery_epoch

    assert (recovery_epoch(rec) or 0) >= 1 and recovery_epoch(tmp_path / "none") is None
    notes = p + "out." + OUTPUT_TOPICS["notifications"]
    first = read_topic(kafka_bootstrap, notes)
    assert _run(kafka_bootstrap, p, "--recovery", str(rec)) == 0
    assert read_topic(kafka_bootstrap, notes) == first, "resumed: nothing decided twice"


def test_zero_workers_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert not recovery_has_state(None)
