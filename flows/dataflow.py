"""The familycard dataflow, step by step as the data walks:

    read → decode → route ─► person (IIN) ─► family (family_id) ─► ledger (recipient IIN) ─► offers (offer id) ─► write
                       │         ▲                ▲                      ▲        │                 ▲
                       ├─► calendar ─ wakes ──────┘                      │        ├─► offer_calendar ─ wakes ─┘
                       ├─► quarterly wake, to every family shard ┘       │        │
                       ├─► 1 January re-pricing, to every ledger shard ──┘        │
                       └─► sms replies ──────────────────────────────────────────────┘

The person, family and ledger stages are sharded (``flows.shards``): Bytewax sees ``shards``
keys, each holding many people's, families' or recipients' slots.

``decode`` validates every message once (bad ones go to dead letters). ``route`` keys each
message by what it changes and derives timer registrations. ``person`` keeps facts,
``family`` folds member cards, runs the rules on fresh events and tells the ledgers what their
rights' conditions read; the **ledger** keeps each recipient's rights in line with the state
(rules.md §5a: offered, withdrawn, closed, changed); ``offers`` carries each offer through
consent, refusal, reminder, lapse, withdrawal and its running benefit's changes and close.
The calendars turn ``day`` ticks into wakes for exactly the keys due that day. All domain logic
lives in ``state/`` and ``rules/``.

Each stage is one function below (``read_and_route``, ``calendar_stage``, ``person_stage``,
``family_stage``, ``ledger_stage``, ``offer_stage``, ``write``) that adds its steps and returns
its outputs as named streams (``Routed``, ``PersonStreams``, ``LedgerStreams``,
``OfferStreams``); a stage's result type is split by type in that one function, so
``build_flow`` is the diagram above in code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import bytewax.operators as op
import orjson
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.outputs import Sink

from flows import metrics
from flows.citizens import reply_for
from flows.routing import CALENDAR, CALENDAR_ALL, FAMILY, LEDGER, OFFER_CALENDAR, PERSON, PERSON_HELD, Router, due_key
from flows.shards import BROADCAST, BROADCAST_HELD, ShardLogic, StateSettings, shard_of
from flows.stages import (
    CalendarKeyLogic,
    CalendarLogic,
    FamilyLogic,
    Keyed,
    LedgerLogic,
    Notice,
    OfferLogic,
    PersonLogic,
    count_restored_held,
    count_restored_timers,
)
from rules import Params, load_params
from rules.decisions import CHANGE, OFFER, REMINDER, WITHDRAWAL
from rules.family_fold import FamilyFold
from rules.ledger import LedgerLogic as DomainLedger
from schemas.codec import (
    FUTURE_HORIZON_DAYS,
    DeadLetter,
    RawMessage,
    assignment_record,
    change_record,
    dead_letter_record,
    decode,
    offer_record,
    outcome_record,
    reminder_record,
    withdrawal_record,
)
from state.calendar import Timer
from state.events import Event
from state.family import MemberUpdate
from state.offers import (
    Assignment,
    ChangeNotice,
    Contact,
    End,
    IssuedOffer,
    Keep,
    Outcome,
    Reminder,
    ReplyRejected,
    Revise,
    WithdrawalNotice,
)
from state.person import ROLE_SUBJECT
from state.person_slot import PersonSettings, Rejection

__all__ = ["Outputs", "build_flow"]



@dataclass(frozen=True, slots=True)
class Outputs:
    """Where each output stream goes: ``FixedPartitionedSink``s receiving ``(key, json_bytes)`` values."""

    notifications: Sink[Any]
    assignments: Sink[Any]
    dead_letters: Sink[Any]
    outcomes: Sink[Any]


# --- decode -----------------------------------------------------------------------------

def decode_counted(raw: RawMessage, future_horizon_days: int | None = FUTURE_HORIZON_DAYS) -> Event | DeadLetter | None:
    """``raw`` decoded and counted; None for the second phase of a tick that did not decode (its
    first phase carried the dead letter: each input is dead-lettered once)."""
    metrics.mark_started()
    result = decode(raw, future_horizon_days)
    if isinstance(result, DeadLetter):
        if raw.phase == 2:
            return None
        metrics.child(metrics.INPUT, raw.topic, metrics.type_label(result.event_type or "unknown")).inc()
        metrics.child(metrics.DEAD_LETTERS, metrics.code_label(result.code)).inc()
        metrics.child(metrics.ACCOUNTED, "dead_lettered").inc()
    elif raw.phase == 1:
        if result.type == "day":  # a tick is released once every input has passed its date
            metrics.advance_watermark(result.occurred_on)
        if not raw.filled:  # a made-up tick (flows.tick_clock) is no input
            metrics.child(metrics.INPUT, raw.topic, result.type).inc()
            if result.type == "day":
                metrics.child(metrics.ACCOUNTED, "processed").inc()
    return result


def dead_letter_out(dl: DeadLetter) -> tuple[str, bytes, Any]:
    cause = dl.origin if dl.event_type != "day" else None  # the third item: for the latency metrics
    return ("", orjson.dumps(dead_letter_record(dl.origin, dl.code, dl.message, dl.path)), cause)


def rejection_out(r: Rejection) -> tuple[str, bytes, Any]:
    metrics.child(metrics.DEAD_LETTERS, metrics.code_label(r.code)).inc()
    assert r.event.origin is not None
    return ("", orjson.dumps(dead_letter_record(r.event.origin, r.code, r.message, r.path)), metrics.cause(r.event))


# --- encode the offer stage's outputs ---------------------------------------------------

NOTIFICATION, ASSIGNMENT, DEAD, OUTCOME = "notification", "assignment", "dead", "outcome"
BAD_INPUT = "bad_input"  # a destination next to routing's: the dead letter of a message that did not decode


def encode_offer_output(value: Any) -> tuple[str, str, bytes]:
    if isinstance(value, IssuedOffer):
        metrics.child(metrics.NOTIFICATIONS, value.code, OFFER).inc()
        return NOTIFICATION, value.iin, orjson.dumps(offer_record(value))
    if isinstance(value, Reminder):
        metrics.child(metrics.NOTIFICATIONS, value.offer.code, REMINDER).inc()
        return NOTIFICATION, value.offer.iin, orjson.dumps(reminder_record(value.offer, value.on))
    if isinstance(value, WithdrawalNotice):
        metrics.child(metrics.NOTIFICATIONS, value.offer.code, WITHDRAWAL).inc()
        rec = withdrawal_record(value.offer, value.reason, value.on, value.occurred)
        return NOTIFICATION, rec["iin"], orjson.dumps(rec)
    if isinstance(value, ChangeNotice):
        metrics.child(metrics.NOTIFICATIONS, value.offer.code, CHANGE).inc()
        rec = change_record(value)
        return NOTIFICATION, rec["iin"], orjson.dumps(rec)
    if isinstance(value, Assignment):
        metrics.child(metrics.ASSIGNMENTS, value.offer.code).inc()
        return ASSIGNMENT, value.offer.iin, orjson.dumps(assignment_record(value))
    if isinstance(value, Outcome):
        metrics.child(metrics.FUNNEL, value.offer.code, value.outcome).inc()
        if value.outcome in ("consented", "refused"):
            metrics.child(metrics.REPLIES, value.outcome).inc()
            if _is_input(value.reply):  # the reply that settled the offer
                metrics.child(metrics.ACCOUNTED, "processed").inc()
        return OUTCOME, value.offer.iin, orjson.dumps(outcome_record(value))
    assert isinstance(value, ReplyRejected)
    metrics.child(metrics.DEAD_LETTERS, "rejected_reply").inc()
    metrics.child(metrics.REPLIES, "rejected").inc()
    if _is_input(value.reply):
        metrics.child(metrics.ACCOUNTED, "dead_lettered").inc()
    origin = value.reply.origin
    assert origin is not None
    return DEAD, "", orjson.dumps(dead_letter_record(origin, "rejected_reply", value.reason, "in_reply_to"))


def encode_with_cause(item: tuple[Any, Any]) -> tuple[str, str, bytes, Any]:
    """``(dest, key, json, cause origin)`` of an ``(output, cause origin)`` pair of the offer stage."""
    value, origin = item
    return (*encode_offer_output(value), origin)


# --- helpers ----------------------------------------------------------------------------

def _drop_dest(t: tuple[Any, ...]) -> tuple[Any, ...]:
    return t[1:]  # (key, value[, cause origin])


def _select(step: str, up: Stream[Any], dest: str, keyed: Any = _drop_dest) -> tuple[Stream[Any], Stream[Any]]:
    """Split ``(dest, key, value)`` triples: those for ``dest`` as ``keyed(triple)``, and the rest."""
    b = op.branch(f"{step}_split", up, lambda t: t[0] == dest)
    return op.map(f"{step}_keyed", b.trues, keyed), b.falses


def _for_sink(name: str, up: Stream[Any], tag: str = "") -> Stream[Any]:
    """Sinks are single-partition ``FixedPartitionedSink``s and get ``(key, json)`` values."""
    return op.map(f"{name}_for_sink{tag}", up, lambda kv: (name, kv))


def _timed(name: str, up: Stream[Any], tag: str = "") -> Stream[Any]:
    """Right before a sink: observe end-to-end latency from each record's cause, keep ``(key, json)``."""
    return op.map(f"{name}_timed{tag}", up, lambda t: metrics.observe_output(name, t))


