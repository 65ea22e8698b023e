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
import pickle
from collections.abc import Iterable
from typing import Any

from bytewax.operators import StatefulBatchLogic, StatefulLogic

from flows import metrics
from flows.routing import BirthReg, BirthTick, QuarterWake, Tick
from rules import Context, Params, evaluate
from rules.decisions import OFFER
from rules.engine import has_rules
from rules.withdrawals import WITHDRAWAL_TRIGGERS, grant_of, lost_grounds, still_relevant
from schemas.codec import notification_record
from state.calendar import BirthSlot, DueSlot, Timer
from state.dates import Day
from state.events import QUARTER_START, WAKE_TYPES, Event, wake_event
from state.family import FamilyCard, MemberUpdate, apply_update, prune_issued
from state.family_build import order_of
from state.offers import EXPIRE, OPEN, IssuedOffer, OfferSlot, Withdrawal, expiry_days
from state.person import ROLE_SUBJECT
from state.person_stage import DEDUP_DAYS, PersonOutput, PersonSlot, Rejection

__all__ = ["PersonLogic", "CalendarLogic", "CalendarKeyLogic", "calendar_step", "count_restored_timers", "fires", "FamilyLogic", "OfferLogic"]

Keyed = tuple[str, Any]

log = logging.getLogger(__name__)


def _seq(event: object) -> int:
    return event.origin.seq if isinstance(event, Event) and event.origin is not None else 0


# --- person -----------------------------------------------------------------------------

class PersonLogic:
    """One person's slot, inside a ``flows.shards.ShardLogic`` (which also counts the people)."""

    def __init__(self, resume: PersonSlot | None, late_record_days: int) -> None:
        self.slot = resume
        self.late_record_days = late_record_days

    def on_batch(self, values: list[tuple[Event, str]]) -> tuple[Iterable[PersonOutput], bool]:
        out: list[PersonOutput] = []
        for value in values:
            out.extend(self.on_item(value)[0])
        return out, StatefulLogic.RETAIN

    def state(self) -> PersonSlot | None:
        return self.slot

    def has_eof_work(self) -> bool:
        return self.slot is not None and bool(self.slot.held)

    def on_item(self, value: tuple[Event, str]) -> tuple[Iterable[PersonOutput], bool]:
        event, role = value
        if self.slot is None:
            iin = event.subject if role == ROLE_SUBJECT else event.data[f"{role}_iin"]
            self.slot = PersonSlot.empty(iin)
        out = self.slot.on_event(event, role, self.late_record_days)
        if role == ROLE_SUBJECT and event.type not in WAKE_TYPES:
            _account(out)
        if role == ROLE_SUBJECT and not self.slot.card.registered:
            metrics.HELD.inc()
        if role == ROLE_SUBJECT and event.delay_days > self.late_record_days:
            metrics.LATE.inc()
        return out, StatefulLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[PersonOutput], bool]:
        if self.slot is None:
            return [], StatefulLogic.RETAIN
        out = self.slot.held_rejections()
        _account(out)
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
    dslot = slot if isinstance(slot, DueSlot) else DueSlot()
    if isinstance(value, Tick):
        return dslot, [(t.target, wake_event(t.kind, t.target, value.event)) for t in dslot.tick()]
    fired = dslot.register(value)  # a Timer; fires at once if its date was already ticked
    return dslot, [(t.target, wake_event(t.kind, t.target, _tick_for(t.due))) for t in fired]


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


def count_restored_timers(slots: dict[str, bytes]) -> None:
    """Calendar slots restored from recovery or a seed: their pending timers join the gauge."""
    pending = sum(_pending(pickle.loads(b)) for k, b in slots.items() if k.startswith("d:"))
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


def _tick_for(on: Day) -> Event:
    """Stands in for a tick already processed, when a timer is registered after its date."""
    return Event(f"day-{on}", "day", "", on, on, {}, None)


# --- family -----------------------------------------------------------------------------

def source_order(update: MemberUpdate) -> int:
    return order_of(_seq(update.event), update.role)


def fires(update: MemberUpdate, params: Params) -> bool:
    """Whether the family stage runs the rules on ``update`` (else it only folds the card in).

    ``familycard load`` asks the same question of every load message: a bulk load takes only
    facts that fire nothing (rules.md §5), so its state equals the stream's.
    """
    event = update.event
    return (update.fire and isinstance(event, Event)
            and event.occurred_on >= params.in_force_from
            and (has_rules(event.type, update.role) or event.type in WITHDRAWAL_TRIGGERS))


