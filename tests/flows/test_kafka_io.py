"""``flows.kafka_io`` over a real broker: topic setup, date-aligned reading, resume, the sink."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter, defaultdict

import orjson
import pytest
from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main
from confluent_kafka.admin import AdminClient

from flows.kafka_io import (
    DAY_KEY,
    SEQ_KEY,
    UNDATED,
    AlignedKafkaPartition,
    AlignedKafkaSource,
    KafkaDeliveryError,
    KafkaTopicSink,
    ensure_topics,
    produce_all,
    read_topic,
    sort_key,
)
from schemas.codec import RawMessage

pytestmark = pytest.mark.kafka

START = dt.date(2026, 3, 1)
DAYS = 10
NOT_JSON = b"this is {not json"


def _iso(day: int) -> str:
    return (START + dt.timedelta(days=day)).isoformat()


def _event(eid: str, etype: str, day: int) -> bytes:
    if etype == "sms_reply":
        return orjson.dumps({"event_id": eid, "type": etype, "phone": "+77011234567",
                             "received_at": f"{_iso(day)}T12:00:00+05:00"})
    return orjson.dumps({"event_id": eid, "type": etype, "iin": "000000000000", "occurred_on": _iso(day),
                         "recorded_at": f"{_iso(day)}T09:00:00+05:00"})


def _dataset(prefix: str) -> tuple[dict[str, int], list[tuple[str, bytes | None, bytes]]]:
    """Three event topics (one with 2 partitions), a calendar, and one non-JSON message.

    Each topic is in date order but the topics are produced one after another, calendar
    first: read naively, every tick would come before the facts of its day.
    """
    rng = random.Random(7)
    topics = {f"{prefix}pop": 2, f"{prefix}civ": 1, f"{prefix}sms": 1, f"{prefix}cal": 1}
    messages: list[tuple[str, bytes | None, bytes]] = [
        (f"{prefix}cal", None, _event(f"day-{d}", "day", d)) for d in range(DAYS)]
    for topic, etype, n in ((f"{prefix}sms", "sms_reply", 40), (f"{prefix}civ", "birth", 60),
                            (f"{prefix}pop", "person_registered", 120)):
        for i, day in enumerate(sorted(rng.randrange(DAYS) for _ in range(n))):
            messages.append((topic, f"k{i % 17}".encode(), _event(f"{topic}-{i}", etype, day)))
            if topic.endswith("civ") and i == n // 2:
                messages.append((topic, b"bad", NOT_JSON))
    return topics, messages


def _setup(bootstrap: str, prefix: str) -> tuple[list[str], list[tuple[str, bytes | None, bytes]]]:
    topics, messages = _dataset(prefix)
    for topic, partitions in topics.items():
        ensure_topics(bootstrap, [topic], partitions)
    assert produce_all(bootstrap, messages) == len(messages)
    return list(topics), messages


def _run_flow(source: AlignedKafkaSource) -> list[RawMessage]:
    out: list[RawMessage] = []
    flow = Dataflow("aligned_test")
    op.output("out", op.input("in", flow, source), TestingSink(out))
    run_main(flow)
    return out


def _drain(part: AlignedKafkaPartition, limit: int | None = None, timeout: float = 15.0) -> list[RawMessage]:
    """Call ``next_batch`` like Bytewax would, until StopIteration or ``limit`` messages.

    Checks the tick contract on the way: a ``day`` tick travels alone in its batch, and
    the next batch is the same tick's second phase. Returns the phase-1 messages only,
    and never stops between a tick's two phases.
    """
    got: list[RawMessage] = []
    deadline = time.monotonic() + timeout
    pending_phase2: RawMessage | None = None
    while limit is None or len(got) < limit or pending_phase2 is not None:
        assert time.monotonic() < deadline, f"stalled after {len(got)} messages"
        try:
            batch = part.next_batch()
        except StopIteration:
            break
        if pending_phase2 is not None:
            assert len(batch) == 1 and batch[0].phase == 2 and batch[0].offset == pending_phase2.offset, \
                "a tick's second phase must be the very next batch"
            pending_phase2 = None
            continue
        ticks = [m for m in batch if _is_tick_message(m)]
        if ticks:
            assert batch == ticks and len(ticks) == 1, "a tick must travel alone in its batch"
            pending_phase2 = ticks[0]
        got.extend(batch)
        if not batch:
            time.sleep(0.001)
    return got


def _is_tick_message(m: RawMessage) -> bool:
    return isinstance(m.parsed, dict) and m.parsed.get("type") == "day"


def _ids(msgs: list[RawMessage]) -> list[tuple[str, int | None, int | None]]:
    return [(m.topic, m.partition, m.offset) for m in msgs]


def _assert_aligned(out: list[RawMessage]) -> None:
    keys = [sort_key(m.parsed) for m in out]
    dated = [k for k in keys if k != UNDATED]
    assert dated == sorted(dated), "released dates must not decrease"
    per_part: dict[tuple[str, int | None], list[int]] = defaultdict(list)
    for m in out:
        assert m.offset is not None
        per_part[(m.topic, m.partition)].append(m.offset)
    for offsets in per_part.values():
        assert offsets == sorted(offsets), "a partition's own order must be kept"
    pos_of_tick = {k >> 1: i for i, k in enumerate(keys) if k != UNDATED and k & 1}
    for i, k in enumerate(keys):
        if k == UNDATED or k & 1:
            continue
        for day, tick_pos in pos_of_tick.items():
            if (k >> 1) <= day:
                assert i < tick_pos, f"event {out[i].value!r} released after the tick of {day}"
            else:
                assert i > tick_pos, f"event {out[i].value!r} released before the tick of {day}"


def test_ensure_topics_creates_and_is_idempotent(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    a, b, c = (unique_topic_prefix + x for x in "abc")
    ensure_topics(kafka_bootstrap, [a, b], partitions=3)
    ensure_topics(kafka_bootstrap, [a, b, c], partitions=2)
    ensure_topics(kafka_bootstrap, [a, a, c])
    meta = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=5).topics
    assert {t: len(meta[t].partitions) for t in (a, b, c)} == {a: 3, b: 3, c: 2}


@pytest.mark.parametrize("max_buffered", [20_000, 3], ids=["buffered", "paused"])
def test_aligned_order_over_interleaved_topics(kafka_bootstrap: str, unique_topic_prefix: str,
                                               max_buffered: int) -> None:
    topics, messages = _setup(kafka_bootstrap, unique_topic_prefix)
    both = _run_flow(AlignedKafkaSource(kafka_bootstrap, topics, batch_size=16, stop_at_end=True,
                                        max_buffered=max_buffered))
    out = [m for m in both if m.phase == 1]
    # every tick comes out a second time (phase 2, the offer timers' epoch), and only ticks do
    assert sorted(_ids([m for m in both if m.phase == 2])) == sorted(_ids([m for m in out if _is_tick_message(m)]))
    assert len(set(_ids(out))) == len(out), "a message came out twice"
    assert Counter(m.value for m in out) == Counter(v for _, _, v in messages)
    bad = [m for m in out if m.value == NOT_JSON]
    assert len(bad) == 1 and bad[0].parsed is None and bad[0].key == b"bad"
    assert all(m.parsed == orjson.loads(m.value) for m in out if m.value != NOT_JSON)
    assert len({m.partition for m in out if m.topic.endswith("pop")}) == 2
    assert all(m.timestamp_ms is not None for m in out)
    _assert_aligned(out)


def test_resume_from_snapshot_loses_and_repeats_nothing(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    topics, _ = _setup(kafka_bootstrap, unique_topic_prefix)
    source = AlignedKafkaSource(kafka_bootstrap, topics, batch_size=7, stop_at_end=True)
    full_part = source.build_part("in", "aligned", None)
    full = _drain(full_part)
    full_part.close()

    first = source.build_part("in", "aligned", None)
    head = _drain(first, limit=60)
    state = first.snapshot()
    assert first.buffered > 0, "the snapshot should be taken with unreleased messages buffered"
    first.close()
    assert state[SEQ_KEY] == len(head)
    assert all(":" in name and offset >= 0 for name, offset in state.items() if name not in (SEQ_KEY, DAY_KEY))

    second = source.build_part("in", "aligned", state)
    tail = _drain(second)
    second.close()
    assert len(head) >= 60 and tail
    assert sorted(_ids(head + tail)) == sorted(_ids(full))
    assert len(set(_ids(head + tail))) == len(full)
    _assert_aligned(head + tail)
    # the release counter continues across the resume: one total order for the family stage
    assert [m.seq for m in head + tail] == list(range(1, len(full) + 1))


def test_resume_beyond_the_end_reads_the_topic_again(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    """A recreated topic (or a broker restarted on memory storage) must not stall the source."""
    topic = unique_topic_prefix + "reborn"
    ensure_topics(kafka_bootstrap, [topic])
    produce_all(kafka_bootstrap, [(topic, None, _event(f"e{i}", "birth", i)) for i in range(5)])
    part = AlignedKafkaSource(kafka_bootstrap, [topic], stop_at_end=True).build_part("in", "aligned", {f"{topic}:0": 1000})
    try:
        assert [m.offset for m in _drain(part, timeout=10.0)] == list(range(5))
        assert part.snapshot() == {f"{topic}:0": 5, SEQ_KEY: 5}
    finally:
        part.close()


def test_an_empty_topic_does_not_block_release(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    empty, busy = unique_topic_prefix + "empty", unique_topic_prefix + "busy"
    ensure_topics(kafka_bootstrap, [empty, busy], partitions=2)
    produce_all(kafka_bootstrap, [(busy, b"k", _event(f"e{i}", "birth", i)) for i in range(5)])
    part = AlignedKafkaSource(kafka_bootstrap, [empty, busy]).build_part("in", "aligned", None)
    try:
        assert part.watermark_day is None
        got = _drain(part, limit=5, timeout=5.0)
        assert [orjson.loads(m.value)["event_id"] for m in got] == [f"e{i}" for i in range(5)]
        assert part.watermark_day == (START + dt.timedelta(days=4)).toordinal()
        # Live: the busy topic caught up and went idle; a new message wakes it and still
        # comes out promptly, because caught-up partitions do not hold it back.
        produce_all(kafka_bootstrap, [(busy, b"k", _event("late", "birth", 6))])
        assert [orjson.loads(m.value)["event_id"] for m in _drain(part, limit=1, timeout=3.0)] == ["late"]
        assert part.watermark_day == (START + dt.timedelta(days=6)).toordinal()
    finally:
        part.close()


def test_sink_writes_what_read_topic_reads_back(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    topic = unique_topic_prefix + "out"
    ensure_topics(kafka_bootstrap, [topic])
    items: list[tuple[bytes | str | None, bytes]] = [
        (f"iin{i % 50}" if i % 3 else None if i % 2 else f"iin{i}".encode(), b'{"n":%d}' % i) for i in range(3000)]
    flow = Dataflow("sink_test")
    op.output("out", op.input("in", flow, TestingSource(items, batch_size=100)), KafkaTopicSink(kafka_bootstrap, topic))
    run_main(flow)
    back = read_topic(kafka_bootstrap, topic)
    assert back == [(k.encode() if isinstance(k, str) else k, v) for k, v in items]


def test_sink_raises_delivery_errors() -> None:
    """Nothing listens on the port: every message times out, and the sink must say so."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = KafkaTopicSink(f"127.0.0.1:{port}", "nowhere", flush_interval=0.05,
                          extra_config={"message.timeout.ms": 200, "enable.idempotence": False})
    part = sink.build("out", 0, 1)
    part.write_batch([(b"k", b"v1"), ("k", b"v2"), (None, b"v3")])
    with pytest.raises(KafkaDeliveryError) as info:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.1)
            part.write_batch([])
    assert len(info.value.errors) == 3
    part.close()