def _unkey(step: str, up: Stream[Any]) -> Stream[Any]:
    return op.map(step, up, lambda kv: kv[1])


# --- the flow, stage by stage -------------------------------------------------------------
#
# Each stage is a function that adds its steps to the flow and returns its outputs as named
# streams (the dataclasses below), so ``build_flow`` reads like the diagram in the module doc.
# They are plain functions, not Bytewax ``@operator``s, on purpose: an operator nests its
# steps' ids (``familycard.person.shards``), and the stateful steps' ids are the keys of the
# recovery store and of the dashboards' ``step_id`` label; a refactor must not orphan a
# deployment's state (tests/flows/test_dataflow_shape.py pins them).

SIMULATED = "citizen-simulator"  # origin topic of the embedded simulator's replies (not input)


def _is_input(reply: Event | None) -> bool:
    return reply is not None and reply.origin is not None and reply.origin.topic != SIMULATED


def simulated_reply(item: Keyed) -> list[Keyed]:
    """Embedded mode: a simulated citizen's answer to an issued offer, as an input message.

    It goes through ``decode`` like any SMS, dated by its own ``received_at``; the offer
    stage applies it in event time (see ``state.offers``).
    """
    offer = item[1]
    if not isinstance(offer, IssuedOffer):
        return []
    reply = reply_for(offer_record(offer))
    if reply is None:
        return []
    seq = offer.event.origin.seq if offer.event.origin is not None else 0
    event = decode(RawMessage(SIMULATED, orjson.dumps(reply), reply["phone"].encode(), None, None, None,
                              reply, seq))
    return [(offer.nid, event)] if isinstance(event, Event) else []


