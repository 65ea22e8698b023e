"""Output topics with exactly-once *effect*: after any crash and resume, each record id once.

Bytewax's output is at-least-once after a resume: the epochs after the last recovery
snapshot are processed again, and what they had already written is written again. Each
output topic here has one sink partition that

- flushes the producer and records the last offset it wrote per Kafka partition whenever
  Bytewax snapshots it (the end of an epoch), so the recovery snapshot of an epoch says
  exactly how far the topic was written when that epoch closed;
- on resume, reads what the topic holds *after* those offsets — written by the epochs
  that are about to be replayed — and skips every record whose id is among them; without
  a snapshot (first start, or a crash before the first snapshot) it reads the whole topic.

Record ids are the contract's (``notification_id``, ``assignment_id``) or, for dead
letters and outcomes, a digest of what makes them unique. Cost: one flush per epoch and,
at start, one read of the topic's tail (of all of it on a start without a snapshot: a
deployment with a long history should start with recovery state, or a fresh topic).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from confluent_kafka import KafkaError, Message, Producer

from flows.kafka_io import KafkaDeliveryError, read_topic

__all__ = ["IdempotentKafkaSink", "RECORD_ID", "record_id_of"]

log = logging.getLogger(__name__)

SinkState = dict[int, int]  # Kafka partition -> last offset written and acknowledged


def _notification_id(rec: dict[str, Any]) -> str:
    return str(rec["notification_id"])


def _assignment_id(rec: dict[str, Any]) -> str:
    return str(rec["assignment_id"])


def _outcome_id(rec: dict[str, Any]) -> str:
    return f"{rec['notification_id']}|{rec['outcome']}"


def _dead_letter_id(rec: dict[str, Any]) -> str:
    digest = hashlib.blake2b(rec["received"].encode(), digest_size=10).hexdigest()
    return f"{rec['source_topic']}|{rec['partition']}|{rec['offset']}|{rec['error']['code']}|{digest}"


RECORD_ID: dict[str, Callable[[dict[str, Any]], str]] = {
    "notifications": _notification_id,
    "assignments": _assignment_id,
    "dead_letters": _dead_letter_id,
    "outcomes": _outcome_id,
}


def record_id_of(kind: str, value: bytes) -> str:
    return RECORD_ID[kind](orjson.loads(value))


class _IdempotentPartition(StatefulSinkPartition[tuple[Any, bytes], SinkState]):
    def __init__(self, bootstrap: str, topic: str, kind: str, resume: SinkState | None,
                 config: Mapping[str, Any], reader_config: Mapping[str, Any] | None = None) -> None:
        self.topic, self.kind = topic, kind
        self.written: SinkState = dict(resume or {})
        self.errors: list[KafkaError] = []
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                  "linger.ms": 5, "compression.type": "lz4",
                                  "log_level": 4,  # warnings and worse: reconnect chatter floods logs
                                  **config})
        # What the replayed epochs had written before the crash: never write it again. With
        # no snapshot yet (a crash before the first one, or a first start) that is the whole
        # topic: ids are deterministic, so a record already there is never sent twice.
        start = {pid: offset + 1 for pid, offset in (resume or {}).items()}
        tail = read_topic(bootstrap, topic, start=start, timeout=120.0, extra_config=reader_config)
        self.skip: set[str] = {record_id_of(kind, value) for _, value in tail}
        if self.skip:
            log.info("%s: resuming after %s; %d records already written will be skipped",
                     topic, resume, len(self.skip))

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.errors.append(err)
            return
        pid, offset = msg.partition(), msg.offset()
        if offset is not None and offset > self.written.get(pid, -1):
            self.written[pid] = offset

    def write_batch(self, values: list[tuple[Any, bytes]]) -> None:
        self._raise_errors()
        skip = self.skip
        for key, value in values:
            if skip and record_id_of(self.kind, value) in skip:
                continue
            k = key.encode() if isinstance(key, str) else key
            while True:
                try:
                    self.producer.produce(self.topic, value=value, key=k or None, on_delivery=self._on_delivery)
                    break
                except BufferError:  # the local queue is full: let deliveries drain
                    self.producer.poll(0.1)
        self.producer.poll(0)

    def snapshot(self) -> SinkState:
        """Flush, so the offsets recorded with this epoch are really in the topic."""
        left = self.producer.flush(60)
        if left:
            raise KafkaDeliveryError(f"{self.topic}: {left} messages not acknowledged within 60 s")
        self._raise_errors()
        return dict(self.written)

    def _raise_errors(self) -> None:
        if self.errors:
            errors, self.errors = self.errors, []
            raise KafkaDeliveryError(f"{self.topic}: delivery failed: {errors[0]}", errors)

    def close(self) -> None:
        left = self.producer.flush(300)  # a broker outage may hold deliveries back for minutes
        if left:
            raise KafkaDeliveryError(f"{self.topic}: {left} messages not acknowledged within 300 s")
        self._raise_errors()


class IdempotentKafkaSink(FixedPartitionedSink[tuple[Any, bytes], SinkState]):
    """Write ``(key, json_bytes)`` records of one output ``kind`` to ``topic``, each id once."""

    def __init__(self, bootstrap: str, topic: str, kind: str, extra_config: Mapping[str, Any] | None = None,
                 reader_config: Mapping[str, Any] | None = None) -> None:
        """``extra_config``: librdkafka properties of the producer; ``reader_config``: of the consumer
        that reads the topic back on start (the same cluster's security settings)."""
        if kind not in RECORD_ID:
            raise ValueError(f"unknown output kind {kind!r}")
        self.bootstrap, self.topic, self.kind = bootstrap, topic, kind
        self.extra_config = dict(extra_config or {})
        self.reader_config = dict(reader_config or {})

    def list_parts(self) -> list[str]:
        return [self.topic]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: SinkState | None) -> _IdempotentPartition:
        return _IdempotentPartition(self.bootstrap, self.topic, self.kind, resume_state, self.extra_config,
                                    self.reader_config)
