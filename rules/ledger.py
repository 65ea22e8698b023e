"""The rights ledger (rules.md §5a): each recipient's rights kept in line with the state.

One ``Ledger`` per recipient (``state.rights``). It receives, from whichever family the
recipient or a ground person lives in, fresh decisions (``NewRight``, ``NewNotice``) and the
digests their conditions read (``PersonSeen``, ``FamilySeen``), and on 1 January a ``Reprice``.
It answers with what the offer stage must do:

- a fresh occasion not yet issued to this recipient (in any family) is offered (``OfferOut``)
  or notified (``NoticeOut``): one occasion, one notification, across moves;
- the same occasion decided again with new terms (a re-examination in the same disability
  episode, a higher mother's award) is a ``Revise``: never two running benefits of one code for
  one ground;
- after any digest or view it reads, each live right's condition (``rules.conditions``) is
  evaluated on the cause's date: a right that stops holding gets an ``End`` (its offer
  withdrawn or its benefit closed, ``end_month`` the month of the cause; ``late`` when the
  cause is a late record or dates before the start), new terms a ``Revise`` from the month
  after the change; an older cause never re-prices backwards;
- a change of the recipient's phone, language or bank account is a ``Contact`` for each of
  their live rights (payments and replies read it then).

Engine-free; ``flows.stages.LedgerLogic`` is its shell (it encodes the records and timers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rules.conditions import REPRICED, Verdict, verdict
from rules.decisions import Decision
from rules.params import Params
from state import dates
from state.dates import Day
from state.offers import Contact, End, Keep
from state.rights import (
    Cause,
    Digest,
    FamilySeen,
    FamilyView,
    Ledger,
    NewNotice,
    NewRight,
    NoticeOut,
    OfferOut,
    PersonSeen,
    Reprice,
    Right,
)

__all__ = ["LedgerLogic", "LedgerOutput", "RevisePlan"]

DEDUP_DAYS = 400  # issued ids are remembered this long after they were issued (except live rights)


@dataclass(slots=True, frozen=True)
class RevisePlan:
    """New terms for ``right``; the shell builds the renewed offer's record (for an open offer)
    and the ``Revise`` command from it."""

    right: Right
    amount: int | None
    end_month: int | None
    from_month: int
    reason: str
    cause: Cause
    annual: bool


LedgerOutput = OfferOut | NoticeOut | RevisePlan | End | Keep | Contact


@dataclass(slots=True)
class _View:
    """``rules.conditions.View`` over one ledger."""

    ledger: Ledger
    iin: str = field(init=False)

    def __post_init__(self) -> None:
        self.iin = self.ledger.iin

    def person(self, iin: str) -> Digest | None:
        return self.ledger.persons.get(iin)

    def family(self, family_id: str | None) -> FamilyView | None:
        return None if family_id is None else self.ledger.families.get(family_id)


def _merge(ledger: Ledger, d: Digest) -> tuple[Digest | None, Digest]:
    """Keep the newest card of a person (``version``), and their guardian as the family they
    live in last said it. Returns (what the ledger had, what it has now)."""
    old = ledger.persons.get(d.iin)
    new = d
    if old is not None:
        if d.version < old.version:
            new = old
        elif not d.guardian_known and old.guardian_known and old.family_id == d.family_id:
            new = _with_guardian(d, old.guardian)
    ledger.persons[d.iin] = new
    return old, new


def _with_guardian(d: Digest, guardian: str | None) -> Digest:
    from dataclasses import replace

    return replace(d, guardian=guardian, guardian_known=True)


class LedgerLogic:
    """The ledger's decisions under one policy's parameters."""

    def __init__(self, params: Params) -> None:
        self.params = params

    def on_item(self, iin: str, ledger: Ledger | None, item: Any) -> tuple[Ledger | None, list[LedgerOutput]]:
        if isinstance(item, NewRight):
            ledger = ledger or Ledger(iin)
            out = self._new_right(ledger, item)
        elif isinstance(item, NewNotice):
            ledger = ledger or Ledger(iin)
            out = self._new_notice(ledger, item)
        elif ledger is None:
            return None, []  # a digest for someone who holds no right: nothing reads it
        elif isinstance(item, PersonSeen):
            out = self._seen(ledger, item)
        elif isinstance(item, FamilySeen):
            out = self._family(ledger, item)
        elif isinstance(item, Reprice):
            out = self._reprice(ledger, item)
        else:
            raise TypeError(f"not a ledger input: {item!r}")
        return self._pruned(ledger, item), out

    # -- fresh decisions -------------------------------------------------------------------------

    def _new_right(self, ledger: Ledger, item: NewRight) -> list[LedgerOutput]:
        d: Decision = item.decision
        nid = d.notification_id
        for g in item.digests:
            _merge(ledger, g)
        if item.view is not None:
            ledger.families[item.view.family_id] = item.view
        right = ledger.rights.get(nid)
        if right is not None:
            return self._decided_again(ledger, right, item)
        if nid in ledger.issued:
            return []  # one occasion, one offer: already offered to this recipient, and settled
        right = Right(nid, d.code, d.occasion, item.grounds, dict(item.facts), d.amount_kzt, d.period or "",
                      d.start_month, d.end_month, d.occurred_on, d.issued_on, d.reply_by or d.issued_on,
                      item.family_id, d)
        ledger.issued[nid] = d.issued_on
        ledger.rights[nid] = right
        v = verdict(right, _View(ledger), d.occurred_on, self.params)
        if not v.holds:
            right.ended = True  # the decision's own family saw it hold; the ledger knows better (a newer card)
            return []
        me = ledger.persons.get(ledger.iin)
        out: list[LedgerOutput] = [OfferOut(right, me.phone if me else None, me.language if me else "kk",
                                            me.iban if me else None, item.cause)]
        if right.code in REPRICED and dates.to_date(item.cause.recorded_on).year > dates.to_date(d.occurred_on).year:
            # decided on an event of last year, issued in this one: the year's amount from January
            out += self._recheck(ledger, right, item.cause.recorded_on, item.cause, annual=True)
        return out

    def _decided_again(self, ledger: Ledger, right: Right, item: NewRight) -> list[LedgerOutput]:
        """The same occasion decided again (a re-examination of the same disability episode, a
        higher award): the right takes the new terms; a replayed event changes nothing."""
        d: Decision = item.decision
        if right.ended or d.occurred_on < right.as_of:
            return []
        right.facts = {**right.facts, **dict(item.facts)}
        if d.amount_kzt == right.amount and d.end_month == right.end_month:
            right.decision = d
            return []
        right.amount, right.end_month, right.as_of, right.decision = d.amount_kzt, d.end_month, d.occurred_on, d
        return [RevisePlan(right, d.amount_kzt, d.end_month, dates.month_of(d.occurred_on) + 1,
                           f"new terms: {d.reasons[0] if d.reasons else d.occasion}", item.cause, False)]

    def _new_notice(self, ledger: Ledger, item: NewNotice) -> list[LedgerOutput]:
        d: Decision = item.decision
        nid = d.notification_id
        if nid in ledger.issued:
            return []
        ledger.issued[nid] = d.issued_on
        phone, language = item.contact
        return [NoticeOut(d, phone, language, item.family_id, item.cause)]

    # -- what conditions read --------------------------------------------------------------------

    def _seen(self, ledger: Ledger, item: PersonSeen) -> list[LedgerOutput]:
        d = item.digest
        if d.iin not in ledger.watched():
            return []
        old, new = _merge(ledger, d)
        out: list[LedgerOutput] = []
        on = item.cause.occurred_on
        if d.iin == ledger.iin and old is not None and (old.phone, old.language, old.iban) != \
                (new.phone, new.language, new.iban):
            out += [Contact(r.nid, new.phone, new.language, new.iban, on, item.cause.event)
                    for r in ledger.rights.values() if not r.ended]
        for right in list(ledger.rights.values()):
            if not right.ended and (d.iin == ledger.iin or d.iin in right.grounds):
                out += self._recheck(ledger, right, on, item.cause)
        return out

    def _family(self, ledger: Ledger, item: FamilySeen) -> list[LedgerOutput]:
        view = item.view
        if not any(r.code == "large_family_benefit" and not r.ended for r in ledger.rights.values()):
            return []
        ledger.families[view.family_id] = view
        out: list[LedgerOutput] = []
        for right in list(ledger.rights.values()):
            if right.code == "large_family_benefit" and not right.ended:
                out += self._recheck(ledger, right, item.cause.occurred_on, item.cause)
        return out

    def _reprice(self, ledger: Ledger, item: Reprice) -> list[LedgerOutput]:
        cause = Cause(item.on, item.on, False, item.event)
        out: list[LedgerOutput] = []
        for right in list(ledger.rights.values()):
            if not right.ended and right.code in REPRICED and right.period == "monthly":
                out += self._recheck(ledger, right, item.on, cause, annual=True)
        return out

    def _recheck(self, ledger: Ledger, right: Right, on: Day, cause: Cause, annual: bool = False) -> list[LedgerOutput]:
        if right.period == "one_time" and on > right.reply_by:
            return []  # paid or lapsed: nothing follows a one-time payment's offer
        if right.end_month is not None and right.end_month < dates.month_of(on) and not annual:
            return []  # over by itself before this cause
        if right.settling is not None and on > right.settling:
            right.ended = True  # its day is over: the waiting end took effect at the offer stage
            return []
        v: Verdict = verdict(right, _View(ledger), on, self.params)
        if not v.holds:
            month = dates.month_of(on)
            late = cause.late or (right.start_month is not None and month < right.start_month)
            if v.settles and not cause.late:
                if right.settling is not None:
                    return []
                right.settling = on
                return [End(right.nid, v.reason, on, cause.recorded_on, month, late, cause.event,
                            settle_on=_day_end(cause))]
            right.ended, right.settling = True, None
            return [End(right.nid, v.reason, on, cause.recorded_on, month, late, cause.event)]
        if right.settling is not None:
            right.settling = None  # together again the same day: the waiting end is void
            return [Keep(right.nid, cause.event), *self._recheck(ledger, right, on, cause, annual)]
        if on < right.as_of:
            return []  # an older cause never re-prices backwards
        amount = right.amount if v.amount is None else v.amount
        end = v.end_month if v.end_known else right.end_month
        if amount == right.amount and end == right.end_month:
            return []
        right.amount, right.end_month, right.as_of = amount, end, on
        month = dates.month_of(on)
        return [RevisePlan(right, amount, end, month if annual else month + 1,
                           "the year's amounts" if annual else v.reason or "the family's situation changed",
                           cause, annual)]

    # -- bounds ------------------------------------------------------------------------------

    def _pruned(self, ledger: Ledger, item: Any) -> Ledger | None:
        """Drop what nothing reads any more; None when the recipient has nothing left."""
        today = _today(item)
        if today is None:
            return ledger
        month = dates.month_of(today)
        for nid, r in list(ledger.rights.items()):
            over = r.ended or (r.period == "one_time" and today > r.reply_by + 31) or (
                r.end_month is not None and r.end_month < month - 1)
            if over:
                del ledger.rights[nid]
        if len(ledger.issued) > 8:
            cutoff = today - DEDUP_DAYS
            ledger.issued = {nid: d for nid, d in ledger.issued.items() if d >= cutoff or nid in ledger.rights}
        watched = ledger.watched()
        if len(ledger.persons) > len(watched):
            ledger.persons = {k: v for k, v in ledger.persons.items() if k in watched}
        me = ledger.persons.get(ledger.iin)
        if ledger.families:
            keep = {me.family_id} if me is not None else set(ledger.families)
            ledger.families = {k: v for k, v in ledger.families.items() if k in keep}
        if not ledger.rights and not ledger.issued:
            return None
        return ledger


def _day_end(cause: Cause) -> Day:
    """The day whose end settles a cause: the day the flow processes it (its record's day, or
    the first day not yet ticked when the record came after its day's tick)."""
    event = cause.event
    open_day = event.open_day if event is not None else None
    return cause.recorded_on if open_day is None else max(cause.recorded_on, open_day)


def _today(item: Any) -> Day | None:
    if isinstance(item, Reprice):
        return item.on
    cause = getattr(item, "cause", None)
    return cause.recorded_on if isinstance(cause, Cause) else None