@dataclass(frozen=True)
class Routed:
    """What ``read → decode → route`` sends each stage (``flows.routing`` destinations)."""

    to_person: Stream[Any]          # (person shard, (IIN, event or timer registration))
    held_sweep: Stream[Any]         # (person shard, broadcast): the monthly sweep of held facts
    to_calendar: Stream[Any]        # (calendar key, tick or registration)
    calendar_catch_up: Stream[Any]  # (calendar shard, broadcast): the first tick's catch-up
    quarterly: Stream[Any]          # (family shard, broadcast): the quarterly wake
    repricing: Stream[Any]          # (ledger shard, broadcast): the 1 January re-pricing
    to_offer_calendar: Stream[Any]  # (due key, tick)
    replies: Stream[Any]            # (notification id, sms reply)
    bad_input: Stream[Any]          # dead letters of messages that did not decode: (key, json, cause)


def read_and_route(flow: Dataflow, source: Source[RawMessage], router: Router, shards: int,
                   future_horizon_days: int | None) -> Routed:
    """read → decode → route, in one step for decode and route (each Bytewax step costs per item)."""

    def decode_route(raw: RawMessage) -> list[tuple[str, str, Any]]:
        """An event's routes, or its dead letter."""
        result = decode_counted(raw, future_horizon_days)
        if result is None:
            return []
        if isinstance(result, DeadLetter):
            return [(BAD_INPUT, "", result)]
        return router.route(result)

    def broadcast(t: tuple[str, str, Any]) -> tuple[str, Any]:
        return t[1], (BROADCAST, (t[1], t[2]))

    routed = op.flat_map("decode_route", op.input("read", flow, source), decode_route)
    to_person, rest = _select("to_person", routed, PERSON, lambda t: (shard_of(t[1], shards), t[1:]))
    sweep, rest = _select("to_person_shards", rest, PERSON_HELD, lambda t: (t[1], (BROADCAST_HELD, (t[1], t[2]))))
    to_calendar, rest = _select("to_calendar", rest, CALENDAR)
    catch_up, rest = _select("to_calendar_shards", rest, CALENDAR_ALL, broadcast)
    quarterly, rest = _select("to_family_shards", rest, FAMILY, broadcast)
    repricing, rest = _select("to_ledger_shards", rest, LEDGER, broadcast)
    to_offer_calendar, rest = _select("to_offer_calendar", rest, OFFER_CALENDAR)
    bad_b = op.branch("bad_input_split", rest, lambda t: t[0] == BAD_INPUT)
    bad = op.map("bad_input", bad_b.trues, lambda t: dead_letter_out(t[2]))
    replies = op.map("replies_keyed", bad_b.falses, lambda t: (t[1], t[2]))
    return Routed(to_person, sweep, to_calendar, catch_up, quarterly, repricing, to_offer_calendar, replies, bad)


