"""What every familycard Kafka client shares: the bootstrap and logging, fatal errors, the
producer settings, and the consumer group name.

All consumers use manual ``assign()``: offsets live in Bytewax's recovery state, not in a
consumer group, and group joins are slow (seconds on Tansu) for no benefit here. The group
name is only where the aligned source reports its position for lag tooling.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

__all__ = ["GROUP_ID", "base_client_config", "new_producer", "producer_config", "raise_fatal"]

log = logging.getLogger(__name__)

GROUP_ID = "familycard-aligned"


def base_client_config(bootstrap: str) -> dict[str, Any]:
    # librdkafka's own log lines go to Python logging, not straight to stderr.
    return {"bootstrap.servers": bootstrap, "logger": log}


def raise_fatal(err: KafkaError) -> None:
    if err.fatal():
        raise KafkaException(err)


def producer_config(bootstrap: str, client_id: str, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        **base_client_config(bootstrap),
        "client.id": client_id,
        "linger.ms": 10,
        "compression.type": "lz4",
        # Retries keep per-partition order and add no duplicates.
        "enable.idempotence": True,
        # Same key -> partition mapping as Java producers, so other tools agree on it.
        "partitioner": "murmur2_random",
    }
    config.update(extra or {})
    return config


def new_producer(config: dict[str, Any]) -> Producer:
    try:
        return Producer(config)
    except KafkaException:
        if config.get("compression.type") != "lz4":
            raise
        log.info("librdkafka without lz4: producing uncompressed")
        return Producer({**config, "compression.type": "none"})
