"""What the family stage does with one member update: fold it, decide, and tell the ledgers.

This is the family stage's domain logic, engine-free (``flows.stages.FamilyLogic`` is only its
shell, and ``familycard load`` asks ``fires`` of every load message). For each update it

1. folds the member's card into the family card (``state.family.apply_update``), keeping a
   member who leaves or dies by a fresh event as a *former* member for a while (targeted
   assistance is judged as of a quarter's first day);
2. when the update may fire rules (``fires``), evaluates them: every decision is a fresh
   occasion for its recipient's **rights ledger** (``NewRight``, ``NewNotice``); the ledger,
   keyed by recipient, keeps one notification per occasion across families;
3. sends the ledgers what the conditions of existing rights read (rules.md §5a: a right is a
   condition over the state): the person's ``Digest`` when the card changed in a field a
   condition reads, or when a date changed what it means (turning 18, a ruling's expiry), and
   the digests of children whose guardian changed, and the family's ``FamilyView`` when its
   children or its large-family recipient changed. Addressed to whoever *could* hold a right
   grounded in it (the person, their parents, their guardian before and after; the large-family
   recipient before and after, and adults who join or leave): the family cannot know which
   ledgers hold rights, and a ledger drops what none of its rights reads.

Outputs are ``(ledger key, item)`` pairs and ``Rejection``s (a rule that raised).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rules.common import guardian_of
from rules.decisions import OFFER, Decision
from rules.engine import Context, evaluate, has_rules
from rules.family_benefits import mother_of_most
from rules.params import Params
from state.events import RETIREMENT_AGE, RULING_EXPIRED, TURNS_18, Event
from state.family import FamilyCard, MemberUpdate, apply_update, prune_former
from state.person import ROLE_SUBJECT, PersonCard
from state.person_slot import Rejection
from state.rights import Cause, FamilySeen, FamilyView, NewNotice, NewRight, PersonSeen, cause_of, digest_of

__all__ = ["FamilyFold", "fires", "FoldOutput", "family_view", "guardians", "STATE_SHAPING"]

# Parameters that shape the state or the calendar, not only the rules' numbers: the person
# stage (late_record_days, adult_age_years), timers (kandas_notice_days, tsa_settle_days,
# retirement_age), and which events may fire (the dated series' first dates). Policies folded
# in one pass (``FamilyFold.variants``) must agree on them.
STATE_SHAPING = frozenset({"late_record_days", "adult_age_years", "kandas_notice_days", "tsa_settle_days",
                           "retirement_age"})

log = logging.getLogger(__name__)

FoldOutput = tuple[str, Any] | Rejection

# Wakes whose date changes what a person's card means to a condition (the card itself does not change).
_DATE_EFFECTS = frozenset({TURNS_18, RULING_EXPIRED, RETIREMENT_AGE})


def fires(update: MemberUpdate, params: Params) -> bool:
    """Whether the family stage runs the rules on ``update`` (else it only folds the card in).

    ``familycard load`` asks the same question of every load message: a bulk load takes only
    facts that fire nothing (rules.md §5), so its state equals the stream's.
    """
    event = update.event
    return (update.fire and isinstance(event, Event)
            and event.occurred_on >= params.in_force_from and has_rules(event.type, update.role))


def _condition_fields(card: PersonCard | None) -> tuple[Any, ...] | None:
    """The fields of a card that some right's condition reads (``state.rights.Digest``)."""
    if card is None:
        return None
    return (card.family_id, card.registered, card.birth, card.died_on, card.mother_iin, card.father_iin, card.ruling,
            card.disabled_before_18, card.employed_since, card.dismissed_on, card.phone, card.language, card.iban)


def guardians(family: FamilyCard, on: Any) -> dict[str, str | None]:
    """Each living member who can ground a right for a carer (a minor, or disabled before 18)
    -> their guardian (rules.md §2) in this family."""
    out: dict[str, str | None] = {}
    for c in family.living():
        if c.registered and (not c.is_adult(on) or c.disabled_before_18):
            g = guardian_of(family, family.get(c.mother_iin), c.father_iin, on)
            out[c.iin] = None if g is None else g.iin
    return out


def family_view(family: FamilyCard, on: Any) -> FamilyView:
    children = family.children(on)
    recipient = mother_of_most(family, children) if children else None
    if recipient is None:
        recipient = family.oldest_adult(on)
    return FamilyView(family.family_id, tuple(sorted(c.iin for c in children)),
                      None if recipient is None else recipient.iin)


@dataclass(slots=True)
class _Before:
    """What the family looked like just before an update (for the digests' "before" side)."""

    card: PersonCard | None
    guardians: dict[str, str | None]
    view: FamilyView