def calendar_stage(routed: Routed, state: StateSettings) -> Stream[Any]:
    """calendar: ticks wake the people due today (birthdays, kandas, ruling expiries); ``(IIN, wake)``."""
    shards = state.shards
    calendar_in = op.merge("calendar_in", op.map("by_calendar_shard", routed.to_calendar,
                                                 lambda kv: (shard_of(kv[0], shards), kv)), routed.calendar_catch_up)
    wakes = op.stateful_batch("calendar_shards", calendar_in,
                              lambda resume: ShardLogic(resume, CalendarKeyLogic, state, None, "calendar",
                                                        count_restored_timers))
    return _unkey("person_wakes", wakes)


@dataclass(frozen=True)
class PersonStreams:
    """The person stage's outputs (``state.person_slot.PersonOutput``, split by type)."""

    updates: Stream[Any]   # (shard, (IIN, MemberUpdate)): a card changed, for its family
    rejected: Stream[Any]  # dead letters (duplicate, unknown_person, ...): (key, json, cause)


def person_stage(routed: Routed, wakes: Stream[Any], settings: PersonSettings, state: StateSettings) -> PersonStreams:
    """person (IIN): deduplicate, apply, tell the family (``state.person_slot``)."""
    shards = state.shards
    person_in = op.merge("person_in", routed.to_person, routed.held_sweep,
                         op.map("as_subject", wakes,
                                lambda kv: (shard_of(kv[0], shards), (kv[0], (kv[1], ROLE_SUBJECT)))))
    out = op.stateful_batch("person_shards", person_in, lambda resume: ShardLogic(
        resume, lambda slot: PersonLogic(slot, settings), state, metrics.PERSONS, "person", count_restored_held))
    accepted = op.branch("accepted", out, lambda kv: isinstance(kv[1], MemberUpdate))
    return PersonStreams(accepted.trues, op.map("rejected", accepted.falses, lambda kv: rejection_out(kv[1])))


def family_stage(updates: Stream[Any], quarterly: Stream[Any], fold: FamilyFold, state: StateSettings) -> Stream[Any]:
    """family (family id): fold member cards, run the rules (``rules.family_fold``). Emits the
    fold's outputs (``FoldOutput``: ``(ledger key, ledger input)`` or a ``Rejection``), each
    tagged ``(policy index, output)`` in a what-if."""
    shards = state.shards
    by_family = op.merge("family_in", op.map("by_family", updates,
                                             lambda kv: (shard_of(kv[1].family_id, shards), (kv[1].family_id, kv[1]))),
                         quarterly)
    return _unkey("family_out", op.stateful_batch("family_shards", by_family, lambda resume: ShardLogic(
        resume, lambda card: FamilyLogic(card, fold), state, metrics.FAMILIES, "family")))


