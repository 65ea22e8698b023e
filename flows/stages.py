"""The per-key logic of the flow's stages: thin shells around ``state/`` slots.

Each holds one key's slot, feeds it the key's inputs, and returns what it says to emit.
``CalendarLogic`` (the offer calendar) and ``OfferLogic`` are Bytewax logics (a Bytewax key
each); ``PersonLogic``, ``FamilyLogic`` and ``CalendarKeyLogic`` run inside
``flows.shards.ShardLogic`` (``KeyLogic``), which keeps and snapshots their slots, so they have
no ``snapshot`` of their own.
Those that merge inputs from several upstream keys (family, offers) sort each batch by the
source sequence first: Bytewax groups a batch by key, which loses the read order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bytewax.operators import StatefulBatchLogic, StatefulLogic

from flows import metrics
from flows.routing import BirthReg, BirthTick, CatchUp, HoldSweep, QuarterWake, Tick
from rules.family_fold import FamilyFold, FoldOutput
from rules.ledger import LedgerLogic as DomainLedger
from rules.offering import OfferTerms, effects
from schemas.codec import notification_record
from state.calendar import BirthSlot, DueSlot
from state.events import DAY_END, QUARTER_START, WAKE_TYPES, Event, processed_tick, wake_event
from state.family import FamilyCard, MemberUpdate
from state.family_build import order_of
from state.offers import (
    OPEN,
    Contact,
    End,
    IssuedOffer,
    Keep,
    OfferSlot,
    Revise,
)
from state.person import ROLE_SUBJECT
from state.person_slot import PersonOutput, PersonSettings, PersonSlot, Rejection
from state.rights import Ledger, NoticeOut
from store.safe_load import safe_loads

__all__ = ["Keyed", "PersonLogic", "CalendarLogic", "CalendarKeyLogic", "calendar_step", "count_restored_timers",
           "count_restored_held", "FamilyLogic",
           "LedgerLogic", "OfferLogic", "Notice"]

Keyed = tuple[str, Any]

log = logging.getLogger(__name__)


def _seq(event: object) -> int:
    return event.origin.seq if isinstance(event, Event) and event.origin is not None else 0


# --- person -----------------------------------------------------------------------------

class PersonLogic:
    """One person's slot, inside a ``flows.shards.ShardLogic`` (which also counts the people)."""

    def __init__(self, resume: PersonSlot | None, settings: PersonSettings) -> None:
        self.slot = resume
        self.settings = settings
        self.late_record_days = settings.late_record_days

    def on_batch(self, values: list[tuple[Event, str] | HoldSweep]) -> tuple[Iterable[PersonOutput], bool]:
        out: list[PersonOutput] = []
        held = self.slot.held_facts() if self.slot is not None else 0
        for value in values:
            if isinstance(value, HoldSweep):
                out.extend(self._sweep(value))
            else:
                out.extend(self.on_item(value)[0])
        if self.slot is not None and (change := self.slot.held_facts() - held):
            metrics.child(metrics.HELD_NOW, "facts").inc(change)
        return out, StatefulLogic.RETAIN

    def _sweep(self, sweep: HoldSweep) -> list[PersonOutput]:
        if self.slot is None:
            return []
        out = self.slot.expire_held(sweep.event.occurred_on, self.late_record_days)
        _account(out)
        return out

    def state(self) -> PersonSlot | None:
        return self.slot

    def has_eof_work(self) -> bool:
        return self.slot is not None and bool(self.slot.held)

    def on_item(self, value: tuple[Event, str]) -> tuple[Iterable[PersonOutput], bool]:
        event, role = value
        if self.slot is None:
            iin = event.subject if role == ROLE_SUBJECT else event.data[f"{role}_iin"]
            self.slot = PersonSlot.empty(iin)
        out = self.slot.on_event(event, role, self.settings)
        if role == ROLE_SUBJECT and (event.type not in WAKE_TYPES or event.type == DAY_END):
            _account(out)  # a DAY_END wake releases input facts held for their day's end
        if role == ROLE_SUBJECT and not self.slot.card.registered:
            metrics.HELD.inc()
        if role == ROLE_SUBJECT and event.delay_days > self.late_record_days:
            metrics.LATE.inc()
        return out, StatefulLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[PersonOutput], bool]:
        if self.slot is None:
            return [], StatefulLogic.RETAIN
        held = self.slot.held_facts()
        out = self.slot.held_rejections()
        _account(out)
        if held:
            metrics.child(metrics.HELD_NOW, "facts").dec(held)
        return out, StatefulLogic.RETAIN


