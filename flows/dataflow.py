"""The eligibility dataflow, step by step as the data walks:

    read → decode → route → person (keyed by IIN) → family (keyed by family_id) → write

``decode`` validates every message once (bad ones go to dead letters); ``route`` sends each
life event to its subject's person slot, and a birth also to the mother's and father's
slots (their cards count the children); the person stage applies facts and forwards member
updates; the family stage folds them into the family card, runs the rules and writes
notifications. All domain logic lives in ``state/`` and ``rules/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import bytewax.operators as op
import orjson
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic, StatefulLogic
from bytewax.outputs import Sink

from flows import metrics
from rules import Context, Params, evaluate, load_params
from schemas.codec import DeadLetter, RawMessage, dead_letter_record, decode, notification_record
from state.events import Event
from state.family import FamilyCard, MemberUpdate, apply_update
from state.person import ROLE_FATHER, ROLE_MOTHER, ROLE_SUBJECT
from state.person_stage import PersonOutput, PersonSlot, Rejection

__all__ = ["Outputs", "build_flow"]

Keyed = tuple[str, Any]


@dataclass(frozen=True, slots=True)
class Outputs:
    """Where each output stream goes; sinks receive ``(key, json_bytes)`` items."""

    notifications: Sink[Any]
    dead_letters: Sink[Any]


# --- decode -----------------------------------------------------------------------------

def decode_counted(raw: RawMessage) -> Event | DeadLetter:
    result = decode(raw)
    if isinstance(result, DeadLetter):
        metrics.child(metrics.INPUT, raw.topic, result.event_type or "unknown").inc()
        metrics.child(metrics.DEAD_LETTERS, result.code).inc()
    else:
        metrics.child(metrics.INPUT, raw.topic, result.type).inc()
    return result


def dead_letter_out(dl: DeadLetter) -> Keyed:
    return ("", orjson.dumps(dead_letter_record(dl.origin, dl.code, dl.message, dl.path)))


# --- route ------------------------------------------------------------------------------

def route(event: Event) -> list[tuple[str, tuple[Event, str]]]:
    """Key each life event by the IINs whose cards it changes."""
    if event.type == "day" or event.type == "sms_reply":
        return []  # consumed by date-driven rules and the consent loop (later stages)
    out = [(event.subject, (event, ROLE_SUBJECT))]
    if event.type in ("birth", "person_registered"):
        mother, father = event.data.get("mother_iin"), event.data.get("father_iin")
        if mother:
            out.append((mother, (event, ROLE_MOTHER)))
        if father:
            out.append((father, (event, ROLE_FATHER)))
    return out


# --- person stage -----------------------------------------------------------------------

class PersonLogic(StatefulLogic[tuple[Event, str], PersonOutput, PersonSlot]):
    """Holds one person's slot; the card is immutable, so a snapshot copies only the held list."""

    def __init__(self, resume: PersonSlot | None, late_record_days: int) -> None:
        self.slot = resume
        self.late_record_days = late_record_days

    def on_item(self, value: tuple[Event, str]) -> tuple[Iterable[PersonOutput], bool]:
        event, role = value
        if self.slot is None:
            iin = event.subject if role == ROLE_SUBJECT else event.data[f"{role}_iin"]
            self.slot = PersonSlot.empty(iin)
        out = self.slot.on_event(event, role, self.late_record_days)
        if role == ROLE_SUBJECT and not self.slot.card.registered:
            metrics.HELD.inc()
        if role == ROLE_SUBJECT and event.delay_days > self.late_record_days:
            metrics.LATE.inc()
        return out, StatefulLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[PersonOutput], bool]:
        if self.slot is None:
            return [], StatefulLogic.RETAIN
        return self.slot.held_rejections(), StatefulLogic.RETAIN

    def snapshot(self) -> PersonSlot:
        assert self.slot is not None
        return PersonSlot(self.slot.card, list(self.slot.held))