@dataclass(frozen=True)
class LedgerStreams:
    """The ledger stage's outputs: ``flows.stages.LedgerLogic``'s ``Notice | Timer | offer command``
    split by type, and the rule errors the family stage passed through."""

    notices: Stream[Any]       # (recipient IIN, json, cause): notices go straight to notifications
    offer_timers: Stream[Any]  # (due key, Timer): reminders, lapses, expiries, settlements
    to_offers: Stream[Any]     # (notification id, IssuedOffer | Revise | End | Keep | Contact)
    rule_errors: Stream[Any]   # dead letters: (key, json, cause)


def ledger_stage(t: str, decided: Stream[Any], repricing: Stream[Any], ledger: DomainLedger, params: Params,
                 state: StateSettings) -> LedgerStreams:
    """ledger (recipient IIN): issue once, keep each right in line with its condition (``rules.ledger``)."""
    consent_days, reminder_days = params.scalar_int("consent_days"), params.scalar_int("reminder_after_days")
    shards = state.shards
    errors = op.branch(f"rule_errors{t}", decided, lambda x: isinstance(x, Rejection))
    rule_errors = op.map(f"rule_error_out{t}", errors.trues, rejection_out)
    ledger_in = op.merge(f"ledger_in{t}", op.map(f"by_ledger{t}", errors.falses,
                                                 lambda kv: (shard_of(kv[0], shards), (kv[0], kv))), repricing)
    out = _unkey(f"ledger_out{t}", op.stateful_batch(f"ledger_shards{t}", ledger_in, lambda resume: ShardLogic(
        resume, lambda book: LedgerLogic(book, ledger, consent_days, reminder_days), state, metrics.LEDGERS, None)))
    is_notice = op.branch(f"notices{t}", out, lambda x: isinstance(x, Notice))
    notices = op.map(f"notice_out{t}", is_notice.trues, lambda n: (n.recipient, orjson.dumps(n.record), n.cause))
    timers = op.branch(f"offer_timers{t}", is_notice.falses, lambda x: isinstance(x, Timer))
    return LedgerStreams(
        notices=notices,
        offer_timers=op.map(f"offer_timers_keyed{t}", timers.trues, lambda x: (due_key(x.due), x)),
        to_offers=op.map(f"offers_keyed{t}", timers.falses, _by_offer_id),
        rule_errors=rule_errors)


@dataclass(frozen=True)
class OfferStreams:
    """The offer stage's outputs, encoded (``encode_offer_output``) and split by sink:
    each ``(key, json, cause)``."""

    notifications: Stream[Any]
    assignments: Stream[Any]
    outcomes: Stream[Any]
    dead_letters: Stream[Any]


def offer_stage(t: str, rights: LedgerStreams, replies: Stream[Any], to_offer_calendar: Stream[Any],
                simulate_citizens: bool) -> OfferStreams:
    """offer_calendar (due key) and offers (notification id): consent, refusal, reminder, lapse,
    withdrawal, a running benefit's changes and close (``state.offers``)."""
    offer_wakes = _unkey(f"offer_wakes{t}", op.stateful(
        f"offer_calendar{t}", op.merge(f"offer_calendar_in{t}", to_offer_calendar, rights.offer_timers),
        CalendarLogic))
    offers_in = op.merge(f"offers_in{t}", replies, rights.to_offers, offer_wakes)
    if simulate_citizens:
        offers_in = op.merge(f"with_citizens{t}", offers_in,
                             op.flat_map(f"citizens{t}", rights.to_offers, simulated_reply))
    out = _unkey(f"offer_out{t}", op.stateful_batch(f"offers{t}", offers_in, OfferLogic))
    encoded = op.map(f"encode{t}", out, encode_with_cause)
    notifications, rest = _select(f"out_notifications{t}", encoded, NOTIFICATION)
    assignments, rest = _select(f"out_assignments{t}", rest, ASSIGNMENT)
    outcomes, dead = _select(f"out_outcomes{t}", rest, OUTCOME)
    return OfferStreams(notifications, assignments, outcomes, op.map(f"dead_keyed{t}", dead, lambda x: x[1:]))