def test_a_far_future_message_does_not_block_its_partition(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    """A poison date at a partition's head: the messages behind it still come out.

    The aligned source releases the smallest date among partitions not yet caught up; once
    the others are drained (or caught up, live), the far-future head is released and
    everything behind it follows.
    """
    poisoned, other = unique_topic_prefix + "poisoned", unique_topic_prefix + "other"
    ensure_topics(kafka_bootstrap, [poisoned, other])
    far = 365 * 124  # about 124 years after the test dates
    produce_all(kafka_bootstrap, [(poisoned, None, _event("poison", "death", far))]
                + [(poisoned, None, _event(f"p{i}", "death", i)) for i in range(5)]
                + [(other, None, _event(f"o{i}", "death", i)) for i in range(5)])
    out = _drain(AlignedKafkaSource(kafka_bootstrap, [poisoned, other], stop_at_end=True).build_part(
        "in", "aligned", None), timeout=30)
    ids = [orjson.loads(m.value)["event_id"] for m in out]
    assert sorted(ids) == sorted(["poison", *(f"p{i}" for i in range(5)), *(f"o{i}" for i in range(5))])
    assert ids.index("poison") < ids.index("p0"), "a partition's own order is kept"


def test_ticks_are_alone_in_their_epochs_with_longer_epochs(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    """Live mode with recovery runs epochs longer than a batch: the source must wait for
    Bytewax to close an epoch before a tick, between its phases and after it. The epoch of
    each emission is counted from ``snapshot`` calls (Bytewax makes one per epoch it closes)."""
    topics, messages = _setup(kafka_bootstrap, unique_topic_prefix)
    log: list[tuple[int, list[RawMessage]]] = []

    class Logged(AlignedKafkaSource):
        def build_part(self, step_id: str, for_part: str, resume_state: dict[str, int] | None
                       ) -> AlignedKafkaPartition:
            part = super().build_part(step_id, for_part, resume_state)
            epoch = [0]
            next_batch, snapshot = part.next_batch, part.snapshot

            def logged_next_batch() -> list[RawMessage]:
                batch = next_batch()
                if batch:
                    log.append((epoch[0], batch))
                return batch

            def counted_snapshot() -> dict[str, int]:
                epoch[0] += 1
                return snapshot()

            part.next_batch = logged_next_batch  # type: ignore[method-assign]
            part.snapshot = counted_snapshot  # type: ignore[method-assign]
            return part

    interval = 0.02
    flow = Dataflow("epochs_test")
    source = Logged(kafka_bootstrap, topics, batch_size=5, stop_at_end=True, epoch_seconds=interval)
    op.output("out", op.input("in", flow, source), TestingSink([]))
    run_main(flow, epoch_interval=dt.timedelta(seconds=interval))
    by_epoch: dict[int, list[RawMessage]] = defaultdict(list)
    for epoch, batch in log:
        by_epoch[epoch].extend(batch)
    out = [m for _, batch in log for m in batch]
    assert Counter(m.value for m in out if m.phase == 1) == Counter(v for _, _, v in messages)
    _assert_aligned([m for m in out if m.phase == 1])
    tick_epochs = [msgs for msgs in by_epoch.values() if any(_is_tick_message(m) for m in msgs)]
    assert len(tick_epochs) == 2 * DAYS  # each tick's two phases
    assert all(len(msgs) == 1 for msgs in tick_epochs), "a tick shares its epoch"


def test_skipped_days_are_made_up_and_a_resume_in_the_middle_makes_up_the_rest(
        kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    """The calendar skips 03-03 .. 03-06: the source releases made-up ticks for them, each alone
    and in both phases, then 03-07. A snapshot taken between made-up days resumes there: every
    day is released once in the end, in order (flows.tick_clock)."""
    cal = unique_topic_prefix + "cal"
    ensure_topics(kafka_bootstrap, [cal])
    days = ["2026-03-01", "2026-03-02", "2026-03-07", "2026-03-08"]
    produce_all(kafka_bootstrap, [(cal, None, orjson.dumps({"event_id": f"day-{d}", "type": "day", "occurred_on": d}))
                                  for d in days])
    source = AlignedKafkaSource(kafka_bootstrap, [cal], stop_at_end=True)
    first = source.build_part("in", "aligned", None)
    got = _drain(first, limit=4)  # 03-01, 03-02, made-up 03-03, 03-04
    assert [(m.parsed["occurred_on"], m.filled) for m in got] == [
        ("2026-03-01", False), ("2026-03-02", False), ("2026-03-03", True), ("2026-03-04", True)]
    assert [m.open_day for m in got] == [None] + [dt.date.fromisoformat(d).toordinal()
                                                  for d in ("2026-03-02", "2026-03-03", "2026-03-04")]
    state = first.snapshot()
    first.close()
    again = source.build_part("in", "aligned", state)
    rest = _drain(again)
    again.close()
    assert [(m.parsed["occurred_on"], m.filled) for m in rest] == [
        ("2026-03-05", True), ("2026-03-06", True), ("2026-03-07", False), ("2026-03-08", False)]
    assert rest[0].first_tick and not any(m.first_tick for m in rest[1:])  # a resumed source catches up once