def _account(out: list[PersonOutput]) -> None:
    """Count where a subject's event(s) ended: each distinct event in ``out`` once."""
    processed = {id(u.event) for u in out if isinstance(u, MemberUpdate)}
    if processed:
        metrics.child(metrics.ACCOUNTED, "processed").inc(len(processed))
    for r in out:
        if isinstance(r, Rejection):
            outcome = "deduplicated" if r.code == "duplicate" else "dead_lettered"
            metrics.child(metrics.ACCOUNTED, outcome).inc()


# --- calendars ----------------------------------------------------------------------------

def _pending(slot: DueSlot | BirthSlot | None) -> int:
    return len(slot.timers) if isinstance(slot, DueSlot) else 0


def calendar_step(slot: DueSlot | BirthSlot | None, value: Any) -> tuple[DueSlot | BirthSlot, list[Keyed]]:
    """One calendar key's slot after ``value`` (a registration or a tick), and the wakes it emits."""
    if isinstance(value, (BirthReg, BirthTick)):
        birth = slot if isinstance(slot, BirthSlot) else BirthSlot()
        if isinstance(value, BirthReg):
            birth.register(value.iin)
            return birth, []
        due = birth.wake(value.kinds, value.event.occurred_on)
        return birth, [(t.target, wake_event(t.kind, t.target, value.event)) for t in due]
    if isinstance(value, CatchUp):
        # the first tick: a due-date slot no tick reached fires now, dated by this tick
        if isinstance(slot, DueSlot) and not slot.ticked and slot.timers and slot.timers[0].due < value.event.occurred_on:
            return slot, [(t.target, wake_event(t.kind, t.target, value.event)) for t in slot.tick()]
        return slot if slot is not None else DueSlot(), []
    dslot = slot if isinstance(slot, DueSlot) else DueSlot()
    if isinstance(value, Tick):
        return dslot, [(t.target, wake_event(t.kind, t.target, value.event)) for t in dslot.tick()]
    fired = dslot.register(value)  # a Timer; fires at once if its date was already ticked
    return dslot, [(t.target, wake_event(t.kind, t.target, processed_tick(t.due))) for t in fired]


class CalendarLogic(StatefulLogic[Any, Keyed, Any]):
    """A due-date (``d:``) slot of the offer calendar; emits ``(target, wake event)``."""

    def __init__(self, resume: DueSlot | BirthSlot | None) -> None:
        self.slot = resume
        metrics.state_size(metrics.CALENDAR_TIMERS).inc(_pending(self.slot))

    def on_item(self, value: Any) -> tuple[Iterable[Keyed], bool]:
        before = _pending(self.slot)
        self.slot, out = calendar_step(self.slot, value)
        if (change := _pending(self.slot) - before) != 0:
            metrics.state_size(metrics.CALENDAR_TIMERS).inc(change)
        return out, StatefulLogic.RETAIN

    def snapshot(self) -> Any:
        return _copy_calendar(self.slot)


def _copy_calendar(slot: DueSlot | BirthSlot | None) -> Any:
    if isinstance(slot, BirthSlot):
        return BirthSlot(slot.iins[:])
    assert isinstance(slot, DueSlot)
    return DueSlot(slot.ticked, list(slot.timers))


def count_restored_held(slots: dict[str, bytes], waiting: set[str]) -> None:
    """Person slots restored from recovery: the facts they hold join the held gauge (only the
    keys that hold something are unpacked)."""
    held = sum(safe_loads(slots[k]).held_facts() for k in waiting if k in slots)
    if held:
        metrics.child(metrics.HELD_NOW, "facts").inc(held)