def write(t: str, outputs: Outputs, rights: LedgerStreams, offers: OfferStreams, *shared_dead: Stream[Any]) -> None:
    """write: each sink's records, with their end-to-end latency observed on the way."""
    notifications = _timed("notifications", op.merge(f"all_notifications{t}", rights.notices, offers.notifications), t)
    op.output(f"write_notifications{t}", _for_sink("notifications", notifications, t), outputs.notifications)
    op.output(f"write_assignments{t}", _for_sink("assignments", _timed("assignments", offers.assignments, t), t),
              outputs.assignments)
    op.output(f"write_outcomes{t}", _for_sink("outcomes", _timed("outcomes", offers.outcomes, t), t), outputs.outcomes)
    dead = _timed("dead_letters", op.merge(f"dead{t}", *shared_dead, rights.rule_errors, offers.dead_letters), t)
    op.output(f"write_dead_letters{t}", _for_sink("dead_letters", dead, t), outputs.dead_letters)


def build_flow(source: Source[RawMessage], outputs: Outputs, params: Params | None = None,
               name: str = "familycard", simulate_citizens: bool = False,
               shards: int | None = None, future_horizon_days: int | None = FUTURE_HORIZON_DAYS,
               variants: Sequence[tuple[Params, Outputs]] = (), state: StateSettings | None = None) -> Dataflow:
    """The flow. ``state``: how the sharded stages hold their state (``flows.shards.StateSettings``:
    shards, packed, seed, snapshots), built once by the command line; ``shards`` overrides its
    count (a recovery directory must always be used with the same number).
    ``future_horizon_days``: records dated further past the flow's day are ``future_date``
    dead letters (``schemas.codec.bounded``); give the source the same.

    ``variants``: a what-if (``familycard whatif``): further policies, each with its own
    outputs, evaluated in the same pass. Read, decode, calendars, persons and the family cards
    are shared; the rules run once per policy in the family stage, and each policy has its own
    ledgers and offers downstream, so each policy's outputs are exactly those of a run with
    its parameters (they must agree on ``rules.family_fold.STATE_SHAPING``)."""
    state = state or StateSettings()
    if shards is not None and shards != state.shards:
        state = StateSettings(shards, state.packed, state.seed, state.snapshots)
    params = params or load_params()
    person_settings = PersonSettings(params.scalar_int("late_record_days"), params.scalar_int("adult_age_years"))
    flow = Dataflow(name)

    routed = read_and_route(flow, source, Router(params, state.shards), state.shards, future_horizon_days)
    wakes = calendar_stage(routed, state)
    persons = person_stage(routed, wakes, person_settings, state)
    decided = family_stage(persons.updates, routed.quarterly, FamilyFold(params, [p for p, _ in variants]), state)
    # ledger → offers → write, once per policy (a what-if has several on the one family stage)
    for v, (p, outs) in enumerate(((params, outputs), *variants)):
        tag = f"_{v}" if v else ""
        mine = op.filter_map(f"policy_{v}", decided, _of_policy(v)) if variants else decided
        rights = ledger_stage(tag, mine, routed.repricing, DomainLedger(p), p, state)
        offers = offer_stage(tag, rights, routed.replies, routed.to_offer_calendar, simulate_citizens)
        write(tag, outs, rights, offers, routed.bad_input, persons.rejected)
    return flow


def _of_policy(v: int) -> Callable[[tuple[int, Any]], Any]:
    """In a what-if, the family stage tags each output with its policy's index."""
    return lambda x: x[1] if x[0] == v else None


def _by_offer_id(x: IssuedOffer | Revise | End | Keep | Contact) -> Keyed:
    return (x.base if isinstance(x, IssuedOffer) else x.nid, x)
