"""Topics and whole-topic helpers: create topics, ask which hold records, read a topic to its
end, produce a list of messages and wait for them.

The flows need only ``ensure_topics`` and ``topics_holding_records`` (the safe start); the CLI,
the scheduler, the benchmarks and the tests use ``read_topic`` and ``produce_all``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from flows.kafka.clients import GROUP_ID, base_client_config, new_producer, producer_config, raise_fatal
from flows.kafka.sink import KafkaDeliveryError

__all__ = ["ensure_topics", "produce_all", "read_topic", "topics_holding_records"]

log = logging.getLogger(__name__)


def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int = 1, *,
                  replication_factor: int = -1, timeout: float = 30.0,
                  extra_config: Mapping[str, Any] | None = None) -> None:
    """Create the missing topics and wait until the broker lists them with leaders.

    Existing topics are left as they are (also their partition count): several processes may
    race to create the same topic, so "already exists" is success. ``replication_factor=-1``
    means the broker's default.
    """
    wanted = list(dict.fromkeys(topics))
    if not wanted:
        return
    admin = AdminClient({**base_client_config(bootstrap), **(extra_config or {})})
    deadline = time.monotonic() + timeout
    present = admin.list_topics(timeout=timeout).topics
    missing = [t for t in wanted if t not in present]
    if missing:
        futures = admin.create_topics([NewTopic(t, partitions, replication_factor) for t in missing],
                                      operation_timeout=timeout, request_timeout=timeout)
        for topic, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                log.debug("topic %s already exists", topic)
    while True:
        present = admin.list_topics(timeout=max(0.1, deadline - time.monotonic())).topics
        not_ready = [t for t in wanted if t not in present or present[t].error is not None
                     or not present[t].partitions
                     or any(p.leader < 0 for p in present[t].partitions.values())]
        if not not_ready:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"topics not ready after {timeout} s: {not_ready}")
        time.sleep(0.05)

def topics_holding_records(bootstrap: str, topics: Sequence[str], *, timeout: float = 10.0,
                           extra_config: Mapping[str, Any] | None = None) -> list[str]:
    """Those of ``topics`` that hold at least one record (a partition whose high watermark is
    above its low one); a topic that does not exist holds none."""
    consumer = Consumer({**base_client_config(bootstrap), **(extra_config or {}), "group.id": GROUP_ID + "-probe",
                         "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(timeout=timeout).topics
        full = []
        for topic in topics:
            tmeta = meta.get(topic)
            if tmeta is None or tmeta.error is not None:
                continue
            for pid in tmeta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, pid), timeout=timeout)
                if high > max(low, 0):
                    full.append(topic)
                    break
        return full
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str, *, timeout: float = 10.0,
               start: Mapping[int, int] | None = None,
               extra_config: Mapping[str, Any] | None = None) -> list[tuple[bytes | None, bytes]]:
    """Every ``(key, value)`` of ``topic`` from the beginning to its end now, by partition then offset.

    ``start`` gives, per partition, the first offset to read instead of the beginning.

    The end is where the consumer reports partition EOF, not ListOffsets: Tansu 0.6 answers
    ListOffsets(latest) with the last record batch's base offset + 1, not the log end.
    """
    deadline = time.monotonic() + timeout
    consumer = Consumer({**base_client_config(bootstrap), **(extra_config or {}), "group.id": GROUP_ID + "-reader",
                         "enable.auto.commit": False, "enable.partition.eof": True, "fetch.wait.max.ms": 20})
    try:
        tmeta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if tmeta is None or tmeta.error is not None:
            raise ValueError(f"topic {topic!r} is not readable: {None if tmeta is None else tmeta.error}")
        got: dict[int, list[tuple[bytes | None, bytes]]] = {pid: [] for pid in tmeta.partitions}
        pending = set(got)
        first = start or {}
        consumer.assign([TopicPartition(topic, pid, first.get(pid, OFFSET_BEGINNING)) for pid in sorted(got)])
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"read_topic({topic!r}): partitions {sorted(pending)} not read to their end")
            msg: Any
            for msg in consumer.consume(1000, min(left, 0.1)):
                err = msg.error()
                if err is None:
                    got[msg.partition()].append((msg.key(), msg.value() or b""))
                elif err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                else:
                    raise_fatal(err)
                    log.warning("read_topic %s: %s", topic, err)
        return [kv for pid in sorted(got) for kv in got[pid]]
    finally:
        consumer.close()


def produce_all(bootstrap: str, messages: Iterable[tuple[str, bytes | str | None, bytes]], *,
                timeout: float = 30.0) -> int:
    """Produce ``(topic, key, value)`` in order and wait for all of them; returns the count."""
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            errors.append(err)

    producer = new_producer({**producer_config(bootstrap, "familycard-produce-all", None),
                              "linger.ms": 5, "delivery.report.only.error": True, "on_delivery": on_delivery})
    n = 0
    for topic, key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
        if n % 10_000 == 0:
            producer.poll(0)
    left = producer.flush(timeout)
    if errors:
        raise KafkaDeliveryError(f"{len(errors)} message(s) failed; first: {errors[0]}", errors)
    if left:
        raise KafkaDeliveryError(f"{left} message(s) not acknowledged within {timeout} s")
    return n
