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

**A topic that disappears stops the flow** (``OutputTopicGone``) instead of being written
into the void. A broker may acknowledge writes to a deleted topic (Tansu 0.6 does, at fresh
offsets from 0, while its metadata no longer lists the topic), or a deleted topic may be
created again behind the flow's back. So, besides delivery errors that say the topic is
unknown, the sink checks that the topic still exists before an epoch's offsets are recorded
(a metadata request at each snapshot and at close, after anything was written since the
last check), and a delivery report at an offset not past the last one written on that
partition means the log the recorded offsets point into is gone. The producer never asks
the broker to create the topic (``allow.auto.create.topics`` off).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from flows.kafka.admin import read_topic
from flows.kafka.sink import KafkaDeliveryError

__all__ = ["IdempotentKafkaSink", "OutputTopicGone", "RECORD_ID", "record_id_of"]

log = logging.getLogger(__name__)

SinkState = dict[int, int]  # Kafka partition -> last offset written and acknowledged

# Delivery errors that mean the topic (or partition) is not there: deleted under the flow.
_GONE = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION})
_REMEDY = ("what was written to it since then is lost. Find out who deleted it, then replay into a fresh "
           "topic: recreate it and run from the beginning (--from-beginning, without this recovery "
           "directory), or write to new topics (--output-prefix)")


class OutputTopicGone(KafkaDeliveryError):
    """An output topic was deleted (or deleted and created again) while the flow wrote to it."""


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
        self.regressed: list[tuple[int, int, int]] = []  # (partition, offset delivered, last offset before)
        self.unverified = False  # written since the topic was last seen in the broker's metadata
        self.failed: KafkaDeliveryError | None = None  # what this partition raised, if it did
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                  "linger.ms": 5, "compression.type": "lz4",
                                  "log_level": 4,  # warnings and worse: reconnect chatter floods logs
                                  # never create a deleted topic again by writing to it (or asking about it)
                                  "allow.auto.create.topics": False,
                                  **config})
        # What the replayed epochs had written before the crash: never write it again. With
        # no snapshot yet (a crash before the first one, or a first start) that is the whole
        # topic: ids are deterministic, so a record already there is never sent twice.
        start = {pid: offset + 1 for pid, offset in (resume or {}).items()}
        try:
            tail = read_topic(bootstrap, topic, start=start, timeout=120.0, extra_config=reader_config)
        except TimeoutError as exc:
            if not start:
                raise
            raise TimeoutError(f"{exc}: the recovery state says {topic!r} was written up to offsets {resume} "
                               f"(partition: last offset); a topic deleted and created again since then holds "
                               f"less, and cannot be resumed into: {_REMEDY}") from exc
        self.skip: set[str] = {record_id_of(kind, value) for _, value in tail}
        if self.skip:
            log.info("%s: resuming after %s; %d records already written will be skipped",
                     topic, resume, len(self.skip))

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.errors.append(err)
            return
        pid, offset = msg.partition(), msg.offset()
        if pid is None or offset is None or offset < 0:
            return
        last = self.written.get(pid, -1)
        if offset > last:
            self.written[pid] = offset
        else:  # offsets of one partition only grow: this is another log than the one written before
            self.regressed.append((pid, offset, last))

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
            self.unverified = True
        self.producer.poll(0)

    def snapshot(self) -> SinkState:
        """Flush, so the offsets recorded with this epoch are really in the topic (and it still exists)."""
        if self.unverified and len(self.producer):
            self._check_topic(strict=False)  # deleted: say so now, not after a flush that cannot succeed
        left = self.producer.flush(60)
        self._raise_errors()
        if left:
            raise self._fail(KafkaDeliveryError(f"{self.topic}: {left} messages not acknowledged within 60 s"))
        if self.unverified:
            self._check_topic(strict=True)
        return dict(self.written)

    def _check_topic(self, *, strict: bool) -> None:
        """Raise ``OutputTopicGone`` if the broker no longer knows the topic.

        A broker that does not answer proves nothing (an outage: the producer waits for it);
        ``strict`` keeps the topic unverified then, so the next snapshot asks again."""
        try:
            meta = self.producer.list_topics(self.topic, timeout=10).topics.get(self.topic)
        except KafkaException as exc:
            log.warning("%s: could not check that the topic still exists: %s", self.topic, exc)
            return
        err = None if meta is None else meta.error
        if meta is None or (err is not None and err.code() in _GONE) or (err is None and not meta.partitions):
            raise self._fail(OutputTopicGone(f"output topic {self.topic!r} no longer exists (the broker says "
                                             f"{err or 'nothing of it'}): it was deleted while the flow wrote to it; "
                                             f"{_REMEDY}"))
        if err is None and strict:
            self.unverified = False

    def _raise_errors(self) -> None:
        if self.errors:
            errors, self.errors = self.errors, []
            gone = [e for e in errors if e.code() in _GONE]
            if gone:
                raise self._fail(OutputTopicGone(f"output topic {self.topic!r} no longer exists ({len(gone)} of "
                                                 f"{len(errors)} deliveries failed: {gone[0]}): it was deleted while "
                                                 f"the flow wrote to it; {_REMEDY}", errors))
            raise self._fail(KafkaDeliveryError(f"{self.topic}: delivery failed: {errors[0]}", errors))
        if self.regressed:
            (pid, offset, last), self.regressed = self.regressed[0], []
            self._check_topic(strict=False)  # deleted and not there: say that
            raise self._fail(OutputTopicGone(f"output topic {self.topic!r} was deleted (and created again) while "
                                             f"the flow wrote to it: partition {pid} took a record at offset {offset}, "
                                             f"after this sink had written offset {last}; {_REMEDY}"))

    def _fail(self, exc: KafkaDeliveryError) -> KafkaDeliveryError:
        self.failed = exc
        return exc

    def close(self) -> None:
        if self.failed is not None:
            # Bytewax closes a partition that raised while it unwinds; raising again there
            # aborts the process (a panic in a destructor) before the first error is reported.
            log.error("%s: closed after an error, nothing more is flushed: %s", self.topic, self.failed)
            return
        left = self.producer.flush(300)  # a broker outage may hold deliveries back for minutes
        self._raise_errors()
        if left:
            raise self._fail(KafkaDeliveryError(f"{self.topic}: {left} messages not acknowledged within 300 s"))
        if self.unverified:
            self._check_topic(strict=True)


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
