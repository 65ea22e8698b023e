"""Kafka client configuration (issue 14, item 1): a file, the environment and flags, passed to
every client unchanged; secrets never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from familycard.cli import main
from flows.kafka.admin import ensure_topics, produce_all, read_topic
from flows.kafka.config import ConfigError, load_kafka_config
from flows.topics import INPUT_TOPICS
from tests import scenario

FILE = """
[kafka]
bootstrap = "file-broker:9093"
group_id = "familycard-prod"
client_id = "familycard-prod"
partitions = 3
replication_factor = 2

[kafka.properties]
"security.protocol" = "SASL_SSL"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "familycard"
"ssl.ca.location" = "/etc/familycard/ca.pem"

[kafka.consumer]
"fetch.max.bytes" = 52428800

[kafka.producer]
"linger.ms" = "20"

[topics]
"registry.civil" = "gov.civil.v1"
notifications = "familycard.notifications.v2"
"""


def test_file_environment_and_flag_layer_in_that_order(tmp_path: Path) -> None:
    path = tmp_path / "familycard.toml"
    path.write_text(FILE)
    env = {"FAMILYCARD_KAFKA_SASL_PASSWORD": "s3cret", "FAMILYCARD_KAFKA_GROUP_ID": "from-env",
           "FAMILYCARD_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET": "x", "HOME": "/root"}
    cfg = load_kafka_config(path, env, None)
    assert cfg.bootstrap == "file-broker:9093" and cfg.group_id == "from-env" and cfg.client_id == "familycard-prod"
    assert (cfg.partitions, cfg.replication_factor) == (3, 2)
    consumer = cfg.for_consumer()
    assert consumer["security.protocol"] == "SASL_SSL" and consumer["sasl.password"] == "s3cret"
    assert consumer["fetch.max.bytes"] == "52428800" and "linger.ms" not in consumer
    assert consumer["group.id"] == "from-env" and consumer["client.id"] == "familycard-prod"
    assert cfg.for_producer()["linger.ms"] == "20" and "group.id" not in cfg.for_producer()
    assert cfg.for_admin()["sasl.oauthbearer.client.secret"] == "x"
    assert cfg.topic("registry.civil", "p.") == "gov.civil.v1" and cfg.topic("registry.status", "p.") == "p.registry.status"
    assert load_kafka_config(path, env, "flag:1").bootstrap == "flag:1"
    shown = str(cfg.redacted())
    assert "s3cret" not in shown and "'sasl.password': '***'" in shown and "SCRAM-SHA-512" in shown


@pytest.mark.parametrize("text, where", [
    ("[kafkaa]\n", "unknown section 'kafkaa'"),
    ("[kafka]\ngroupid = 'x'\n", "kafka.groupid"),
    ("[kafka.properties]\n'enable.auto.commit' = true\n", "kafka.properties.enable.auto.commit"),
    ("[kafka]\npartitions = 0\n", "kafka.partitions"),
    ("[kafka\n", "familycard.toml"),
])
def test_a_bad_file_is_refused_saying_where(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "familycard.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        load_kafka_config(path, {}, "b:1")
    assert where in str(err.value)


def test_no_bootstrap_anywhere_is_refused() -> None:
    with pytest.raises(ConfigError, match="no Kafka bootstrap"):
        load_kafka_config(None, {}, None)


def test_every_property_reaches_the_clients_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the flow hands confluent-kafka (hence librdkafka), recorded by stand-in client classes."""
    import flows.kafka.exactly_once as exactly_once
    import flows.kafka.source as kafka_source
    from flows.kafka.flow import kafka_flow

    path = tmp_path / "familycard.toml"
    path.write_text(FILE)
    cfg = load_kafka_config(path, {"FAMILYCARD_KAFKA_SASL_PASSWORD": "s3cret"}, None)
    seen: list[dict[str, Any]] = []

    class Spy:
        def __init__(self, config: dict[str, Any]) -> None:
            seen.append(dict(config))
            raise RuntimeError("recorded")

    monkeypatch.setattr(kafka_source, "Consumer", Spy)
    monkeypatch.setattr(exactly_once, "Producer", Spy)
    flow = kafka_flow(cfg.bootstrap, config=cfg)
    source = next(op for op in flow.substeps if op.step_name == "read").source  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="recorded"):
        source.build_part("read", "aligned", None)
    consumer = seen[-1]
    for k, v in {**cfg.properties, **cfg.consumer}.items():
        assert consumer[k] == v, k
    assert consumer["group.id"] == "familycard-prod" and consumer["sasl.password"] == "s3cret"
    sink = next(op for op in flow.substeps if op.step_name == "write_notifications").sink  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="recorded"):
        sink.build_part("write", sink.topic, None)
    producer = seen[-1]
    for k, v in {**cfg.properties, **cfg.producer}.items():
        assert producer[k] == v, k


@pytest.mark.kafka
def test_a_run_from_a_config_file_uses_its_topics_and_commits_the_groups_offsets(
        kafka_bootstrap: str, unique_topic_prefix: str, tmp_path: Path) -> None:
    p = unique_topic_prefix
    civil, notes = p + "gov.civil.v1", p + "my.notifications"
    path = tmp_path / "familycard.toml"
    path.write_text(f'[kafka]\nbootstrap = "{kafka_bootstrap}"\ngroup_id = "{p}group"\nclient_id = "ministry"\n'
                    f'[kafka.properties]\n"security.protocol" = "plaintext"\n"socket.keepalive.enable" = true\n'
                    f'[topics]\n"registry.civil" = "{civil}"\nnotifications = "{notes}"\n')
    topics = {t: (civil if t == "registry.civil" else p + t) for t in INPUT_TOPICS}
    ensure_topics(kafka_bootstrap, list(topics.values()))
    produce_all(kafka_bootstrap, scenario.kafka_messages(topics.__getitem__))
    assert main(["run", "--kafka-config", str(path), "--stop-at-end", "--input-prefix", p, "--output-prefix",
                 p + "out.", "--shards", "16", "--recovery", str(tmp_path / "rec")]) == 0
    assert read_topic(kafka_bootstrap, notes), "notifications went to the configured topic"
    probe = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"{p}group", "enable.auto.commit": False})
    try:
        committed = probe.committed([TopicPartition(civil, 0)], timeout=10)
    finally:
        probe.close()
    assert committed[0].offset > 0, "the group's offsets are committed for lag tooling"
