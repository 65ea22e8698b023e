"""``flows.tick_barrier.TickBarrier``: the tick protocol both sources follow, without Bytewax.

A source is played by hand: ``poll`` first, then either what the barrier hands out or the
source's own messages, ``sent`` for every batch, ``boundary`` where Bytewax would snapshot.
The long-epoch cases use an interval of an hour, so only reported boundaries open the gate.
"""

from __future__ import annotations

import datetime as dt

import orjson

from flows.tick_barrier import TickBarrier
from schemas.codec import RawMessage

HOUR = 3600.0


def _day(iso: str) -> int:
    return dt.date.fromisoformat(iso).toordinal()


def tick(iso: str, offset: int = 0) -> RawMessage:
    parsed = {"event_id": f"day-{iso}", "type": "day", "occurred_on": iso}
    return RawMessage("calendar", orjson.dumps(parsed), None, 0, offset, None, parsed, seq=offset + 1)


def fact(offset: int) -> RawMessage:
    parsed = {"event_id": f"e{offset}", "type": "birth"}
    return RawMessage("registry", orjson.dumps(parsed), None, 0, offset, None, parsed)


def shape(batch: list[RawMessage]) -> list[tuple[str, int, bool]]:
    return [(m.parsed["occurred_on"], m.phase, m.filled) for m in batch]


def test_a_tick_goes_alone_then_its_second_phase_then_the_source_again() -> None:
    barrier = TickBarrier(None, 31)
    assert barrier.poll() is None and barrier.tick_allowed
    first = barrier.sent(barrier.tick(tick("2026-03-01")))
    assert shape(first) == [("2026-03-01", 1, False)]
    assert first[0].first_tick and first[0].open_day is None
    assert shape(barrier.sent(barrier.poll() or [])) == [("2026-03-01", 2, False)]
    assert barrier.open_day == _day("2026-03-02")
    assert barrier.poll() is None, "the source's own messages again"


def test_skipped_days_are_made_up_each_alone_and_in_both_phases() -> None:
    filled: list[int] = []
    barrier = TickBarrier(_day("2026-03-01"), 31, on_filled=lambda: filled.append(1))
    assert barrier.poll() is None
    out = barrier.sent(barrier.tick(tick("2026-03-04", offset=40)))
    while (batch := barrier.poll()) is not None:
        assert len(batch) == 1
        out.extend(barrier.sent(batch))
    assert shape(out) == [("2026-03-02", 1, True), ("2026-03-02", 2, True), ("2026-03-03", 1, True),
                          ("2026-03-03", 2, True), ("2026-03-04", 1, False), ("2026-03-04", 2, False)]
    assert len(filled) == 2 and barrier.clock.done == _day("2026-03-04")
    assert all(m.offset == 40 for m in out), "made-up ticks are carried by the real one"


def test_a_tick_read_behind_messages_goes_in_the_next_poll() -> None:
    barrier = TickBarrier(None, 31)
    assert barrier.poll() is None
    barrier.defer(tick("2026-03-01"))  # a file source read it after this batch's messages
    barrier.sent([fact(0), fact(1)])
    assert barrier.clock.reading_ahead, "a snapshot now must read the tick again"
    assert shape(barrier.sent(barrier.poll() or [])) == [("2026-03-01", 1, False)]
    assert shape(barrier.sent(barrier.poll() or [])) == [("2026-03-01", 2, False)]
    assert not barrier.clock.reading_ahead


def test_with_long_epochs_a_tick_waits_for_an_epoch_boundary_and_so_do_its_second_phase_and_the_batch_after() -> None:
    barrier = TickBarrier(None, 31, HOUR)
    assert barrier.poll() is None, "nothing was emitted yet: the gate is open"
    barrier.sent([fact(0)])
    # a source that sees a tick next waits; one that does not may go on, but with no tick
    assert barrier.poll(tick_next=True) == []
    assert barrier.awake_at() is not None
    assert barrier.poll() is None and not barrier.tick_allowed
    assert barrier.tick(tick("2026-03-01")) == [], "read first in a closed poll: it waits in the clock"
    assert barrier.poll() == []
    barrier.boundary()  # Bytewax closed the epoch
    assert shape(barrier.sent(barrier.poll() or [])) == [("2026-03-01", 1, False)]
    assert barrier.poll() == [], "the second phase waits for the next boundary"
    barrier.boundary()
    assert shape(barrier.sent(barrier.poll() or [])) == [("2026-03-01", 2, False)]
    assert barrier.poll() == [], "the batch after the second phase waits too"
    barrier.boundary()
    assert barrier.poll() is None and barrier.tick_allowed


def test_an_open_poll_lets_the_tick_through_at_once() -> None:
    barrier = TickBarrier(None, 31, HOUR)
    barrier.sent([fact(0)])
    barrier.boundary()
    assert barrier.poll(tick_next=True) is None and barrier.tick_allowed
    assert shape(barrier.sent(barrier.tick(tick("2026-03-01")))) == [("2026-03-01", 1, False)]


def test_every_poll_is_an_epoch_with_a_zero_interval() -> None:
    barrier = TickBarrier(None, 31, 0.0)
    barrier.sent([fact(0)])
    assert barrier.poll(tick_next=True) is None and barrier.tick_allowed
    assert barrier.next_awake() is None and barrier.awake_at() is None


def test_the_clock_is_what_a_resume_needs() -> None:
    """Between a tick's phases the real tick is still being read (the sources' snapshots read
    it again) and the open day has not moved; after both it has."""
    barrier = TickBarrier(_day("2026-03-01"), 31)
    barrier.poll()
    barrier.sent(barrier.tick(tick("2026-03-02", offset=7)))
    reading = barrier.clock.reading
    assert reading is not None and reading.offset == 7
    assert barrier.clock.done == _day("2026-03-01")
    barrier.sent(barrier.poll() or [])
    assert barrier.clock.reading is None and barrier.clock.done == _day("2026-03-02")
    resumed = TickBarrier(barrier.clock.done, 31)
    assert resumed.open_day == _day("2026-03-03")
