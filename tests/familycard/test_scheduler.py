"""``familycard tick``: which days are due when, and producing them to Kafka exactly once."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from familycard.cli import main
from familycard.scheduler import KZ_TIME, day_message, due_days, next_due, run_scheduler
from flows.kafka_io import read_topic

D = dt.date
GRACE = dt.timedelta(minutes=10)


def _kz(y: int, m: int, d: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=KZ_TIME)


def test_a_day_is_due_after_local_midnight_plus_grace() -> None:
    # 00:05 Almaty time on 3 March: 2 March is not over yet for the scheduler (grace 10 min)
    assert due_days(D(2026, 3, 1), _kz(2026, 3, 3, 0, 5)) == []
    assert due_days(D(2026, 3, 1), _kz(2026, 3, 3, 0, 10)) == [D(2026, 3, 2)]
    # the same instant in UTC (19:10 on 2 March) gives the same answer
    assert due_days(D(2026, 3, 1), _kz(2026, 3, 3, 0, 10).astimezone(dt.UTC)) == [D(2026, 3, 2)]
    assert due_days(D(2026, 3, 2), _kz(2026, 3, 3, 23, 59)) == []


def test_catching_up_and_starting() -> None:
    now = _kz(2026, 3, 10, 12)
    assert due_days(D(2026, 3, 6), now) == [D(2026, 3, 7), D(2026, 3, 8), D(2026, 3, 9)]
    assert due_days(None, now) == [D(2026, 3, 9)]  # an empty topic: yesterday only
    assert due_days(None, now, first=D(2026, 3, 8)) == [D(2026, 3, 8), D(2026, 3, 9)]
    assert due_days(None, now, first=D(2026, 3, 20)) == []
    assert due_days(D(2026, 3, 12), now) == []  # ahead of the clock (a manual tick): wait


def test_next_due_is_the_next_midnight_plus_grace() -> None:
    assert next_due(_kz(2026, 3, 10, 12)) == _kz(2026, 3, 11, 0, 10)
    assert next_due(_kz(2026, 3, 11, 0, 5)) == _kz(2026, 3, 11, 0, 10)
    assert next_due(_kz(2026, 12, 31, 23)) == _kz(2027, 1, 1, 0, 10)


def test_day_message_is_the_contracts() -> None:
    assert day_message(D(2026, 3, 2)) == {"event_id": "day-2026-03-02", "type": "day", "occurred_on": "2026-03-02"}


@pytest.mark.kafka
def test_ticks_reach_the_topic_once(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    topic = unique_topic_prefix + "calendar"
    clock = iter([_kz(2026, 3, 5, 9), _kz(2026, 3, 7, 9), _kz(2026, 3, 7, 9)])
    assert run_scheduler(kafka_bootstrap, topic, first=D(2026, 3, 1), once=True, clock=lambda: next(clock)) == 4
    assert run_scheduler(kafka_bootstrap, topic, first=D(2026, 3, 1), once=True, clock=lambda: next(clock)) == 2
    # a restart at the same time sends nothing: the topic says how far it got
    assert run_scheduler(kafka_bootstrap, topic, first=D(2026, 3, 1), once=True, clock=lambda: next(clock)) == 0
    days = [orjson.loads(v)["occurred_on"] for _, v in read_topic(kafka_bootstrap, topic)]
    assert days == [f"2026-03-0{d}" for d in range(1, 7)]


@pytest.mark.kafka
def test_the_tick_command(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    topic = unique_topic_prefix + "calendar"
    start = dt.datetime.now(KZ_TIME).date() - dt.timedelta(days=2)
    expected = [d.isoformat() for d in due_days(None, dt.datetime.now(dt.UTC), first=start)]
    assert main(["tick", "--kafka", kafka_bootstrap, "--topic", topic, "--once", "--start", start.isoformat()]) == 0
    assert main(["tick", "--kafka", kafka_bootstrap, "--topic", topic, "--once"]) == 0
    days = [orjson.loads(v)["occurred_on"] for _, v in read_topic(kafka_bootstrap, topic)]
    assert days == expected and 1 <= len(days) <= 2


def test_the_scheduler_sleeps_until_the_next_day() -> None:
    """The loop: ticks, then sleeps (in steps of at most a minute) until the next day is due."""
    times = [_kz(2026, 3, 5, 23, 58)]
    slept: list[float] = []
    produced: list[list[str]] = []

    def clock() -> dt.datetime:
        return times[-1]

    def sleep(s: float) -> None:
        slept.append(s)
        times.append(times[-1] + dt.timedelta(seconds=s))
        if len(produced) >= 2:
            raise KeyboardInterrupt

    import familycard.scheduler as sched
    import flows.kafka_io as kio

    def fake_produce(_b: str, msgs: list[tuple[str, bytes, bytes]]) -> int:
        produced.append([orjson.loads(v)["occurred_on"] for _, _, v in msgs])
        return len(msgs)

    mp = pytest.MonkeyPatch()
    mp.setattr(kio, "ensure_topics", lambda *a, **k: None)
    mp.setattr(kio, "produce_all", fake_produce)
    mp.setattr(sched, "last_tick", lambda *a: D(2026, 3, 3))
    try:
        with pytest.raises(KeyboardInterrupt):
            run_scheduler("unused:9092", clock=clock, sleep=sleep)
    finally:
        mp.undo()
    assert produced == [["2026-03-04"], ["2026-03-05"]]
    assert max(slept) <= 60.0 and sum(slept) == pytest.approx(13 * 60)  # 12 minutes to 00:10, then one step
