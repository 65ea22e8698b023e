"""What a ledger's decision becomes for the offer stage: the offer, its timers, a renewal.

The rights ledger (``rules.ledger``) decides *that* a right is offered, re-priced or ended;
this module turns those decisions into the offer stage's inputs (``state.offers``): the
``IssuedOffer`` with its reminder, lapse and expiry timers, an ``End`` that waits for its day's
end with its ``SETTLE`` timer, and a ``Revise`` carrying the offer made again at a new amount
(rules.md §5, §5a). Plain domain code: ``flows.stages.LedgerLogic`` only calls it and encodes
the notices; the wire records are ``schemas.codec``'s (``offer_record``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rules.decisions import OFFER, Decision
from rules.ledger import RevisePlan
from state import dates, ids
from state.calendar import Timer
from state.dates import Day
from state.events import Event, processed_tick
from state.offers import EXPIRE, LAPSE, REMIND, SETTLE, Contact, End, IssuedOffer, Keep, Revise, expiry_days
from state.rights import Digest, Ledger, OfferOut, Right

__all__ = ["OfferTerms", "effects", "offered", "renewed", "with_timers"]


@dataclass(slots=True, frozen=True)
class OfferTerms:
    """The offer windows (``rules/parameters.json``: ``consent_days``, ``reminder_after_days``)."""

    consent_days: int
    reminder_days: int


def offered(right: Right, phone: str | None, language: str, iban: str | None, event: Event | None,
            terms: OfferTerms) -> IssuedOffer:
    """A fresh right's offer, on the terms its decision was made with."""
    d: Decision = right.decision
    assert d.kind == OFFER and d.reply_by is not None, d
    return IssuedOffer(d.notification_id, d.code, d.recipient, right.family_id, phone, language, d.rule,
                       tuple(d.reasons), d.amount_kzt, d.period, d.occurred_on, d.issued_on, d.reply_by,
                       right.start_month, right.end_month, iban, _event_or_tick(event, d.issued_on),
                       d.issued_on + terms.reminder_days)


def renewed(right: Right, plan: RevisePlan, me: Digest | None, terms: OfferTerms) -> IssuedOffer:
    """rules.md §5a: an open offer whose amount changed, offered again at the new amount: its own
    id (naming the first offer's), a new reply window, the recipient's contact as known now."""
    d: Decision = right.decision
    cause = plan.cause
    issued = max(cause.recorded_on, right.issued_on)
    reply_by = issued + terms.consent_days
    nid = ids.derived(right.nid, ids.RENEWAL_TAG, f"{dates.iso(issued)}:{plan.amount}")
    reasons = (plan.reason, f"offered again at a new amount: replaces offer {right.nid} of "
                            f"{dates.iso(d.issued_on)}", *d.reasons)[:50]
    return IssuedOffer(nid, d.code, d.recipient, right.family_id, me.phone if me else None,
                       me.language if me else "kk", d.rule, reasons, plan.amount, d.period, d.occurred_on,
                       issued, reply_by, right.start_month, right.end_month, me.iban if me else None,
                       _event_or_tick(cause.event, issued), issued + terms.reminder_days)


def with_timers(offer: IssuedOffer, terms: OfferTerms) -> list[Any]:
    """The offer and the timers of its slot (``offer.base``, the right's first offer id, which a
    renewal names): reminder, lapse, and the slot's expiries."""
    issued, nid = offer.issued_on, offer.base
    return [offer, Timer(issued + terms.reminder_days, nid, REMIND),
            Timer(issued + terms.consent_days + 1, nid, LAPSE),
            *(Timer(day, nid, EXPIRE) for day in expiry_days(offer))]


def effects(d: Any, ledger: Ledger | None, terms: OfferTerms) -> list[Any]:
    """What the offer stage receives for one of the ledger's decisions other than a notice."""
    if isinstance(d, OfferOut):
        return with_timers(offered(d.right, d.phone, d.language, d.iban, d.cause.event, terms), terms)
    if isinstance(d, RevisePlan):
        return _revise(d, ledger, terms)
    if isinstance(d, End) and d.settle_on is not None:
        return [d, Timer(d.settle_on, d.nid, SETTLE)]  # fires at that day's (phase 2) tick
    assert isinstance(d, (End, Keep, Contact)), d
    return [d]


def _revise(plan: RevisePlan, ledger: Ledger | None, terms: OfferTerms) -> list[Any]:
    right, cause = plan.right, plan.cause
    renewal = None
    timers: list[Any] = []
    if not plan.annual:  # the January re-pricing is kept for the consent, not offered again
        me = ledger.persons.get(ledger.iin) if ledger is not None else None
        renewal, *timers = with_timers(renewed(right, plan, me, terms), terms)
    return [Revise(right.nid, plan.amount, plan.end_month, plan.from_month, plan.reason, cause.recorded_on,
                   plan.annual, renewal, cause.late, cause.event), *timers]


def _event_or_tick(event: Event | None, on: Day) -> Event:
    return event if event is not None else processed_tick(on)
