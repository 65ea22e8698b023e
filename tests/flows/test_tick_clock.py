"""The sources' tick clock without a broker or an engine: open day, first tick, made-up days."""

from __future__ import annotations

import datetime as dt

import orjson

from flows.tick_clock import TickClock, tick_day
from schemas.codec import RawMessage
from state import dates


def _tick(on: str, offset: int = 7) -> RawMessage:
    parsed = {"event_id": f"day-{on}", "type": "day", "occurred_on": on}
    return RawMessage("calendar", orjson.dumps(parsed), None, 0, offset, None, parsed, offset)


def _release(clock: TickClock, tick: RawMessage) -> list[RawMessage]:
    clock.ticks(tick)
    out = []
    while (t := clock.next_tick()) is not None:
        out.append(t)
    return out


def _days(msgs: list[RawMessage]) -> list[tuple[str, int, bool]]:
    return [(m.parsed["occurred_on"], m.phase, m.filled) for m in msgs]


def test_consecutive_ticks_open_the_next_day_and_only_the_first_is_first() -> None:
    clock = TickClock(None, 31)
    assert clock.open_day is None
    first = _release(clock, _tick("2026-03-01"))
    assert _days(first) == [("2026-03-01", 1, False), ("2026-03-01", 2, False)]
    assert first[0].first_tick and first[1].first_tick and first[0].open_day is None
    assert clock.open_day == dates.day("2026-03-02") and not clock.busy
    second = _release(clock, _tick("2026-03-02"))
    assert not second[0].first_tick and second[0].open_day == dates.day("2026-03-02")
    msg = RawMessage("registry.civil", b"{}")
    assert clock.stamp(msg).open_day == dates.day("2026-03-03")


def test_skipped_days_are_made_up_in_order_each_in_both_phases() -> None:
    filled: list[int] = []
    clock = TickClock(dates.day("2026-03-01"), 31, lambda: filled.append(1))
    out = _release(clock, _tick("2026-03-04", offset=40))
    assert _days(out) == [("2026-03-02", 1, True), ("2026-03-02", 2, True), ("2026-03-03", 1, True),
                          ("2026-03-03", 2, True), ("2026-03-04", 1, False), ("2026-03-04", 2, False)]
    assert [m.open_day for m in out] == [dates.day(d) for d in ("2026-03-02",) * 2 + ("2026-03-03",) * 2
                                         + ("2026-03-04",) * 2]
    assert all(m.offset == 40 for m in out), "made-up ticks are carried by the real one"
    assert len(filled) == 2 and clock.done == dates.day("2026-03-04")
    made_up = orjson.loads(out[0].value)
    assert made_up == {"event_id": "day-2026-03-02", "type": "day", "occurred_on": "2026-03-02"}


def test_a_snapshot_while_made_up_ticks_are_pending_reads_the_real_tick_again() -> None:
    clock = TickClock(dates.day("2026-03-01"), 31)
    real = _tick("2026-03-05", offset=9)
    clock.ticks(real)
    clock.next_tick()
    clock.next_tick()  # 03-02 in both phases
    assert clock.done == dates.day("2026-03-02")
    assert clock.reading_ahead and clock.reading is real
    # a source resumed from this snapshot reads the real tick again: the clock makes up 03-03, 03-04
    again = TickClock(clock.done, 31)
    assert [d for d, p, f in _days(_release(again, _tick("2026-03-05"))) if p == 1] == \
        ["2026-03-03", "2026-03-04", "2026-03-05"]


def test_a_tick_beyond_the_horizon_moves_nothing_and_makes_up_nothing() -> None:
    clock = TickClock(dates.day("2026-03-01"), 31)
    out = _release(clock, _tick("2062-03-01"))
    assert _days(out) == [("2062-03-01", 1, False), ("2062-03-01", 2, False)]
    assert clock.done == dates.day("2026-03-01")
    # the next real tick follows on from where the clock was
    assert _days(_release(clock, _tick("2026-03-02")))[0] == ("2026-03-02", 1, False)


def test_a_resent_old_tick_moves_nothing() -> None:
    clock = TickClock(dates.day("2026-03-10"), 31)
    assert len(_release(clock, _tick("2026-03-08"))) == 2
    assert clock.done == dates.day("2026-03-10")


def test_without_a_horizon_any_gap_is_made_up() -> None:
    clock = TickClock(dates.day("2026-01-01"), None)
    out = _release(clock, _tick("2026-03-01"))
    assert len([m for m in out if m.phase == 1]) == (dt.date(2026, 3, 1) - dt.date(2026, 1, 1)).days


def test_tick_day_reads_only_usable_dates() -> None:
    assert tick_day({"occurred_on": "2026-03-01"}) == dates.day("2026-03-01")
    assert tick_day({"occurred_on": "2026-02-30"}) is None
    assert tick_day({"occurred_on": 20260301}) is None
    assert tick_day(None) is None
