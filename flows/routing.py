"""Where each decoded message goes, as ``(destination, key, value)`` triples.

Destinations are the keyed steps of the flow: ``person`` (IIN), ``calendar`` (a due date or
a birth date), ``family`` (only the quarterly wake, sent to every family shard and from there
to every family in it), ``offer_calendar`` (a due date) and ``offers`` (a notification id). Timer registrations are derived here from
the input events themselves, so the calendar sits upstream of the stages it wakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rules.calendar import adult_months, birth_dates_due
from rules.params import Params
from rules.retirement import retirement_day
from state import dates
from state.calendar import Timer
from state.dates import Day
from state.events import (
    BIRTH_CHECK,
    DAY_END,
    DAY_END_TYPES,
    KANDAS_NOTICE_DUE,
    RETIREMENT_AGE,
    RULING_EXPIRED,
    TURNS_18,
    Event,
)
from state.ids import base_of
from state.offers import REPLY_CHECK
from state.person import ROLE_FATHER, ROLE_MOTHER, ROLE_SUBJECT
from state.rights import Reprice
from store.compact import compact

__all__ = ["Tick", "BirthTick", "BirthReg", "QuarterWake", "CatchUp", "HoldSweep", "Router", "due_key", "birth_key",
           "PERSON", "CALENDAR", "FAMILY", "OFFER_CALENDAR", "OFFERS", "LEDGER", "CALENDAR_ALL", "PERSON_HELD"]

PERSON, CALENDAR, FAMILY, OFFER_CALENDAR, OFFERS = "person", "calendar", "family", "offer_calendar", "offers"
LEDGER = "ledger"              # only broadcasts (the January re-pricing), to every ledger shard
CALENDAR_ALL = "calendar_all"  # only the first tick's catch-up, to every calendar shard
PERSON_HELD = "person_held"    # only the monthly sweep of held facts, to every person shard



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


@compact
@dataclass(slots=True, frozen=True)
class HoldSweep:
    """A month's first tick, for every person shard: facts held that long for a person nobody
    registered are dead-lettered (``state.person_slot.PersonSlot.expire_held``), so nothing
    waits in state forever unseen (issue 13). Only the shard's keys that hold something see it."""

    event: Event


@compact
@dataclass(slots=True, frozen=True)
class CatchUp:
    """The first tick the source released since it started, for every calendar shard: due-date
    timers of earlier dates that no tick ever reached (a seed's or a load's last day, before the
    stream's first tick) fire now, dated by it (rules.md §5a, "Dates are never missed")."""

    event: Event


Routed = tuple[str, str, Any]


def due_key(d: Day) -> str:
    return "d:" + dates.iso(d)


def birth_key(birth: Day, sex: str) -> str:
    return f"b:{dates.iso(birth)}:{sex}"