def rejection_out(r: Rejection) -> Keyed:
    metrics.child(metrics.DEAD_LETTERS, r.code).inc()
    assert r.event.origin is not None
    return ("", orjson.dumps(dead_letter_record(r.event.origin, r.code, r.message, r.path)))


# --- family stage -----------------------------------------------------------------------

_ROLE_ORDER = {ROLE_SUBJECT: 0, ROLE_MOTHER: 1, ROLE_FATHER: 2}


def source_order(update: MemberUpdate) -> tuple[int, int]:
    event = update.event
    seq = event.origin.seq if isinstance(event, Event) and event.origin is not None else 0
    return seq, _ROLE_ORDER.get(update.role, 3)


class FamilyLogic(StatefulBatchLogic[MemberUpdate, Keyed, FamilyCard]):
    """Folds member updates into the family card and runs the rules on those that fire.

    Bytewax hands a stateful step each batch grouped by key, so updates that different
    persons' slots emitted for this family arrive in no particular order. Sorting each batch
    by source sequence restores the order in which the registries' events were read.
    """

    def __init__(self, resume: FamilyCard | None, params: Params) -> None:
        self.family = resume
        self.params = params

    def on_batch(self, values: list[MemberUpdate]) -> tuple[Iterable[Keyed], bool]:
        if len(values) > 1:
            values = sorted(values, key=source_order)
        out: list[Keyed] = []
        for update in values:
            out.extend(self.on_update(update))
        return out, StatefulBatchLogic.RETAIN

    def on_update(self, update: MemberUpdate) -> list[Keyed]:
        if self.family is None:
            self.family = FamilyCard(update.family_id)
        family = apply_update(self.family, update)
        out: list[Keyed] = []
        event, card = update.event, update.card
        if update.fire and isinstance(event, Event) and card is not None:
            ctx = Context(event, update.role, card, family, self.params)
            for decision in evaluate(ctx):
                nid = decision.notification_id
                if nid in family.issued:
                    continue  # one occasion, one offer
                family.issued.add(nid)
                recipient = family.members.get(decision.recipient) or (card if card.iin == decision.recipient else None)
                record = notification_record(decision, recipient, family.family_id)
                metrics.child(metrics.NOTIFICATIONS, decision.code, decision.kind).inc()
                out.append((decision.recipient, orjson.dumps(record)))
        if card is not None and not card.alive:
            family.members.pop(card.iin, None)  # only living members count; keep state bounded
        return out

    def snapshot(self) -> FamilyCard:
        assert self.family is not None
        f = self.family
        return FamilyCard(f.family_id, dict(f.members), set(f.issued))


# --- the flow ---------------------------------------------------------------------------

def build_flow(source: Source[RawMessage], outputs: Outputs, params: Params | None = None,
               name: str = "familycard") -> Dataflow:
    params = params or load_params()
    late = params.scalar_int("late_record_days")
    flow = Dataflow(name)
    raw = op.input("read", flow, source)
    decoded = op.map("decode", raw, decode_counted)
    valid = op.branch("valid", decoded, lambda x: isinstance(x, Event))
    bad = op.map("bad_input", valid.falses, dead_letter_out)

    routed = op.flat_map("route", valid.trues, route)
    person_out = op.stateful("person", routed, lambda resume: PersonLogic(resume, late))
    accepted = op.branch("accepted", person_out, lambda kv: isinstance(kv[1], MemberUpdate))
    rejected = op.map("rejected", accepted.falses, lambda kv: rejection_out(kv[1]))

    by_family = op.map("by_family", accepted.trues, lambda kv: (kv[1].family_id, kv[1]))
    notifications = op.stateful_batch("family", by_family, lambda resume: FamilyLogic(resume, params))
    notification_items = op.map("unkey", notifications, lambda kv: kv[1])

    op.output("write_notifications", notification_items, outputs.notifications)
    op.output("write_dead_letters", op.merge("dead", bad, rejected), outputs.dead_letters)
    return flow

