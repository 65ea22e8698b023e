"""Issue 14, item 7: an output topic deleted mid-run stops the flow with an error naming it,
instead of being written into the void.

Over Tansu 0.6 (the test broker) a produce to a deleted topic is *acknowledged*, at offsets
that start again from 0, while the broker's metadata no longer lists the topic: no delivery
report says anything is wrong. The idempotent sink therefore checks the topic's metadata at
each snapshot (when it wrote something since the last check) and watches the offsets its
writes get; a real Kafka also fails the deliveries with UNKNOWN_TOPIC_OR_PART.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import orjson
import pytest
from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main
from confluent_kafka.admin import AdminClient

from flows.exactly_once import IdempotentKafkaSink, OutputTopicGone
from flows.kafka_io import ensure_topics, read_topic
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.kafka


def _records(start: int, n: int) -> list[tuple[str, bytes]]:
    return [(f"k{i}", orjson.dumps({"notification_id": f"n-{i}", "n": i})) for i in range(start, start + n)]


def _delete(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_topics([topic], operation_timeout=10)[topic].result(timeout=15)
    deadline = time.monotonic() + 10
    while topic in admin.list_topics(timeout=5).topics:
        assert time.monotonic() < deadline, f"{topic} still listed after delete_topics"
        time.sleep(0.05)


def _until_raised(part: Any, timeout: float = 5.0) -> tuple[OutputTopicGone, float]:
    """Drive the partition as Bytewax does (batches, then a snapshot per epoch) until it raises."""
    t0 = time.monotonic()
    with pytest.raises(OutputTopicGone) as info:
        while time.monotonic() - t0 < timeout:
            part.write_batch([])
            part.snapshot()
            time.sleep(0.05)
    return info.value, time.monotonic() - t0


def test_a_deleted_output_topic_stops_the_sink(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    topic = unique_topic_prefix + "notifications"
    ensure_topics(kafka_bootstrap, [topic], 3)
    part = IdempotentKafkaSink(kafka_bootstrap, topic, "notifications").build_part("out", topic, None)
    try:
        part.write_batch(_records(0, 30))
        state = part.snapshot()
        assert sum(o + 1 for o in state.values()) == 30 and not part.unverified
        assert part.snapshot() == state  # nothing written since: nothing to check
        _delete(kafka_bootstrap, topic)
        part.write_batch(_records(30, 21))  # acknowledged by Tansu, into nothing
        err, took = _until_raised(part)
        assert took < 5.0
        assert f"output topic {topic!r} no longer exists" in str(err) and "deleted while the flow wrote" in str(err)
    finally:
        try:
            part.close()
        except OutputTopicGone:
            pass


def test_a_topic_deleted_and_created_again_stops_the_sink(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    """The recorded offsets point into a log that is gone, although the topic is there again."""
    topic = unique_topic_prefix + "notifications"
    ensure_topics(kafka_bootstrap, [topic], 1)
    part = IdempotentKafkaSink(kafka_bootstrap, topic, "notifications").build_part("out", topic, None)
    try:
        part.write_batch(_records(0, 10))
        assert part.snapshot() == {0: 9}
        _delete(kafka_bootstrap, topic)
        ensure_topics(kafka_bootstrap, [topic], 1)
        part.write_batch(_records(10, 5))
        err, _ = _until_raised(part)
        assert f"output topic {topic!r} was deleted (and created again)" in str(err)
        assert "partition 0 took a record at offset 0, after this sink had written offset 9" in str(err)
    finally:
        try:
            part.close()
        except OutputTopicGone:
            pass


def test_a_flow_stops_when_its_output_topic_is_deleted(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    """Through Bytewax: the run raises (a CLI run exits non-zero) and names the topic."""
    topic = unique_topic_prefix + "notifications"
    ensure_topics(kafka_bootstrap, [topic], 3)
    items = _records(0, 100)

    def delete_at_50(item: tuple[str, bytes]) -> tuple[str, tuple[str, bytes]]:
        if orjson.loads(item[1])["n"] == 50:
            _delete(kafka_bootstrap, topic)
        return "notifications", item  # a sink's items: (routing key, (record key, json))

    flow = Dataflow("trust_topic_gone")
    written = op.map("delete_midway", op.input("in", flow, TestingSource(items, batch_size=5)), delete_at_50)
    op.output("out", written, IdempotentKafkaSink(kafka_bootstrap, topic, "notifications"))
    with pytest.raises(Exception) as info:
        run_main(flow, epoch_interval=dt.timedelta(0))
    chain: list[str] = []
    exc: BaseException | None = info.value
    while exc is not None:
        chain.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    assert any(f"output topic {topic!r}" in text for text in chain), chain


def test_an_intact_topic_is_written_as_before(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    topic = unique_topic_prefix + "notifications"
    ensure_topics(kafka_bootstrap, [topic], 2)
    part = IdempotentKafkaSink(kafka_bootstrap, topic, "notifications").build_part("out", topic, None)
    for start in range(0, 60, 20):
        part.write_batch(_records(start, 20))
        part.snapshot()
    part.close()
    assert sorted(orjson.loads(v)["n"] for _, v in read_topic(kafka_bootstrap, topic)) == list(range(60))


def test_a_broker_outage_is_no_deleted_topic(proxied_broker: tuple[str, TcpProxy]) -> None:
    """While the broker is unreachable the metadata check proves nothing: the snapshot waits for
    the broker like its flush does, and everything is written once it is back."""
    bootstrap, proxy = proxied_broker
    topic = "trust.outage.notifications"
    ensure_topics(bootstrap, [topic], 2)
    part = IdempotentKafkaSink(bootstrap, topic, "notifications").build_part("out", topic, None)
    part.write_batch(_records(0, 20))
    part.snapshot()
    proxy.cut()
    part.write_batch(_records(20, 20))
    got: list[Any] = []
    snap = threading.Thread(target=lambda: got.append(_snapshot_or_error(part)))
    snap.start()
    time.sleep(12)  # longer than the metadata check's own timeout (10 s)
    assert snap.is_alive() and not got
    proxy.restore()
    snap.join(60)
    assert got and isinstance(got[0], dict) and sum(o + 1 for o in got[0].values()) == 40, got
    part.close()
    assert sorted(orjson.loads(v)["n"] for _, v in read_topic(bootstrap, topic, timeout=30)) == list(range(40))


def _snapshot_or_error(part: Any) -> Any:
    try:
        return part.snapshot()
    except Exception as exc:  # reported to the test thread, not lost in this one
        return exc