class FamilyLogic:
    """Folds member updates into the family card, runs the rules, finds lost grounds.

    Emits notice records (``("notice", recipient, record, cause origin)``), issued offers and withdrawal
    requests for the offer stage, and the offers' reminder and lapse timers.
    """

    def __init__(self, resume: FamilyCard | None, params: Params) -> None:
        self.family = resume
        self.params = params
        self.consent_days = params.scalar_int("consent_days")
        self.reminder_days = params.scalar_int("reminder_after_days")

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
        out: list[Any] = []
        for update in updates:
            out.extend(self.on_update(update))
        return out, StatefulBatchLogic.RETAIN

    def _quarter(self, wake: QuarterWake) -> MemberUpdate:
        """The quarterly wake (broadcast to every family of a shard) as this family's update."""
        assert self.family is not None  # a broadcast only reaches families the shard holds
        fid = self.family.family_id
        return MemberUpdate(fid, "", None, wake_event(QUARTER_START, fid, wake.event), "family", fire=True)

    def on_update(self, update: MemberUpdate) -> list[Any]:
        if self.family is None:
            self.family = FamilyCard(update.family_id)
        family = self.family
        event, card = update.event, update.card
        firing = fires(update, self.params)
        children_before = len(family.children(event.occurred_on)) if firing and isinstance(event, Event) else None
        apply_update(family, update)
        out: list[Any] = []
        if firing and isinstance(event, Event):
            ctx = Context(event, update.role, card, family, self.params, children_before)
            for decision in self._guarded(evaluate, ctx, out):
                out.extend(self._issue(family, decision, card, event))
            today = event.occurred_on
            live = [g for g in family.grants.values() if still_relevant(g, today)]
            family.grants = {g.nid: g for g in live}
            for loss in self._guarded(lambda c: lost_grounds(c, live, len(family.children(today))), ctx, out):
                family.grants.pop(loss.grant.nid, None)
                out.append(Withdrawal(loss.grant.nid, loss.reason, loss.on, loss.only_if_open, event))
        if card is not None and not card.alive:
            family.members.pop(card.iin, None)  # only living members count; keep state bounded
        return out

    @staticmethod
    def _guarded(fn: Any, ctx: Context, out: list[Any]) -> list[Any]:
        """``fn(ctx)``; if a rule raises, dead-letter the event (rule_error) and go on."""
        try:
            return list(fn(ctx))
        except Exception as exc:  # noqa: BLE001 - one event's rule failure must not stop the flow
            event = ctx.event
            log.exception("rule error on %s %s", event.type, event.event_id)
            if event.origin is not None:
                out.append(Rejection(event, "rule_error", f"a rule failed on this event: {exc!r}"))
            return []

    def _issue(self, family: FamilyCard, decision: Any, card: Any, event: Event) -> list[Any]:
        nid = decision.notification_id
        if nid in family.issued:
            return []  # one occasion, one offer
        prune_issued(family, decision.issued_on, DEDUP_DAYS)
        family.issued[nid] = decision.issued_on
        recipient = family.members.get(decision.recipient)
        if recipient is None and card is not None and card.iin == decision.recipient:
            recipient = card
        record = notification_record(decision, recipient, family.family_id)
        if decision.kind != OFFER:
            metrics.child(metrics.NOTIFICATIONS, decision.code, decision.kind).inc()
            return [("notice", decision.recipient, record, metrics.cause(event))]
        family.grants[nid] = grant_of(decision)
        issued = decision.issued_on
        offer = IssuedOffer(record, decision.start_month, decision.end_month,
                            recipient.iban if recipient is not None else None, event, issued + self.reminder_days)
        return [offer, Timer(issued + self.reminder_days, nid, "remind"),
                Timer(issued + self.consent_days + 1, nid, "lapse"),
                *(Timer(d, nid, EXPIRE) for d in expiry_days(offer))]


# --- offers -----------------------------------------------------------------------------

def _offer_seq(value: Any) -> tuple[int, int]:
    """Source order; for one source message: the offer, then a withdrawal, a reply, a timer."""
    if isinstance(value, IssuedOffer):
        return _seq(value.event), 0
    if isinstance(value, Withdrawal):
        return _seq(value.event), 1
    return _seq(value), 2 if value.type == "sms_reply" else 3


def _is_open(slot: OfferSlot) -> bool:
    return slot.offer is not None and slot.status == OPEN


def _with_cause(out: list[Any], first: int, value: Any) -> None:
    """Pair the outputs ``out[first:]`` of one input with the origin of what caused them.

    The pre-output map steps measure end-to-end latency from it (``metrics.observe_output``).
    """
    origin = metrics.cause(value.event if isinstance(value, (IssuedOffer, Withdrawal)) else value)
    out[first:] = [(o, origin) for o in out[first:]]


class OfferLogic(StatefulBatchLogic[Any, Any, OfferSlot]):
    """One offer's life: the offer, replies, reminder and lapse timers, withdrawals.

    Emits ``(output, cause origin)`` pairs; ``flows.dataflow`` encodes the outputs.
    """

    def __init__(self, resume: OfferSlot | None) -> None:
        self.slot = resume or OfferSlot()
        if _is_open(self.slot):
            metrics.state_size(metrics.OPEN_OFFERS).inc()

    def on_batch(self, values: list[Any]) -> tuple[Iterable[Any], bool]:
        if len(values) > 1:
            values = sorted(values, key=_offer_seq)
        out: list[Any] = []
        slot = self.slot
        was_open = _is_open(slot)
        for value in values:
            first = len(out)
            if isinstance(value, IssuedOffer):
                out.extend(slot.on_offer(value))
            elif isinstance(value, Withdrawal):
                out.extend(slot.on_withdrawal(value))
            elif value.type == "sms_reply":
                out.extend(slot.on_reply(value))
            else:  # a remind / lapse / reply_check wake from the offer calendar
                out.extend(slot.on_timer(value.type, value.occurred_on))
            _with_cause(out, first, value)
        if (now_open := _is_open(slot)) != was_open:  # offered, or settled
            metrics.state_size(metrics.OPEN_OFFERS).inc(1 if now_open else -1)
        # A settled offer's slot goes once its expiry timer says nothing more can happen.
        return out, StatefulBatchLogic.DISCARD if slot.done else StatefulBatchLogic.RETAIN

    def snapshot(self) -> OfferSlot:
        s = self.slot
        return OfferSlot(s.offer, s.status, s.reminded, s.answered_by, list(s.held), set(s.seen_replies),
                         list(s.early_timers), s.checked_until, s.done)
