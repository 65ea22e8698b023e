"""``flows.kafka.release.ReleaseBuffer`` without a broker: the aligned source's release order.

The consumer is played by hand: ``ingest`` what a fetch would bring, ``reached_end`` for a
partition EOF, and a stand-in ``PartitionControl`` that records pauses and resumes and answers
high watermarks from a dict.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from flows.kafka.release import UNDATED, Lane, ReleaseBuffer, sort_key
from schemas.codec import RawMessage

START = dt.date(2026, 3, 1)


def _day(n: int) -> int:
    return (START + dt.timedelta(days=n)).toordinal()


def _iso(n: int) -> str:
    return (START + dt.timedelta(days=n)).isoformat()


class Control:
    """Records what the buffer asks of the consumer."""

    def __init__(self) -> None:
        self.paused: list[str] = []
        self.resumed: list[str] = []
        self.high: dict[str, int] = {}

    def pause(self, lane: Lane) -> None:
        self.paused.append(lane.name)

    def resume(self, lane: Lane) -> None:
        self.resumed.append(lane.name)

    def high_watermark(self, lane: Lane) -> int:
        return self.high.get(lane.name, -1)


def _raw(topic: str, offset: int, parsed: Any, partition: int = 0) -> RawMessage:
    value = b"not json" if parsed is None else orjson.dumps(parsed)
    return RawMessage(topic, value, None, partition, offset, None, parsed)


def event(topic: str, offset: int, day: int, eid: str | None = None, partition: int = 0) -> RawMessage:
    return _raw(topic, offset, {"event_id": eid or f"{topic}-{offset}", "type": "birth", "occurred_on": _iso(day),
                                "recorded_at": f"{_iso(day)}T09:00:00+05:00"}, partition)


def future(topic: str, offset: int, year: int) -> RawMessage:
    return _raw(topic, offset, {"event_id": f"{topic}-{offset}", "type": "birth", "occurred_on": f"{year}-03-01",
                                "recorded_at": f"{year}-03-01T09:00:00+05:00"})


def tick(topic: str, offset: int, day: int) -> RawMessage:
    return _raw(topic, offset, {"event_id": f"day-{_iso(day)}", "type": "day", "occurred_on": _iso(day)})


def undated(topic: str, offset: int) -> RawMessage:
    return _raw(topic, offset, None)


def buffer(*topics: str, control: Control | None = None, starts: dict[str, int] | None = None,
           **kw: Any) -> ReleaseBuffer:
    return ReleaseBuffer([(t, 0, (starts or {}).get(t)) for t in topics], control or Control(), **kw)


def ids(msgs: list[RawMessage]) -> list[str]:
    return [f"{m.topic}:{m.offset}" for m in msgs]


def drain(buf: ReleaseBuffer, limit: int = 1000, tick_allowed: bool = True) -> list[RawMessage]:
    """Release until nothing more comes (ticks go one batch each, as the source lets them)."""
    out: list[RawMessage] = []
    while True:
        batch = buf.release(limit, None, tick_allowed)
        if not batch:
            return out
        out.extend(batch)


def end(buf: ReleaseBuffer, *topics: str) -> None:
    for t in topics:
        lane = buf.lane(t, 0)
        assert lane is not None
        buf.reached_end(t, 0, lane.next_fetch or 0)


def test_sort_key_orders_by_the_day_known_and_a_tick_after_its_day() -> None:
    assert sort_key(event("a", 0, 3).parsed) == 2 * _day(3)
    assert sort_key(tick("c", 0, 3).parsed) == 2 * _day(3) + 1
    assert sort_key({"type": "sms_reply", "received_at": "2026-03-01T23:30:00+04:00"}) == 2 * _day(1)  # KZ date
    assert sort_key(None) == sort_key({"type": "birth"}) == sort_key({"type": "day", "occurred_on": "x"}) == UNDATED


def test_dates_come_out_in_order_across_partitions_and_each_partition_in_its_own() -> None:
    buf = buffer("a", "b")
    buf.ingest([event("a", i, d) for i, d in enumerate([0, 2, 2, 5])])
    buf.ingest([event("b", i, d) for i, d in enumerate([1, 2, 3, 4])])
    end(buf, "a", "b")
    out = drain(buf, limit=3)
    assert [sort_key(m.parsed) >> 1 for m in out] == [_day(d) for d in [0, 1, 2, 2, 2, 3, 4, 5]]
    assert [m.offset for m in out if m.topic == "a"] == [0, 1, 2, 3]
    assert [m.offset for m in out if m.topic == "b"] == [0, 1, 2, 3]
    assert buf.at_end and buf.buffered == 0


def test_equal_dates_come_out_in_the_fixed_partition_order() -> None:
    buf = buffer("b", "a")  # the order the lanes were given, not the names
    buf.ingest([event("a", 0, 1), event("a", 1, 1)])
    buf.ingest([event("b", 0, 1), event("b", 1, 1), event("b", 2, 2)])
    end(buf, "a", "b")
    assert ids(drain(buf)) == ["b:0", "b:1", "a:0", "a:1", "b:2"]


def test_a_tick_goes_alone_and_only_when_allowed() -> None:
    buf = buffer("cal", "ev")
    buf.ingest([tick("cal", 0, 1), tick("cal", 1, 2)])
    buf.ingest([event("ev", 0, 1), event("ev", 1, 1), event("ev", 2, 2)])
    end(buf, "cal", "ev")
    # the events of day 1 first; the tick of day 1 does not join their batch
    assert ids(buf.release(10, None, tick_allowed=True)) == ["ev:0", "ev:1"]
    assert buf.tick_next
    # gate closed: nothing, the tick waits at the head and holds the later events back
    assert buf.release(10, None, tick_allowed=False) == []
    assert buf.tick_next
    # a batch already started takes no tick either
    started = [event("x", 9, 0)]
    assert buf.release(10, started, tick_allowed=True) == started and len(started) == 1
    # gate open, empty batch: the tick alone, and nothing joins it afterwards
    batch = buf.release(10, None, tick_allowed=True)
    assert ids(batch) == ["cal:0"]
    assert buf.release(10, batch, tick_allowed=True) is batch and ids(batch) == ["cal:0"]
    assert ids(buf.release(10, None, tick_allowed=True)) == ["ev:2"]
    assert ids(buf.release(10, None, tick_allowed=True)) == ["cal:1"]


def test_a_partition_not_yet_read_holds_dated_messages_back_but_not_undated_ones() -> None:
    buf = buffer("a", "b")
    buf.ingest([undated("a", 0), event("a", 1, 3)])
    assert ids(drain(buf)) == ["a:0"], "an undated message goes at once, a dated one waits for b"
    assert buf.buffered == 1 and buf.watermark_day is None
    buf.ingest([event("b", 0, 5)])
    assert ids(drain(buf)) == ["a:1"], "a's buffer ran empty, and a may bring more before day 5"
    end(buf, "a")
    assert ids(drain(buf)) == ["b:0"]


def test_idle_partitions_do_not_block() -> None:
    control = Control()
    buf = buffer("a", "empty", "caught", control=control, starts={"caught": 7})
    buf.ingest([event("a", 0, 1), event("a", 1, 2)])
    assert drain(buf) == []
    buf.reached_end("empty", 0, 0)  # an empty topic: EOF at once
    assert drain(buf) == []
    control.high["caught:0"] = 7  # resumed at its end: the last fetch shows it
    assert buf.settle() == []
    control.high["a:0"] = 2  # the fetch that brought a's messages reached its end: a goes idle when drained
    assert ids(drain(buf)) == ["a:0", "a:1"]
    assert buf.at_end
    # a new message wakes a partition; the idle others still do not hold it back
    buf.ingest([event("a", 2, 3)])
    assert not buf.at_end
    assert ids(drain(buf)) == ["a:2"]


def test_a_resume_offset_beyond_the_end_is_reported_and_read_again() -> None:
    control = Control()
    buf = buffer("a", control=control, starts={"a": 1000})
    control.high["a:0"] = 5
    [(lane, high)] = buf.settle()
    assert (lane.name, high) == ("a:0", 5)
    buf.reread(lane)
    buf.ingest([event("a", i, i) for i in range(5)])
    buf.reached_end("a", 0, 5)
    assert [m.offset for m in drain(buf)] == list(range(5))


def _b_still_being_read(buf: ReleaseBuffer) -> None:
    """a and b released day 1; b's last fetch did not show its end yet, so b holds dated
    messages back."""
    buf.ingest([event("a", 0, 1)])
    buf.ingest([event("b", 0, 1)])
    end(buf, "a", "b")
    assert ids(drain(buf)) == ["a:0", "b:0"]
    buf.ingest([event("b", 1, 1)])
    assert ids(drain(buf)) == ["b:1"]


def test_a_far_future_head_does_not_hold_its_partition() -> None:
    buf = buffer("a", "b", open_day=_day(1))
    _b_still_being_read(buf)
    # 2062 typed for 2026, then a real record of the next day
    buf.ingest([future("a", 1, 2062), event("a", 2, 2)])
    assert ids(drain(buf)) == ["a:1"], "the mistyped head goes at once, as an undated message would"
    assert buf.watermark_day == _day(1), "and moves no watermark"
    buf.ingest([event("b", 2, 3)])
    end(buf, "a", "b")
    assert ids(drain(buf)) == ["a:2", "b:2"], "what was behind it keeps its date order"
    assert buf.watermark_day == _day(3)


def test_a_far_future_head_is_judged_once_the_open_day_is_known() -> None:
    buf = buffer("a", "b")  # before the first tick: nothing is judged
    _b_still_being_read(buf)
    buf.ingest([future("a", 1, 2062), event("a", 2, 2)])
    assert drain(buf) == [], "a dated head, held back by b"
    buf.reopen(_day(2))  # a tick's second phase went
    assert ids(drain(buf)) == ["a:1"]


def test_a_far_future_message_with_nothing_behind_it_is_not_judged() -> None:
    buf = buffer("a", "b", open_day=_day(1))
    _b_still_being_read(buf)
    buf.ingest([future("a", 1, 2062)])  # nothing behind it to compare with
    assert drain(buf) == []
    end(buf, "b")
    assert ids(drain(buf)) == ["a:1"]


def test_watermark() -> None:
    buf = buffer("a", "b")
    assert buf.watermark_day is None
    buf.ingest([event("a", 0, 1), event("a", 1, 3)])
    assert buf.watermark_day is None, "b's date is unknown"
    buf.ingest([event("b", 0, 2)])
    assert buf.watermark_day == _day(1)
    end(buf, "a", "b")
    assert ids(buf.release(1)) == ["a:0"]
    assert buf.watermark_day == _day(2)
    drain(buf)
    assert buf.watermark_day == _day(3), "all idle: the latest date released"


def test_a_partition_is_paused_at_the_bound_and_resumed_below_half() -> None:
    control = Control()
    buf = buffer("a", "b", control=control, max_buffered=4)
    buf.ingest([event("a", i, i) for i in range(3)])
    assert control.paused == []
    buf.ingest([event("a", 3, 3), event("a", 4, 4)])
    assert control.paused == ["a:0"], "paused once, at the bound"
    assert drain(buf) == [], "b is not read yet"
    end(buf, "b")
    assert len(buf.release(2)) == 2 and buf.buffered == 3 and control.resumed == []
    assert len(buf.release(1)) == 1 and buf.buffered == 2 and control.resumed == ["a:0"]


def test_a_rewind_reads_again_from_there_and_a_redelivery_is_dropped() -> None:
    control = Control()
    buf = buffer("a", control=control, max_buffered=4)
    buf.ingest([event("a", i, i) for i in range(4)])
    assert control.paused == ["a:0"]
    assert [m.offset for m in buf.release(2)] == [0, 1]
    buf.ingest([event("a", 3, 3)])  # already buffered: dropped
    assert buf.buffered == 2
    # the partition went back below what was released (offset reset, recreated topic)
    buf.ingest([event("a", 0, 0, eid="again-0"), event("a", 1, 1, eid="again-1")])
    assert control.resumed == ["a:0"]
    buf.reached_end("a", 0, 2)
    assert [m.parsed["event_id"] for m in drain(buf)] == ["again-0", "again-1"]
    assert buf.at_end


def test_the_buffer_loads_no_client_library() -> None:
    """The point of the split: the release order can be read, run and tested without Kafka."""
    import subprocess
    import sys

    probe = "import sys, flows.kafka.release; print(sorted(m for m in ('confluent_kafka', 'bytewax') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
