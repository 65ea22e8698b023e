"""The flow's keyed stages driven in-process, one message at a time, with no engine.

The same logic classes the dataflow runs (``flows.stages``), keyed the same way, each message
carried through every stage before the next is read: the reference order of a one-process,
epoch-per-message run. Fast enough for property tests over many generated histories, and
able to say what the state is at the end (``persons``, ``families``, ``ledgers``, ``offers``).

``day`` ticks are fed in both phases (life-event timers, then offer timers), as the sources do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from flows.dataflow import encode_offer_output
from flows.routing import (
    CALENDAR,
    CALENDAR_ALL,
    FAMILY,
    LEDGER,
    OFFER_CALENDAR,
    OFFERS,
    PERSON,
    PERSON_HELD,
    Router,
    due_key,
)
from flows.stages import FamilyLogic, LedgerLogic, Notice, OfferLogic, PersonLogic, calendar_step
from flows.tick_clock import TickClock
from rules import Params, load_params
from rules.family_fold import FamilyFold
from rules.ledger import LedgerLogic as DomainLedger
from schemas.codec import FUTURE_HORIZON_DAYS, DeadLetter, RawMessage, dead_letter_record, decode
from state.calendar import Timer
from state.events import Event
from state.family import FamilyCard, MemberUpdate
from state.person import ROLE_SUBJECT
from state.person_slot import PersonSettings, PersonSlot, Rejection
from state.rights import Ledger

__all__ = ["Pipeline"]


class Pipeline:
    def __init__(self, params: Params | None = None, shards: int = 16,
                 future_horizon_days: int | None = FUTURE_HORIZON_DAYS) -> None:
        params = params or load_params()
        self.params = params
        self.router = Router(params, shards)
        self.settings = PersonSettings(params.scalar_int("late_record_days"), params.scalar_int("adult_age_years"))
        self.fold = FamilyFold(params)
        self.ledger_logic = DomainLedger(params)
        self.consent = params.scalar_int("consent_days")
        self.remind = params.scalar_int("reminder_after_days")
        self.persons: dict[str, PersonSlot] = {}
        self.families: dict[str, FamilyCard] = {}
        self.ledgers: dict[str, Ledger] = {}
        self.offers: dict[str, OfferLogic] = {}
        self.calendar: dict[str, Any] = {}
        self.offer_calendar: dict[str, Any] = {}
        self.notifications: list[dict[str, Any]] = []
        self.assignments: list[dict[str, Any]] = []
        self.outcomes: list[dict[str, Any]] = []
        self.dead: list[dict[str, Any]] = []
        self.rule_errors: list[Rejection] = []
        self._seq = 0
        self.horizon = future_horizon_days
        self.clock = TickClock(None, future_horizon_days)

    # -- input -----------------------------------------------------------------------------------

    def feed_lines(self, lines: Iterable[bytes]) -> Pipeline:
        for line in lines:
            self.feed_raw(line)
        return self

    def feed_raw(self, value: bytes) -> None:
        """One message as a source releases it: stamped with the open day; a tick in both phases,
        after made-up ticks for days skipped (``flows.tick_clock``, as both sources do)."""
        self._seq += 1
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = None
        raw = RawMessage("input", value, None, None, self._seq, None, parsed, self._seq)
        if type(parsed) is dict and parsed.get("type") == "day":
            self.clock.ticks(raw)
            while (tick := self.clock.next_tick()) is not None:
                self._decoded(decode(tick, self.horizon), tick)
            return
        self._decoded(decode(self.clock.stamp(raw), self.horizon), raw)

    def feed(self, event: Event) -> None:
        for dest, key, value in self.router.route(event):
            self._route(dest, key, value)

    def _decoded(self, result: Event | DeadLetter, raw: RawMessage) -> None:
        if isinstance(result, DeadLetter):
            if raw.phase == 1:
                self.dead.append(dead_letter_record(result.origin, result.code, result.message, result.path))
            return
        self.feed(result)

    # -- the stages ------------------------------------------------------------------------------

    def _route(self, dest: str, key: str, value: Any) -> None:
        if dest == PERSON:
            self._person(key, value)
        elif dest == CALENDAR:
            self._calendar(self.calendar, key, value, life=True)
        elif dest == PERSON_HELD:
            if key == "0":
                for iin in sorted(self.persons):
                    if self.persons[iin].held:
                        self._person_value(iin, value)
        elif dest == CALENDAR_ALL:
            if key == "0":
                for k in sorted(self.calendar):
                    self._calendar(self.calendar, k, value, life=True)
        elif dest == FAMILY:
            if key == "0":
                for fid in sorted(self.families):
                    self._family(fid, value)
        elif dest == LEDGER:
            if key == "0":
                for iin in sorted(self.ledgers):
                    self._ledger(iin, value)
        elif dest == OFFER_CALENDAR:
            self._calendar(self.offer_calendar, key, value, life=False)
        elif dest == OFFERS:
            self._offer(key, value)
        else:
            raise AssertionError(dest)

    def _calendar(self, store: dict[str, Any], key: str, value: Any, *, life: bool) -> None:
        slot, wakes = calendar_step(store.get(key), value)
        store[key] = slot
        for target, wake in wakes:
            if life:
                self._person(target, (wake, ROLE_SUBJECT))
            else:
                self._offer(target, wake)

    def _person(self, iin: str, value: tuple[Event, str]) -> None:
        self._person_value(iin, value)

    def _person_value(self, iin: str, value: Any) -> None:
        logic = PersonLogic(self.persons.get(iin), self.settings)
        out, _ = logic.on_batch([value])
        if logic.slot is not None:
            self.persons[iin] = logic.slot
        for item in out:
            if isinstance(item, MemberUpdate):
                self._family(item.family_id, item)
            else:
                self._reject(item)

    def _reject(self, r: Rejection) -> None:
        assert r.event.origin is not None
        if r.code == "rule_error":
            self.rule_errors.append(r)
        self.dead.append(dead_letter_record(r.event.origin, r.code, r.message, r.path))

    def _family(self, fid: str, value: Any) -> None:
        logic = FamilyLogic(self.families.get(fid), self.fold)
        out, _ = logic.on_batch([value])
        if logic.family is not None:
            self.families[fid] = logic.family
        for item in out:
            if isinstance(item, Rejection):
                self._reject(item)
            else:
                self._ledger(item[0], item)

    def _ledger(self, iin: str, value: Any) -> None:
        logic = LedgerLogic(self.ledgers.get(iin), self.ledger_logic, self.consent, self.remind)
        out, _ = logic.on_batch([value])
        if logic.ledger is None:
            self.ledgers.pop(iin, None)
        else:
            self.ledgers[iin] = logic.ledger
        for item in out:
            if isinstance(item, Notice):
                self.notifications.append(item.record)
            elif isinstance(item, Timer):
                self._calendar(self.offer_calendar, due_key(item.due), item, life=False)
            else:
                self._offer(item.base if hasattr(item, "base") else item.nid, item)

    def _offer(self, nid: str, value: Any) -> None:
        logic = self.offers.get(nid) or OfferLogic(None)
        self.offers[nid] = logic
        out, _ = logic.on_batch([value])
        self._write(o for o, _cause in out)

    def _write(self, outputs: Iterable[Any]) -> None:
        for o in outputs:
            dest, _key, blob = encode_offer_output(o)
            {"notification": self.notifications, "assignment": self.assignments, "outcome": self.outcomes,
             "dead": self.dead}[dest].append(orjson.loads(blob))

    def finish(self) -> Pipeline:
        """The end of the input: held facts and replies are reported, as the flow's end does."""
        for iin in sorted(self.persons):
            logic = PersonLogic(self.persons[iin], self.settings)
            out, _ = logic.on_eof()
            for item in out:
                if isinstance(item, MemberUpdate):
                    self._family(item.family_id, item)
                else:
                    self._reject(item)
        for nid in sorted(self.offers):
            out, _ = self.offers[nid].on_eof()
            self._write(o for o, _cause in out)
        return self
