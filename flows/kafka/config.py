"""How familycard reaches a Kafka cluster: one object built once, from a file, the environment
and the command line, and handed to every client (issue 14).

A ministry's cluster needs TLS, SASL (SCRAM or OAUTHBEARER), its own ``client.id`` and
consumer group, topic names of its own, and a partition count and replication factor for the
topics familycard creates. librdkafka already has a property for each; like Bytewax's
``KafkaSource(add_config=...)`` and quix-streams' ``Application(consumer_extra_config=...)``,
familycard passes any property through unchanged rather than inventing names for them:

- a TOML file (``--kafka-config familycard.toml`` or ``FAMILYCARD_KAFKA_CONFIG``)::

      [kafka]
      bootstrap = "broker-1:9093,broker-2:9093"
      group_id = "familycard-prod"          # the consumer group lag tooling sees
      client_id = "familycard-prod"
      partitions = 12                       # for topics familycard creates
      replication_factor = 3

      [kafka.properties]                    # every client: consumer, producers, admin
      "security.protocol" = "SASL_SSL"
      "sasl.mechanism" = "SCRAM-SHA-512"
      "sasl.username" = "familycard"
      "ssl.ca.location" = "/etc/familycard/ca.pem"

      [kafka.consumer]                      # only the consumer (likewise producer, admin)
      "fetch.max.bytes" = "52428800"

      [topics]                              # contract name = the cluster's name
      "registry.civil" = "gov.civil-registry.events.v1"
      notifications = "familycard.notifications.v2"

- the environment, over the file: ``FAMILYCARD_KAFKA_<PROPERTY>`` with the property's dots as
  underscores (``FAMILYCARD_KAFKA_SASL_PASSWORD`` is ``sasl.password``,
  ``FAMILYCARD_KAFKA_BOOTSTRAP_SERVERS`` the bootstrap, ``FAMILYCARD_KAFKA_GROUP_ID`` the group) —
  the place for secrets (librdkafka property names have no underscores);
- the command line, over both: ``--kafka HOST:PORT`` and the topic prefixes.

Secrets never reach a log line or a metric: ``redacted()`` masks every property whose name
says password, secret, token or key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["KafkaConfig", "load_kafka_config", "ConfigError", "ENV_PREFIX"]

ENV_PREFIX = "FAMILYCARD_KAFKA_"
_SECRET = re.compile(r"password|secret|token|key", re.I)
_SECTIONS = {"kafka", "topics"}
_KAFKA_KEYS = {"bootstrap", "group_id", "client_id", "partitions", "replication_factor", "properties", "consumer",
               "producer", "admin"}
# Set by familycard itself on its clients; a configuration may not take them over.
_RESERVED = {"enable.auto.commit", "enable.auto.offset.store", "enable.partition.eof", "enable.idempotence",
             "logger", "error_cb", "on_delivery"}


class ConfigError(ValueError):
    """A configuration that cannot be used, with where it came from."""


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap: str
    group_id: str = "familycard"
    client_id: str = "familycard"
    partitions: int = 1
    replication_factor: int = -1
    properties: Mapping[str, str] = field(default_factory=dict)
    consumer: Mapping[str, str] = field(default_factory=dict)
    producer: Mapping[str, str] = field(default_factory=dict)
    admin: Mapping[str, str] = field(default_factory=dict)
    topics: Mapping[str, str] = field(default_factory=dict)

    def _client(self, own: Mapping[str, str]) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, "client.id": self.client_id, **self.properties, **own}

    def for_consumer(self) -> dict[str, Any]:
        return {**self._client(self.consumer), "group.id": self.group_id}

    def for_producer(self) -> dict[str, Any]:
        return self._client(self.producer)

    def for_admin(self) -> dict[str, Any]:
        return self._client(self.admin)

    def topic(self, name: str, prefix: str = "") -> str:
        """The cluster's name for the contract topic ``name`` (its mapping, else prefix + name)."""
        return self.topics.get(name) or prefix + name

    def with_bootstrap(self, bootstrap: str | None) -> KafkaConfig:
        return self if not bootstrap else replace(self, bootstrap=bootstrap)

    def redacted(self) -> dict[str, Any]:
        """Everything, for a log line, with secrets masked."""
        def mask(props: Mapping[str, str]) -> dict[str, str]:
            return {k: ("***" if _SECRET.search(k) else v) for k, v in props.items()}
        return {"bootstrap": self.bootstrap, "group_id": self.group_id, "client_id": self.client_id,
                "partitions": self.partitions, "replication_factor": self.replication_factor,
                "properties": mask(self.properties), "consumer": mask(self.consumer),
                "producer": mask(self.producer), "admin": mask(self.admin), "topics": dict(self.topics)}