class FamilyFold:
    """The family stage's decisions, with the parameters of one policy (``rules.params``).

    ``variants``: further policies (a what-if's reforms, ``familycard whatif``) evaluated on the
    same family in the same pass: the card is folded once, the rules run once per policy, and
    every output is tagged ``(variant, output)`` (0 = ``params``). The variants must agree on
    what shapes the state (``STATE_SHAPING``): only the rules' numbers differ.
    """

    def __init__(self, params: Params, variants: Sequence[Params] = ()) -> None:
        self.params = params
        self.late_record_days = params.scalar_int("late_record_days")
        self.policies: tuple[Params, ...] = (params, *variants)
        self.tagged = bool(variants)

    def on_update(self, family: FamilyCard, update: MemberUpdate) -> list[FoldOutput]:
        event = update.event
        if not isinstance(event, Event):
            apply_update(family, update)
            return []
        on = event.occurred_on
        firing = fires(update, self.params)
        card = update.card
        old = family.members.get(update.iin)
        relevant = update.role == ROLE_SUBJECT and (
            _condition_fields(old) != _condition_fields(card if card is not None and card.family_id == family.family_id
                                                        else None)
            or (event.type in _DATE_EFFECTS and old is not None))
        # A date effect (an 18th birthday) changes what the unchanged card means from ``on``: the
        # family as it was is the family of the day before.
        then = on - 1 if event.type in _DATE_EFFECTS else on
        before = _Before(old, guardians(family, then), family_view(family, then)) if relevant else None
        children_before = self._children_before(family, update, on) if firing else None

        apply_update(family, update)
        out: list[Any] = []  # FoldOutput, or (variant, FoldOutput) when ``tagged``
        cause = cause_of(event, self.late_record_days)
        if firing:
            for v, params in enumerate(self.policies):
                ctx = Context(event, update.role, card, family, params, children_before)
                decided: list[FoldOutput] = []
                for decision in self._guarded(evaluate, ctx, decided):
                    decided.append(self._new(family, decision, card, cause, on))
                if self.tagged:
                    out.extend((v, o) for o in decided)
                else:
                    out.extend(decided)
            if (old is not None and update.role == ROLE_SUBJECT
                    and (card is None or card.family_id != family.family_id or not card.alive)):
                # a member leaves or dies: still counted for the quarter's assessment as of its first day
                family.former[update.iin] = (card if card is not None and not card.alive else old, on)
            prune_former(family, on)
        if before is not None:
            seen = list(self._digests(family, update, before, cause, on))
            if self.tagged:  # what the conditions read is the same under every policy
                out.extend((v, o) for v in range(len(self.policies)) for o in seen)
            else:
                out.extend(seen)
        if card is not None and not card.alive:
            family.members.pop(card.iin, None)  # only living members count; keep state bounded
        return out

    # -- decisions ----------------------------------------------------------------------------

    @staticmethod
    def _children_before(family: FamilyCard, update: MemberUpdate, on: Any) -> int:
        """Children before the update, not counting those who joined on the event's date (by a
        registration, a birth or a move): the day's arrivals count as "after" in any order."""
        return sum(1 for c in family.children(on) if c.iin != update.iin and c.family_since < on)

    def _new(self, family: FamilyCard, decision: Decision, card: PersonCard | None, cause: Cause, on: Any) -> FoldOutput:
        """A fresh decision, for its recipient's ledger, with the digests of its grounds."""
        recipient = family.members.get(decision.recipient)
        if recipient is None and card is not None and card.iin == decision.recipient:
            recipient = card
        if decision.kind != OFFER:
            return decision.recipient, NewNotice(decision, _contact(recipient), family.family_id, cause)
        gmap = guardians(family, on)
        persons = [recipient, *(family.members.get(g) or (card if card is not None and card.iin == g else None)
                                for g in decision.grounds)]
        digests = tuple(digest_of(p, gmap.get(p.iin), True) for p in persons if p is not None)
        view = family_view(family, on) if decision.code == "large_family_benefit" else None
        return decision.recipient, NewRight(decision, decision.grounds, dict(decision.facts), digests, view,
                                            family.family_id, cause)

    def _digests(self, family: FamilyCard, update: MemberUpdate, before: _Before, cause: Cause,
                 on: Any) -> Iterable[FoldOutput]:
        """What changed for the conditions of rights, to whoever could hold one (module doc)."""
        after_g = guardians(family, on)
        after_view = family_view(family, on)
        card = update.card
        here = card is not None and card.family_id == family.family_id
        out: list[FoldOutput] = []
        if card is not None:
            d = digest_of(card, after_g.get(card.iin) if here else None, here)
            targets = {card.iin, before.guardians.get(card.iin), after_g.get(card.iin)}
            if card.registered and (not card.is_adult(on) or card.disabled_before_18):
                targets.update((card.mother_iin, card.father_iin))
            out += [(t, PersonSeen(d, cause)) for t in sorted(t for t in targets if t)]
        for iin in sorted(set(before.guardians) | set(after_g)):
            if iin == update.iin or before.guardians.get(iin) == after_g.get(iin):
                continue
            member = family.members.get(iin)
            if member is None:
                continue
            d = digest_of(member, after_g.get(iin), True)
            targets = {before.guardians.get(iin), after_g.get(iin), iin}
            out += [(t, PersonSeen(d, cause)) for t in sorted(t for t in targets if t)]
        if after_view != before.view:
            targets = {before.view.large_recipient, after_view.large_recipient}
            if card is not None and card.registered and card.is_adult(on):
                targets.add(card.iin)  # an adult who joins or leaves: their family's view moves with them
            out += [(t, FamilySeen(after_view, cause)) for t in sorted(t for t in targets if t)]
        return out

    @staticmethod
    def _guarded(fn: Callable[[Context], Iterable[Decision]], ctx: Context, out: list[FoldOutput]) -> list[Decision]:
        """``fn(ctx)``; if a rule raises, dead-letter the event (rule_error) and go on."""
        try:
            return list(fn(ctx))
        except Exception as exc:  # noqa: BLE001 - one event's rule failure must not stop the flow
            event = ctx.event
            log.exception("rule error on %s %s", event.type, event.event_id)
            if event.origin is not None:
                out.append(Rejection(event, "rule_error", f"a rule failed on this event: {exc!r}"))
            return []


def _contact(card: PersonCard | None) -> tuple[str | None, str]:
    return (None, "kk") if card is None else (card.phone, card.language)
