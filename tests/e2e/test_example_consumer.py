"""``examples/notifier.py`` on a real broker: each valid notification is sent once, in its language.

Three runs of the example in one consumer group: the first sends what is new and reports
what it cannot send; the second, with an empty memory of sent ids, sends nothing (so the
first committed its offsets); the third gets the flow's re-send of an old notification
(after a crash) and a new one, and sends only the new one (the memory outlives restarts).
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from examples.notifier import Sms, main
from flows.kafka_io import ensure_topics, produce_all
from schemas.reference import example

pytestmark = pytest.mark.kafka

# Tansu (like Kafka) completes a group join only after waiting for other members; a short
# session keeps that to ~3 s. 6000 ms is the smallest a stock Kafka broker accepts.
GROUP_SETTINGS = ["--config", "session.timeout.ms=6000", "--config", "heartbeat.interval.ms=1000"]
RUN_TIMEOUT_S = 90.0


def notification(nid: str, iin: str, language: str, phone: str | None = "+77011234567") -> dict[str, Any]:
    return {**example("notification"), "notification_id": nid, "iin": iin, "language": language, "phone": phone}


KK = notification("n-" + "a" * 20, "870512400129", "kk")
RU = notification("n-" + "b" * 20, "850101300123", "ru", "+77017654321")
NO_PHONE = notification("n-" + "c" * 20, "910923400014", "ru", None)
INVALID = {**notification("n-" + "d" * 20, "961001400013", "kk"), "kind": "bogus"}
LATER = notification("n-" + "e" * 20, "900111400018", "ru")


def _message(topic: str, value: dict[str, Any] | bytes) -> tuple[str, bytes, bytes]:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    key = b"" if isinstance(value, bytes) else value["iin"].encode()
    return topic, key, raw


def run_notifier(bootstrap: str, topic: str, group: str, seen_db: Path) -> tuple[list[Sms], list[str]]:
    """One run of the example to the end of the topic; (SMS sent, lines reported)."""
    sent: list[Sms] = []
    reports: list[str] = []
    result: list[int] = []
    argv = ["--bootstrap", bootstrap, "--topic", topic, "--group", group, "--seen-db", str(seen_db),
            "--stop-at-end", *GROUP_SETTINGS]
    worker = threading.Thread(target=lambda: result.append(main(argv, send=sent.append, report=reports.append)),
                              daemon=True)
    worker.start()
    worker.join(RUN_TIMEOUT_S)
    assert not worker.is_alive(), f"the notifier did not reach the end of {topic} in {RUN_TIMEOUT_S} s"
    assert result == [0]
    return sent, reports


@pytest.fixture(scope="module")
def topic(kafka_bootstrap: str) -> str:
    name = f"notifier{uuid.uuid4().hex[:8]}.notifications"
    ensure_topics(kafka_bootstrap, [name], partitions=2)
    produce_all(kafka_bootstrap, [_message(name, m) for m in (KK, RU, KK, NO_PHONE, INVALID, b"not json {")])
    return name


@pytest.fixture(scope="module")
def runs(kafka_bootstrap: str, topic: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The three runs, in order, in one consumer group (module scope: each costs a group join)."""
    tmp = tmp_path_factory.mktemp("notifier")
    group = f"notifier-{uuid.uuid4().hex[:8]}"
    out: dict[str, Any] = {}
    out["first"] = run_notifier(kafka_bootstrap, topic, group, tmp / "seen.sqlite3")
    out["fresh_memory"] = run_notifier(kafka_bootstrap, topic, group, tmp / "empty.sqlite3")
    produce_all(kafka_bootstrap, [_message(topic, RU), _message(topic, LATER)])  # the flow re-sends RU after a crash
    out["restart"] = run_notifier(kafka_bootstrap, topic, group, tmp / "seen.sqlite3")
    return out


def test_each_valid_notification_is_sent_once_in_its_language(runs: dict[str, Any]) -> None:
    sent, _ = runs["first"]
    assert sorted(sent, key=lambda s: s.notification_id) == [
        Sms(KK["notification_id"], "+77011234567", "1414", "kk", KK["text"]["kk"]),
        Sms(RU["notification_id"], "+77017654321", "1414", "ru", RU["text"]["ru"]),
    ]


def test_invalid_records_and_missing_phones_are_reported_not_sent(runs: dict[str, Any]) -> None:
    _, reports = runs["first"]
    assert len(reports) == 3, reports
    assert any("invalid notification" in r and "kind must be one of" in r for r in reports)
    assert any("invalid notification" in r and "not JSON" in r for r in reports)
    assert any(f"no phone for {NO_PHONE['notification_id']}" in r for r in reports)


def test_offsets_are_committed_after_handling(runs: dict[str, Any]) -> None:
    # a new memory of sent ids: only the committed offsets keep it from sending again
    assert runs["fresh_memory"] == ([], [])


def test_a_resent_notification_is_not_sent_again_after_a_restart(runs: dict[str, Any]) -> None:
    sent, reports = runs["restart"]
    assert [s.notification_id for s in sent] == [LATER["notification_id"]]
    assert sent[0].language == "ru" and sent[0].text == LATER["text"]["ru"]
    assert reports == []