def _props(section: Any, where: str) -> dict[str, str]:
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: expected a table of librdkafka properties")
    out = {}
    for k, v in section.items():
        if k in _RESERVED:
            raise ConfigError(f"{where}.{k}: set by familycard itself (see flows/kafka/), not configurable")
        if isinstance(v, bool):
            v = "true" if v else "false"
        if not isinstance(v, (str, int, float)):
            raise ConfigError(f"{where}.{k}: a property value is a string or a number")
        out[str(k)] = str(v)
    return out


def load_kafka_config(path: Path | None, environ: Mapping[str, str], bootstrap: str | None) -> KafkaConfig:
    """The configuration from ``path`` (TOML; None: none), then ``environ``, then ``bootstrap``."""
    raw: dict[str, Any] = {}
    where = str(path)
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{where}: {exc}") from exc
    unknown = set(raw) - _SECTIONS
    if unknown:
        raise ConfigError(f"{where}: unknown section {sorted(unknown)[0]!r} (known: kafka, topics)")
    kafka = raw.get("kafka", {})
    bad = set(kafka) - _KAFKA_KEYS
    if bad:
        raise ConfigError(f"{where}: unknown key kafka.{sorted(bad)[0]} (known: {', '.join(sorted(_KAFKA_KEYS))})")
    props = _props(kafka.get("properties", {}), "kafka.properties")
    group, client = str(kafka.get("group_id", "familycard")), str(kafka.get("client_id", "familycard"))
    boot = kafka.get("bootstrap")
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        prop = name[len(ENV_PREFIX):].lower().replace("_", ".")
        if prop == "bootstrap.servers":
            boot = value
        elif prop == "group.id":
            group = value
        elif prop == "client.id":
            client = value
        elif prop in _RESERVED:
            raise ConfigError(f"{name}: {prop} is set by familycard itself, not configurable")
        else:
            props[prop] = value
    boot = bootstrap or boot
    if not boot:
        raise ConfigError("no Kafka bootstrap servers: give --kafka HOST:PORT, kafka.bootstrap in the file or "
                          f"{ENV_PREFIX}BOOTSTRAP_SERVERS")
    topics = raw.get("topics", {})
    if not isinstance(topics, dict) or not all(isinstance(v, str) and v for v in topics.values()):
        raise ConfigError(f"{where}: [topics] maps contract names to topic names (strings)")
    try:
        partitions, replication = int(kafka.get("partitions", 1)), int(kafka.get("replication_factor", -1))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: kafka.partitions and kafka.replication_factor are integers") from exc
    if partitions < 1 or replication == 0 or replication < -1:
        raise ConfigError(f"{where}: kafka.partitions must be >= 1 and kafka.replication_factor >= 1 (or -1, the "
                          "broker's default)")
    return KafkaConfig(str(boot), group, client, partitions, replication, props,
                       _props(kafka.get("consumer", {}), "kafka.consumer"),
                       _props(kafka.get("producer", {}), "kafka.producer"),
                       _props(kafka.get("admin", {}), "kafka.admin"), dict(topics))
