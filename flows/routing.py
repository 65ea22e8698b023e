"""Where each decoded message goes, as ``(destination, key, value)`` triples.

Destinations are the keyed steps of the flow: ``person`` (IIN), ``calendar`` (a due date or
a birth date), ``family`` (only the quarterly wake, sent to every family shard and from there
to every family in it), ``offer_calendar`` (a due date) and ``offers`` (a notification id). Timer registrations are derived here from
the input events themselves, so the calendar sits upstream of the stages it wakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.shards import DEFAULT_SHARDS
from rules.calendar import birth_dates_due
from state import dates
from state.calendar import Timer
from state.compact import compact
from state.dates import Day
from state.events import KANDAS_NOTICE_DUE, RULING_EXPIRED, Event
from state.offers import REPLY_CHECK
from state.person import ROLE_FATHER, ROLE_MOTHER, ROLE_SUBJECT

__all__ = ["Tick", "BirthTick", "BirthReg", "QuarterWake", "route", "due_key", "birth_key",
           "PERSON", "CALENDAR", "FAMILY", "OFFER_CALENDAR", "OFFERS"]

PERSON, CALENDAR, FAMILY, OFFER_CALENDAR, OFFERS = "person", "calendar", "family", "offer_calendar", "offers"



@compact
@dataclass(slots=True, frozen=True)
class Tick:
    """A ``day`` tick delivered to a due-date or family-registry key."""

    event: Event


@compact
@dataclass(slots=True, frozen=True)
class BirthTick:
    """A ``day`` tick asking one birth-date key to wake its people for ``kinds``."""

    event: Event
    kinds: tuple[str, ...]


@compact
@dataclass(slots=True, frozen=True)
class BirthReg:
    iin: str


@compact
@dataclass(slots=True, frozen=True)
class QuarterWake:
    """A quarter's settle-day tick, for every family of one family shard (targeted assistance)."""

    event: Event


Routed = tuple[str, str, Any]


def due_key(d: Day) -> str:
    return "d:" + dates.iso(d)


def birth_key(birth: Day, sex: str) -> str:
    return f"b:{dates.iso(birth)}:{sex}"


def route(event: Event, tsa_settle_days: int, shards: int = DEFAULT_SHARDS) -> list[Routed]:
    t = event.type
    if t == "day":
        return _route_tick(event, tsa_settle_days, shards)
    if t == "sms_reply":
        nid = str(event.data.get("in_reply_to", ""))
        check = event.occurred_on + 1
        return [(OFFERS, nid, event), (OFFER_CALENDAR, due_key(check), Timer(check, nid, REPLY_CHECK))]

    d = event.data
    out: list[Routed] = [(PERSON, event.subject, (event, ROLE_SUBJECT))]
    if t in ("birth", "person_registered"):
        for role, field in ((ROLE_MOTHER, "mother_iin"), (ROLE_FATHER, "father_iin")):
            parent = d.get(field)
            if parent:
                out.append((PERSON, parent, (event, role)))
        birth = event.occurred_on if t == "birth" else dates.day(d["birth_date"])
        out.append((CALENDAR, birth_key(birth, d["sex"]), BirthReg(event.subject)))
    elif t == "kandas_status":
        due = max(dates.day(d["valid_until"]) - 30, event.recorded_on)
        out.append((CALENDAR, due_key(due), Timer(due, event.subject, KANDAS_NOTICE_DUE)))
    elif t == "disability_ruling" and d.get("valid_until"):
        due = max(dates.day(d["valid_until"]) + 1, event.recorded_on)
        out.append((CALENDAR, due_key(due), Timer(due, event.subject, RULING_EXPIRED)))
    return out


def _route_tick(tick: Event, tsa_settle_days: int, shards: int) -> list[Routed]:
    """Phase 1 wakes the life-event timers and families; phase 2, an epoch later, the offers'.

    So everything a day's date-driven rules cause (a withdrawal, say) reaches an offer
    before that day's reminder or lapse does, on any number of workers.
    """
    on = tick.occurred_on
    if tick.data.get("phase") == 2:
        return [(OFFER_CALENDAR, due_key(on), Tick(tick))]
    out: list[Routed] = [(CALENDAR, due_key(on), Tick(tick))]
    kinds: dict[str, list[str]] = {}
    for birth, sex, kind in birth_dates_due(on):
        kinds.setdefault(birth_key(birth, sex), []).append(kind)
    out.extend((CALENDAR, key, BirthTick(tick, tuple(k))) for key, k in kinds.items())
    if on == dates.quarter_start(on) + tsa_settle_days:
        out.extend((FAMILY, str(i), QuarterWake(tick)) for i in range(shards))  # keys as flows.shards.shard_of
    return out