def count_restored_timers(slots: dict[str, bytes], waiting: set[str] | None = None) -> None:
    """Calendar slots restored from recovery or a seed: their pending timers join the gauge."""
    pending = sum(_pending(safe_loads(b)) for k, b in slots.items() if k.startswith("d:"))
    if pending:
        metrics.state_size(metrics.CALENDAR_TIMERS).inc(pending)


class CalendarKeyLogic:
    """A due-date (``d:``) or birth-date (``b:``) slot of the life-event calendar, inside a
    ``flows.shards.ShardLogic`` (sharded so that a seed can start it and recovery stores a
    few thousand rows instead of one per date)."""

    def __init__(self, resume: DueSlot | BirthSlot | None) -> None:
        self.slot = resume

    def on_batch(self, values: list[Any]) -> tuple[Iterable[Keyed], bool]:
        slot = self.slot
        before = _pending(slot)
        out: list[Keyed] = []
        for value in values:
            slot, wakes = calendar_step(slot, value)
            out.extend(wakes)
        self.slot = slot
        if (change := _pending(slot) - before) != 0:
            metrics.state_size(metrics.CALENDAR_TIMERS).inc(change)
        return out, StatefulLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[Keyed], bool]:
        return [], StatefulLogic.RETAIN

    def state(self) -> DueSlot | BirthSlot | None:
        return self.slot

    def has_eof_work(self) -> bool:
        return False


# --- family -----------------------------------------------------------------------------

def source_order(update: MemberUpdate) -> int:
    return order_of(_seq(update.event), update.role)


class FamilyLogic:
    """One family's card, inside a ``flows.shards.ShardLogic``: the domain fold
    (``rules.family_fold``) over the family's updates, in source order.

    Emits ``(ledger key, ledger input)`` pairs for the rights ledger and ``Rejection``s.
    """

    def __init__(self, resume: FamilyCard | None, fold: FamilyFold) -> None:
        self.family = resume
        self.fold = fold

    def state(self) -> FamilyCard | None:
        return self.family

    def has_eof_work(self) -> bool:
        return False

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        return [], StatefulBatchLogic.RETAIN

    def on_batch(self, values: list[MemberUpdate | QuarterWake]) -> tuple[Iterable[Any], bool]:
        updates = [self._quarter(v) if isinstance(v, QuarterWake) else v for v in values]
        if len(updates) > 1:
            updates.sort(key=source_order)
        out: list[FoldOutput] = []
        for update in updates:
            if self.family is None:
                self.family = FamilyCard(update.family_id)
            out.extend(self.fold.on_update(self.family, update))
        return out, StatefulBatchLogic.RETAIN

    def _quarter(self, wake: QuarterWake) -> MemberUpdate:
        """The quarterly wake (broadcast to every family of a shard) as this family's update."""
        assert self.family is not None  # a broadcast only reaches families the shard holds
        fid = self.family.family_id
        return MemberUpdate(fid, "", None, wake_event(QUARTER_START, fid, wake.event), "family", fire=True)


# --- the rights ledger ------------------------------------------------------------------------

@dataclass(slots=True, frozen=True)
class Notice:
    """A notice's record for the notifications sink, with its recipient and cause (latency)."""

    recipient: str
    record: dict[str, Any]
    cause: Any