class Router:
    """Where each decoded message goes (module doc), under one policy's parameters and shard count."""

    def __init__(self, params: Params, shards: int) -> None:
        self.params = params
        self.shards = shards
        self.settle = params.scalar_int("tsa_settle_days")
        self.kandas_days = params.scalar_int("kandas_notice_days")
        self.adult_months = adult_months(params)
        self.late_days = params.scalar_int("late_record_days")

    def route(self, event: Event) -> list[Routed]:
        t = event.type
        if t == "day":
            return self._tick(event)
        if t == "sms_reply":
            named = str(event.data.get("in_reply_to", ""))
            nid = base_of(named) or named  # a reply may name the offer's reminder or renewal: both mean the offer
            # checked the day after the day it was read: a reply read late waits one tick for its offer too
            check = self._due(event.occurred_on, event) + 1
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
            if t == "birth" and d.get("mother_iin"):
                # the day the birth was recorded is over: a mother still unregistered then gets her
                # child's birth rules run anyway (state.person_slot)
                due = self._due(event.recorded_on, event)
                out.append((CALENDAR, due_key(due), Timer(due, d["mother_iin"], BIRTH_CHECK)))
            elif t == "person_registered":
                out.extend(self._missed_milestones(event, birth, d["sex"]))
        elif t in DAY_END_TYPES and event.delay_days <= self.late_days:
            # decided at the day's end (state.person_slot holds it): a same-day new job or
            # contribution counts whichever record came first
            due = self._due(event.recorded_on, event)
            out.append((CALENDAR, due_key(due), Timer(due, event.subject, DAY_END)))
        elif t == "kandas_status":
            due = self._due(dates.day(d["valid_until"]) - self.kandas_days, event)
            out.append((CALENDAR, due_key(due), Timer(due, event.subject, KANDAS_NOTICE_DUE)))
        elif t == "disability_ruling" and d.get("valid_until"):
            due = self._due(dates.day(d["valid_until"]) + 1, event)
            out.append((CALENDAR, due_key(due), Timer(due, event.subject, RULING_EXPIRED)))
        return out

    @staticmethod
    def _due(day: Day, event: Event) -> Day:
        """A timer's day, or the day the flow is in when that has passed already: it fires at the
        next tick, dated by it (rules.md §5a)."""
        floor = event.recorded_on if event.open_day is None else max(event.recorded_on, event.open_day)
        return max(day, floor)

    def _missed_milestones(self, event: Event, birth: Day, sex: str) -> list[Routed]:
        """A registration read after the tick of a milestone (turning 18, retirement age) that falls
        after the registration's own date: the birth-date key's tick has gone, so a one-off timer
        fires it at the next tick (rules.md §5a, "Dates are never missed")."""
        floor = event.recorded_on if event.open_day is None else max(event.recorded_on, event.open_day)
        out: list[Routed] = []
        for kind, day in ((TURNS_18, dates.add_months(birth, self.adult_months)),
                          (RETIREMENT_AGE, retirement_day(birth, sex, self.params))):
            if event.occurred_on < day < floor:
                out.append((CALENDAR, due_key(floor), Timer(floor, event.subject, kind)))
        return out

    def _tick(self, tick: Event) -> list[Routed]:
        """Phase 1 wakes the life-event timers and families; phase 2, an epoch later, the offers'.

        So everything a day's date-driven rules cause (a withdrawal, say) reaches an offer
        before that day's reminder or lapse does, on any number of workers.
        """
        on = tick.occurred_on
        if tick.data.get("phase") == 2:
            return [(OFFER_CALENDAR, due_key(on), Tick(tick))]
        out: list[Routed] = [(CALENDAR, due_key(on), Tick(tick))]
        kinds: dict[str, list[str]] = {}
        for birth, sex, kind in birth_dates_due(on, self.params):
            kinds.setdefault(birth_key(birth, sex), []).append(kind)
        if tick.data.get("first"):
            # Birthday milestones of the days before the first tick that no tick reached (a man
            # of the load who turned 63 before the stream began) fire now, dated by this tick;
            # older ones than ``late_record_days`` are as late as a late record: state only.
            for past in range(on - self.late_days, on):
                for birth, sex, kind in birth_dates_due(past, self.params):
                    kinds.setdefault(birth_key(birth, sex), []).append(kind)
            out.extend((CALENDAR_ALL, str(i), CatchUp(tick)) for i in range(self.shards))
        out.extend((CALENDAR, key, BirthTick(tick, tuple(k))) for key, k in kinds.items())
        if on == dates.quarter_start(on) + self.settle:
            out.extend((FAMILY, str(i), QuarterWake(tick)) for i in range(self.shards))  # keys as flows.shards.shard_of
        x = dates.to_date(on)
        if x.day == 1:
            out.extend((PERSON_HELD, str(i), HoldSweep(tick)) for i in range(self.shards))
        if x.month == 1 and x.day == 1:
            out.extend((LEDGER, str(i), Reprice(on, tick)) for i in range(self.shards))
        return out
