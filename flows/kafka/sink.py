"""Writing to a Kafka topic in batches: ``KafkaTopicSink``, and ``KafkaDeliveryError`` for what
the broker refused.

Bytewax's stock ``KafkaSink`` flushes after every batch and so caps output at a few hundred
batches a second; this one produces asynchronously and flushes on a timer and on close.
(Output topics with exactly-once effect: ``flows.kafka.exactly_once``.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaError, Message

from flows.kafka.clients import new_producer, producer_config

__all__ = ["KafkaDeliveryError", "KafkaTopicSink"]

log = logging.getLogger(__name__)


class KafkaDeliveryError(RuntimeError):
    """The broker refused (or never acknowledged) produced messages; ``errors`` has the reasons."""

    def __init__(self, message: str, errors: Sequence[KafkaError] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


class _TopicSinkPartition(StatelessSinkPartition[tuple[bytes | str | None, bytes]]):
    def __init__(self, topic: str, config: dict[str, Any], flush_interval: float) -> None:
        self._topic = topic
        self._errors: list[KafkaError] = []
        self._flush_interval = flush_interval
        self._producer = new_producer({**config, "delivery.report.only.error": True,
                                        "on_delivery": self._on_delivery})
        self._last_flush = time.monotonic()

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._errors.append(err)

    def _raise_errors(self) -> None:
        if self._errors:
            errors, self._errors = self._errors, []
            raise KafkaDeliveryError(f"{len(errors)} message(s) to {self._topic!r} failed; first: {errors[0]}",
                                     errors)

    def write_batch(self, items: list[tuple[bytes | str | None, bytes]]) -> None:
        self._raise_errors()
        producer = self._producer
        topic = self._topic
        for key, value in items:
            while True:
                try:
                    producer.produce(topic, value, key)
                    break
                except BufferError:  # local queue full: let librdkafka send some first
                    producer.poll(0.05)
        producer.poll(0)
        if time.monotonic() - self._last_flush >= self._flush_interval:
            self._flush(10.0)
        self._raise_errors()

    def _flush(self, timeout: float) -> int:
        left = self._producer.flush(timeout)
        self._last_flush = time.monotonic()
        if left:
            log.warning("kafka sink %s: %d message(s) still unacknowledged after %.1f s", self._topic, left, timeout)
        return left

    def close(self) -> None:
        left = self._flush(60.0)
        self._raise_errors()
        if left:
            raise KafkaDeliveryError(f"{left} message(s) to {self._topic!r} not acknowledged on close")


class KafkaTopicSink(DynamicSink[tuple[bytes | str | None, bytes]]):
    """Writes ``(key, value)`` pairs to one topic, one asynchronous producer per worker.

    Messages are produced asynchronously (``linger.ms`` 10, lz4) and flushed every
    ``flush_interval`` seconds and on close, instead of after every batch as the stock
    ``KafkaSink`` does. A failed delivery raises ``KafkaDeliveryError`` on the next write (or
    on close), never silently.

    Delivery is at-least-once: a resumed flow replays from its last snapshot, so outputs of
    the replayed inputs are written again; consumers de-duplicate by the records' stable ids
    (``notification_id``). The one hole: messages still queued in the producer when the
    process dies hard, after a snapshot already covered their inputs (at most about one
    ``flush_interval`` of output). Closing it (flush before snapshot, or transactions for
    exactly-once) is a later step.
    """

    def __init__(self, bootstrap: str, topic: str, *, extra_config: Mapping[str, Any] | None = None,
                 flush_interval: float = 0.5) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.extra_config = dict(extra_config or {})
        self.flush_interval = flush_interval

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TopicSinkPartition:
        config = producer_config(self.bootstrap, f"familycard-{step_id}-{worker_index}", self.extra_config)
        return _TopicSinkPartition(self.topic, config, self.flush_interval)