class LedgerLogic:
    """One recipient's ledger (``rules.ledger``), inside a ``flows.shards.ShardLogic``.

    Hands the ledger's decisions to ``rules.offering`` (an offer and its reminder, lapse and
    expiry timers; a renewed offer for a ``Revise``; ``End`` and ``Contact`` as they are) and
    encodes a notice's record for the notifications sink.
    """

    def __init__(self, resume: Ledger | None, logic: DomainLedger, consent_days: int, reminder_days: int) -> None:
        self.ledger = resume
        self.logic = logic
        self.terms = OfferTerms(consent_days, reminder_days)

    def state(self) -> Ledger | None:
        return self.ledger

    def has_eof_work(self) -> bool:
        return False

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        return [], StatefulBatchLogic.RETAIN

    def on_batch(self, values: list[tuple[str, Any]]) -> tuple[Iterable[Any], bool]:
        out: list[Any] = []
        for value in values:
            if isinstance(value, tuple):
                iin, item = value
            else:  # a broadcast to every ledger of the shard (the January re-pricing)
                assert self.ledger is not None
                iin, item = self.ledger.iin, value
            self.ledger, decided = self.logic.on_item(iin, self.ledger, item)
            for d in decided:
                if isinstance(d, NoticeOut):
                    record = notification_record(d.decision, d.phone, d.language, d.family_id)
                    metrics.child(metrics.NOTIFICATIONS, d.decision.code, d.decision.kind).inc()
                    out.append(Notice(d.decision.recipient, record, metrics.cause(d.cause.event)))
                else:
                    out.extend(effects(d, self.ledger, self.terms))
        return out, StatefulBatchLogic.DISCARD if self.ledger is None else StatefulBatchLogic.RETAIN


# --- offers -----------------------------------------------------------------------------

_COMMAND_RANK = {End: 1, Keep: 1, Revise: 1, Contact: 1}


def _offer_seq(value: Any) -> tuple[int, int]:
    """Source order; for one source message: the offer, then the ledger's commands, a reply, a timer."""
    if isinstance(value, IssuedOffer):
        return _seq(value.event), 0
    if type(value) in _COMMAND_RANK:
        return _seq(value.event), 1
    return _seq(value), 2 if value.type == "sms_reply" else 3


def _is_open(slot: OfferSlot) -> bool:
    return slot.offer is not None and slot.status == OPEN


def _with_cause(out: list[Any], first: int, value: Any) -> None:
    """Pair the outputs ``out[first:]`` of one input with the origin of what caused them.

    The pre-output map steps measure end-to-end latency from it (``metrics.observe_output``).
    """
    origin = metrics.cause(value.event if isinstance(value, (IssuedOffer, End, Keep, Revise, Contact)) else value)
    out[first:] = [(o, origin) for o in out[first:]]


class OfferLogic(StatefulBatchLogic[Any, Any, OfferSlot]):
    """One offer's life: the offer, replies, reminder and lapse timers, the ledger's commands.

    Emits ``(output, cause origin)`` pairs; ``flows.dataflow`` encodes the outputs.
    """

    def __init__(self, resume: OfferSlot | None) -> None:
        self.slot = resume or OfferSlot()
        if _is_open(self.slot):
            metrics.state_size(metrics.OPEN_OFFERS).inc()
        if self.slot.held:
            metrics.child(metrics.HELD_NOW, "replies").inc(len(self.slot.held))

    def on_batch(self, values: list[Any]) -> tuple[Iterable[Any], bool]:
        if len(values) > 1:
            values = sorted(values, key=_offer_seq)
        out: list[Any] = []
        slot = self.slot
        was_open = _is_open(slot)
        held = len(slot.held)
        for value in values:
            first = len(out)
            if isinstance(value, IssuedOffer):
                out.extend(slot.on_offer(value))
            elif isinstance(value, (End, Keep, Revise, Contact)):
                out.extend(slot.on_command(value))
            elif value.type == "sms_reply":
                out.extend(slot.on_reply(value))
            else:  # a remind / lapse / reply_check wake from the offer calendar
                out.extend(slot.on_timer(value.type, value.occurred_on))
            _with_cause(out, first, value)
        if (now_open := _is_open(slot)) != was_open:  # offered, or settled
            metrics.state_size(metrics.OPEN_OFFERS).inc(1 if now_open else -1)
        if len(slot.held) != held:
            metrics.child(metrics.HELD_NOW, "replies").inc(len(slot.held) - held)
        # A settled offer's slot goes once its expiry timer says nothing more can happen.
        return out, StatefulBatchLogic.DISCARD if slot.done else StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        held = len(self.slot.held)
        out: list[Any] = [(o, metrics.cause(getattr(o, "reply", None))) for o in self.slot.on_eof()]
        if held:
            metrics.child(metrics.HELD_NOW, "replies").dec(held)
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> OfferSlot:
        return self.slot.copy()
