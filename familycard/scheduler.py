"""``familycard tick``: the calendar scheduler — one ``day`` message per day on ``calendar``.

Event time never comes from the wall clock inside the flows (contract §1, ``day``); this
small process is where the wall clock enters. The tick for day D says "D is over": it is
produced once the local clock (Kazakhstan, UTC+5) has passed midnight after D plus a grace
period, so registry records of D still in flight at midnight are usually read before it
(the flows' aligned source holds a tick back until every input partition has passed D).

It is restartable and idempotent: on start it reads the calendar topic for the last tick
produced and catches up day by day from there (or from ``--start``, or yesterday, on an
empty topic); the same day is never produced twice by it, and ``event_id`` ``day-D`` makes a
duplicate harmless anyway.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

import orjson

__all__ = ["KZ_TIME", "day_message", "due_days", "next_due", "last_tick", "run_scheduler"]

log = logging.getLogger(__name__)

KZ_TIME = dt.timezone(dt.timedelta(hours=5), "UTC+5")  # all of Kazakhstan since 1 March 2024
DEFAULT_GRACE = dt.timedelta(minutes=10)
_KEY = b"day"  # one key: every tick in one partition, in order


def day_message(day: dt.date) -> dict[str, str]:
    iso = day.isoformat()
    return {"event_id": f"day-{iso}", "type": "day", "occurred_on": iso}


def _last_closed_day(now: dt.datetime, tz: dt.tzinfo, grace: dt.timedelta) -> dt.date:
    """The latest day D whose tick is due at ``now``: local midnight after D, plus ``grace``, has passed."""
    return (now - grace).astimezone(tz).date() - dt.timedelta(days=1)


def due_days(last: dt.date | None, now: dt.datetime, *, first: dt.date | None = None,
             tz: dt.tzinfo = KZ_TIME, grace: dt.timedelta = DEFAULT_GRACE) -> list[dt.date]:
    """The days to tick at ``now`` (aware), in order, after ``last`` (the last day ticked).

    With nothing ticked yet, start at ``first`` or else at the last closed day only.
    """
    closed = _last_closed_day(now, tz, grace)
    start = last + dt.timedelta(days=1) if last is not None else (first or closed)
    return [start + dt.timedelta(days=i) for i in range((closed - start).days + 1)]


def next_due(now: dt.datetime, *, tz: dt.tzinfo = KZ_TIME, grace: dt.timedelta = DEFAULT_GRACE) -> dt.datetime:
    """When the next tick falls due after ``now``: the next local midnight plus ``grace``."""
    local = (now - grace).astimezone(tz)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tz)
    return midnight + grace


def last_tick(bootstrap: str, topic: str) -> dt.date | None:
    """The latest ``day`` on ``topic`` (None if it holds none)."""
    from flows.kafka.admin import read_topic

    last: dt.date | None = None
    for _key, value in read_topic(bootstrap, topic, timeout=60):
        try:
            msg = orjson.loads(value)
            if msg.get("type") == "day":
                day = dt.date.fromisoformat(msg["occurred_on"])
                last = day if last is None or day > last else last
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            continue  # not ours to judge; the flows dead-letter it
    return last


def run_scheduler(bootstrap: str, topic: str = "calendar", *, first: dt.date | None = None,
                  tz: dt.tzinfo = KZ_TIME, grace: dt.timedelta = DEFAULT_GRACE, once: bool = False,
                  clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                  sleep: Callable[[float], None] = time.sleep) -> int:
    """Produce the due ticks, then (unless ``once``) one per day forever; returns how many were sent."""
    from flows.kafka.admin import ensure_topics, produce_all

    ensure_topics(bootstrap, [topic])
    last = last_tick(bootstrap, topic)
    sent = 0
    while True:
        days = due_days(last, clock(), first=first, tz=tz, grace=grace)
        if days:
            produce_all(bootstrap, [(topic, _KEY, orjson.dumps(day_message(d))) for d in days])
            sent += len(days)
            last = days[-1]
            log.info("ticked %s%s", days[0], f" .. {days[-1]}" if len(days) > 1 else "")
        if once:
            return sent
        # Sleep in short steps: a suspended host or a clock step must not skip a day.
        wake = next_due(clock(), tz=tz, grace=grace)
        while (left := (wake - clock()).total_seconds()) > 0:
            sleep(min(left, 60.0))
