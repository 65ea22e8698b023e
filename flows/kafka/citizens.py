"""``familycard simulate-citizens``: the citizen simulator as its own process on Kafka.

Reads the ``notifications`` topic with manual assignment (no consumer-group join), answers
each offer as ``flows.citizens.reply_for`` decides, and produces the replies to
``sms.replies`` keyed by phone. Replies carry their own ``received_at``; the flow's aligned
source releases them in event time.
"""

from __future__ import annotations

import time

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from flows.citizens import reply_for

__all__ = ["simulate_citizens"]


def simulate_citizens(bootstrap: str, notifications: str = "notifications", replies: str = "sms.replies", *,
                      stop_at_end: bool = False, idle_seconds: float = 3.0) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "familycard-citizens",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 10})
    meta = consumer.list_topics(notifications, timeout=10)
    parts = [TopicPartition(notifications, p, OFFSET_BEGINNING) for p in meta.topics[notifications].partitions]
    consumer.assign(parts)
    at_end: set[int] = set()
    sent = 0
    last_message = time.monotonic()
    try:
        while True:
            msgs = consumer.consume(500, 0.2)
            for msg in msgs:
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(int(msg.partition() or 0))
                        continue
                    raise RuntimeError(f"kafka error: {err}")
                at_end.discard(msg.partition())
                last_message = time.monotonic()
                value = msg.value()
                record = orjson.loads(value) if value else None  # a tombstone answers nothing
                reply = reply_for(record) if isinstance(record, dict) else None
                if reply is not None:
                    producer.produce(replies, key=reply["phone"].encode(), value=orjson.dumps(reply))
                    sent += 1
            producer.poll(0)
            if stop_at_end and len(at_end) == len(parts) and time.monotonic() - last_message > idle_seconds:
                break
    finally:
        producer.flush(10)
        consumer.close()
    return sent
