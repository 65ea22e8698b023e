"""An example downstream notifier: reads ``notifications`` and sends each SMS once, in its language.

What a real notifier must get right, and how this one does it:

- **At-least-once input.** Kafka delivers a message again after a consumer crash, and the
  flow itself may write a notification again after it crashed (docs/DESIGN.md, "Recovery,
  restarts and exactly-once effect"). So the notifier commits offsets only after handling a
  batch (``enable.auto.commit`` off), and de-duplicates by ``notification_id``, which the
  contract makes a pure function of (recipient, code, occasion): one id, one SMS.
- **A durable memory of what was sent.** The ids live in SQLite (``--seen-db``), so a
  restart does not forget them. An id is recorded right after its SMS is handed to the
  gateway: a crash between the two re-sends one SMS, never loses one.
- **Bad records do not block the partition.** A record that fails the shipped schema
  (``schemas.validation.validate_output``) is reported and skipped; its offset is committed.
- **No phone, no SMS.** ``phone: null`` means route to a letter or a social worker
  (contract §2); here it is reported.

Run it (README.md in this directory)::

    python examples/notifier.py --bootstrap localhost:9092 --stop-at-end
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from schemas.validation import validate_output

__all__ = ["Sms", "SeenIds", "Notifier", "print_sms", "main"]


@dataclass(frozen=True, slots=True)
class Sms:
    """What the SMS gateway needs: one text, in the recipient's language, from the short number."""

    notification_id: str
    phone: str
    sender: str
    language: str
    text: str


Send = Callable[[Sms], None]
"""Hands one SMS to the gateway; raising stops the notifier before the offset is committed."""
Report = Callable[[str], None]
"""Tells an operator about a record that was not sent (invalid, or no phone)."""


def print_sms(sms: Sms) -> None:
    """The default gateway: print one line per SMS."""
    print(f"SMS from {sms.sender} to {sms.phone} [{sms.language}] ({sms.notification_id}): {sms.text}")


def report_to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


class SeenIds:
    """The notification ids already sent, in SQLite: survives restarts (``":memory:"`` does not)."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS sent (notification_id TEXT PRIMARY KEY)")

    def __contains__(self, nid: str) -> bool:
        return self._db.execute("SELECT 1 FROM sent WHERE notification_id = ?", (nid,)).fetchone() is not None

    def add(self, nid: str) -> None:
        with self._db:  # one transaction per id: committed before the Kafka offset is
            self._db.execute("INSERT OR IGNORE INTO sent VALUES (?)", (nid,))

    def close(self) -> None:
        self._db.close()


class Notifier:
    """Turns one ``notifications`` message into at most one SMS."""

    def __init__(self, send: Send, report: Report, seen: SeenIds) -> None:
        self.send, self.report, self.seen = send, report, seen

    def handle(self, value: bytes | None, where: str) -> str:
        """``sent``, ``duplicate``, ``no_phone`` or ``invalid``; ``where`` names the message in reports."""
        try:
            record: Any = orjson.loads(value or b"")
        except orjson.JSONDecodeError as exc:
            self.report(f"invalid notification at {where}: not JSON: {exc}")
            return "invalid"
        invalid = validate_output("notification", record)
        if invalid is not None:
            self.report(f"invalid notification at {where}: {invalid.path or 'record'}: {invalid.message}")
            return "invalid"
        nid = record["notification_id"]
        if nid in self.seen:
            return "duplicate"
        if record["phone"] is None:
            self.report(f"no phone for {nid} ({record['kind']} {record['code']}): send a letter instead")
            self.seen.add(nid)
            return "no_phone"
        language = record["language"]
        self.send(Sms(nid, record["phone"], record["sender"], language, record["text"][language]))
        self.seen.add(nid)
        return "sent"


def _config(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--config wants KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="notifier", description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", default="localhost:9092", help="Kafka bootstrap servers (localhost:9092)")
    p.add_argument("--topic", default="notifications")
    p.add_argument("--group", default="familycard-notifier", help="consumer group: its offsets say what is handled")
    p.add_argument("--seen-db", default="notifier-seen.sqlite3", help="SQLite file of the ids already sent")
    p.add_argument("--stop-at-end", action="store_true", help="stop once every assigned partition is read to its end")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="extra librdkafka consumer setting, e.g. session.timeout.ms=6000 (repeatable)")
    return p


def main(argv: Sequence[str] | None = None, send: Send = print_sms, report: Report = report_to_stderr) -> int:
    """Consume until interrupted (or, with ``--stop-at-end``, until caught up); 0 on success."""
    args = _parser().parse_args(argv)
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap, "group.id": args.group,
        "enable.auto.commit": False,          # commit only what was handled
        "auto.offset.reset": "earliest",      # a new group starts at the first notification
        "enable.partition.eof": True,         # to know when --stop-at-end is reached
        **_config(args.config),
    })
    assigned: set[tuple[str, int]] = set()
    at_end: set[tuple[str, int]] = set()

    def on_assign(_: Consumer, parts: list[TopicPartition]) -> None:
        assigned.update((p.topic, p.partition) for p in parts)

    def on_revoke(_: Consumer, parts: list[TopicPartition]) -> None:
        gone = {(p.topic, p.partition) for p in parts}
        assigned.difference_update(gone)
        at_end.difference_update(gone)

    seen = SeenIds(args.seen_db)
    notifier = Notifier(send, report, seen)
    counts: dict[str, int] = {}
    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
    try:
        while not (args.stop_at_end and assigned and assigned <= at_end):
            batch: list[Message] = consumer.consume(500, 0.5)
            handled: dict[tuple[str, int], int] = {}
            for msg in batch:
                err, topic, partition, offset = msg.error(), msg.topic(), msg.partition(), msg.offset()
                if err is not None:
                    if err.fatal() or err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:  # not worth waiting for
                        raise RuntimeError(f"Kafka error: {err}")
                    if err.code() == KafkaError._PARTITION_EOF and topic is not None and partition is not None:
                        at_end.add((topic, partition))
                    else:  # librdkafka retries by itself (a broker down, a timeout): only tell
                        report(f"Kafka: {err}")
                    continue
                assert topic is not None and partition is not None and offset is not None  # a consumed record
                at_end.discard((topic, partition))
                outcome = notifier.handle(msg.value(), f"{topic}[{partition}]@{offset}")
                counts[outcome] = counts.get(outcome, 0) + 1
                handled[(topic, partition)] = offset
            if handled:  # the next offset to read, per partition, once the whole batch is handled
                consumer.commit(offsets=[TopicPartition(t, p, o + 1) for (t, p), o in handled.items()],
                                asynchronous=False)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
        seen.close()
    print(_summary(counts), file=sys.stderr)
    return 0


def _summary(counts: Mapping[str, int]) -> str:
    return "notifier: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("sent", "duplicate", "no_phone", "invalid"))


if __name__ == "__main__":
    sys.exit(main())
