"""The life of one offer (rules.md §5, §5a): open → consented | refused | lapsed | withdrawn,
and a consented monthly benefit → changed … → closed.

One ``OfferSlot`` per offer id (the *base* id, ``state.ids``). It receives the issued offer,
the citizen's SMS replies, the reminder and lapse timers, and the rights ledger's commands
(``Revise``: new terms; ``End``: the right stopped holding; ``Contact``: the recipient's phone or
bank account changed), in any order, and answers with what to write: the offer, a reminder, a
withdrawal, a change notice, ``assignments`` records of kind ``start``, ``change`` and
``close``, an outcome for the funnel, or a rejected reply. Engine-free; ``flows/`` keys it by
offer id.

Consent (contract §1 ``sms_reply``, rules.md §5a): a reply is acted on only when it names the
offer now open (its id or its reminder's; an offer made again at a new amount has a new id),
comes from the recipient's phone as the slot knows it now (a phone changed after the offer
replaces the old number: a reassigned old number cannot answer), is dated on or after the
offer's ``issued_on`` and no later than ``reply_by``, and reads as a consent or a refusal.
Anything else is rejected with its reason and changes nothing. A reply may arrive before its
offer (it travels another path): it is held until the ``reply_check`` timer the day after it
was received, and rejected only then.

What a payment uses is read at payment time: the start record carries the recipient's bank
account as of the consent, and a change of account on a running benefit is a ``change``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from state import dates
from state.dates import Day, Month
from state.events import Event
from state.ids import REMINDER_TAG, base_of, derived

__all__ = [
    "IssuedOffer", "Revise", "End", "Keep", "Contact", "OfferSlot", "SETTLE", "expiry_days", "EXPIRE", "REMIND", "LAPSE", "REPLY_CHECK",
    "OfferOutput", "Outcome", "ReplyRejected", "Reminder", "WithdrawalNotice", "ChangeNotice", "Assignment",
    "CONSENT", "REFUSAL", "OPEN", "CONSENTED", "REFUSED", "LAPSED", "WITHDRAWN", "CLOSED",
    "START", "CHANGE", "CLOSE",
]

CONSENT = frozenset({"1", "иә", "ия", "да", "yes"})
REFUSAL = frozenset({"2", "жоқ", "нет", "no"})

OPEN, CONSENTED, REFUSED, LAPSED, WITHDRAWN, CLOSED = "open", "consented", "refused", "lapsed", "withdrawn", "closed"
START, CHANGE, CLOSE = "start", "change", "close"  # assignments kinds (contract §2)

REMIND = "remind"
LAPSE = "lapse"
REPLY_CHECK = "reply_check"
EXPIRE = "expire"
SETTLE = "settle"  # the day of an End that waits for the day's end is over (End.settle_on)
EXPIRE_AFTER_DAYS = 31  # a settled offer's slot is kept this long for late replies, then dropped


def expiry_days(offer: IssuedOffer) -> list[Day]:
    """When the slot may be dropped: a month after reply_by, and a month after a benefit's end.

    Keeps the offer stage's state bounded: only running benefits outlive their offer.
    """
    out = [offer.reply_by + EXPIRE_AFTER_DAYS]
    if offer.end_month is not None:
        y, m = divmod(offer.end_month + 1, 12)
        out.append(dates.day(f"{y:04d}-{m + 1:02d}-01") + EXPIRE_AFTER_DAYS)
    return out


@dataclass(slots=True, frozen=True)
class IssuedOffer:
    """An offer as decided: what its notification says, and what the consent loop needs later.

    Typed fields, not the wire record: ``schemas.codec.offer_record`` encodes it (the text is
    rendered there from ``code``, ``amount`` and ``reply_by``), so the state holds no text and
    no JSON shape."""

    nid: str                        # this offer's own id (an offer made again at a new amount has its own)
    code: str
    iin: str                        # the recipient
    family_id: str | None
    phone: str | None               # the recipient's phone when it was issued
    language: str
    rule: str
    reasons: tuple[str, ...]
    amount: int | None
    period: str | None
    occurred_on: Day
    issued_on: Day
    reply_by: Day
    start_month: Month | None
    end_month: Month | None
    iban: str | None
    event: Event                    # the trigger (its origin orders this among other inputs)
    remind_on: Day                  # issued_on + reminder_after_days

    @property
    def base(self) -> str:
        """The id of the first offer of this right: the slot's key."""
        return base_of(self.nid) or self.nid

    @property
    def monthly(self) -> bool:
        return self.period == "monthly"


# --- the ledger's commands --------------------------------------------------------------------

@dataclass(slots=True, frozen=True)
class Revise:
    """New terms of a right from ``from_month`` (rules.md §5a "Amounts follow the state").

    An open offer is withdrawn and ``renewal`` offered instead, except for the January
    re-pricing (``annual``), kept for the consent. A running benefit gets a ``change`` record
    (and a ``change`` notice, unless ``annual``)."""

    nid: str
    amount: int | None
    end_month: Month | None
    from_month: Month
    reason: str
    on: Day                         # the cause's recorded day: the notices' issued_on
    annual: bool
    renewal: IssuedOffer | None
    late: bool
    event: Event | None = None


@dataclass(slots=True, frozen=True)
class End:
    """The right's condition stopped holding on ``on`` (the cause's date): withdraw or close.

    ``settle_on``: an end by who lives with whom (``rules.conditions.Verdict.settles``) takes
    effect at the ``SETTLE`` timer of that day, unless a ``Keep`` (the persons are together
    again, later the same day) comes first; None ends at once."""

    nid: str
    reason: str
    on: Day
    recorded_on: Day
    end_month: Month
    late: bool
    event: Event | None = None
    settle_on: Day | None = None


@dataclass(slots=True, frozen=True)
class Keep:
    """The right holds again the same day: the waiting ``End`` is void."""

    nid: str
    event: Event | None = None


@dataclass(slots=True, frozen=True)
class Contact:
    """The recipient's contact as of ``on``: replies and payments use it from then on."""

    nid: str
    phone: str | None
    language: str
    iban: str | None
    on: Day
    event: Event | None = None


# --- what a slot emits ------------------------------------------------------------------

@dataclass(slots=True, frozen=True)
class Outcome:
    offer: IssuedOffer
    outcome: str                    # offered | reminded | consented | refused | lapsed | withdrawn | changed | closed
    on: Day
    reply: Event | None = None      # the reply that settled it (consented / refused)


@dataclass(slots=True, frozen=True)
class Reminder:
    offer: IssuedOffer
    on: Day


@dataclass(slots=True, frozen=True)
class WithdrawalNotice:
    """An open offer withdrawn or a running benefit closed: issued ``on`` (the day its cause was
    recorded, never before the offer), about a change that ``occurred`` (the cause's own date)."""

    offer: IssuedOffer
    reason: str
    on: Day
    occurred: Day | None = None


@dataclass(slots=True, frozen=True)
class ChangeNotice:
    """A running benefit's new terms, information only (contract §2 kind ``change``)."""

    offer: IssuedOffer
    amount: int | None
    from_month: Month
    end_month: Month | None
    reason: str
    on: Day
    seq: int                        # which change of this benefit (ids)


@dataclass(slots=True, frozen=True)
class Assignment:
    """An ``assignments`` record: ``kind`` start (consent), change (new terms from
    ``start_month``) or close (ends with ``end_month``); ``seq`` numbers a benefit's changes."""

    offer: IssuedOffer
    kind: str
    start_month: Month
    end_month: Month | None
    amount: int | None
    iban: str | None
    late: bool = False
    seq: int = 0


@dataclass(slots=True, frozen=True)
class ReplyRejected:
    reply: Event
    reason: str


OfferOutput = IssuedOffer | Outcome | Reminder | WithdrawalNotice | ChangeNotice | Assignment | ReplyRejected


@dataclass(slots=True)
class OfferSlot:
    offer: IssuedOffer | None = None  # the offer now in force (the last renewal)
    status: str = OPEN
    reminded: bool = False
    answered_by: str | None = None  # event_id of the reply that settled it
    held: list[Event] = field(default_factory=list)
    seen_replies: set[str] = field(default_factory=set)
    early_timers: list[tuple[str, Day]] = field(default_factory=list)
    checked_until: Day = 0          # latest reply_check date seen while no offer was known
    done: bool = False              # nothing more can happen: the slot may be discarded
    consented_on: Day | None = None
    # the running terms (after changes) and the recipient's contact as the slot knows it now
    amount: int | None = None
    start_month: Month | None = None
    end_month: Month | None = None
    phone: str | None = None
    iban: str | None = None
    changes: int = 0
    pending: tuple[Month, int | None, Month | None] | None = None  # January's terms, kept for the consent
    early: list[Any] = field(default_factory=list)  # commands that overtook the offer
    settling: End | None = None     # an end waiting for its day's end (End.settle_on)

    def copy(self) -> OfferSlot:
        return OfferSlot(self.offer, self.status, self.reminded, self.answered_by, list(self.held),
                         set(self.seen_replies), list(self.early_timers), self.checked_until, self.done,
                         self.consented_on, self.amount, self.start_month, self.end_month, self.phone, self.iban,
                         self.changes, self.pending, list(self.early), self.settling)

    # -- inputs ---------------------------------------------------------------------------

    def on_offer(self, offer: IssuedOffer) -> list[OfferOutput]:
        if self.offer is not None:
            return []  # the same occasion again: one occasion, one offer
        self.offer = offer
        self.amount = offer.amount
        self.start_month, self.end_month = offer.start_month, offer.end_month
        self.phone, self.iban = offer.phone, offer.iban
        out: list[OfferOutput] = [offer, Outcome(offer, "offered", offer.issued_on)]
        # Replies and timers that overtook the offer, in date order: a reply dated on or
        # before reply_by still counts even if the lapse timer also arrived early.
        pending: list[tuple[Day, int, Any]] = [(r.occurred_on, 0, r) for r in self.held]
        pending += [(on, 1, kind) for kind, on in self.early_timers]
        self.held, self.early_timers = [], []
        for on, _, item in sorted(pending, key=lambda p: (p[0], p[1])):
            out.extend(self._answer(item) if isinstance(item, Event) else self.on_timer(item, on))
        early, self.early = self.early, []
        for command in early:
            out.extend(self.on_command(command))
        return out

    def on_command(self, command: Revise | End | Keep | Contact) -> list[OfferOutput]:
        if self.offer is None:
            self.early.append(command)  # the ledger's command overtook the offer on its way here
            return []
        if isinstance(command, Keep):
            self.settling = None
            return []
        if isinstance(command, End):
            if command.settle_on is not None:
                if self.settling is None:
                    self.settling = command
                return []
            self.settling = None
            return self._end(command)
        if isinstance(command, Revise):
            return self._revise(command)
        return self._contact(command)

    def on_reply(self, reply: Event) -> list[OfferOutput]:
        if reply.event_id in self.seen_replies:
            return [ReplyRejected(reply, "the same reply (event_id) was already processed")]
        self.seen_replies.add(reply.event_id)
        if self.offer is None:
            if reply.occurred_on < self.checked_until:
                # its check already ran (the reply came late down its partition): no offer came
                return [ReplyRejected(reply, "no such offer: in_reply_to names no offer sent")]
            self.held.append(reply)
            return []
        return self._answer(reply)

    def on_timer(self, kind: str, on: Day) -> list[OfferOutput]:
        offer = self.offer
        if offer is not None and self.settling is not None and self.settling.settle_on is not None \
                and on >= self.settling.settle_on and kind in (SETTLE, REMIND, LAPSE):
            # the day of a waiting end is over: it takes effect before any reminder or lapse
            settled, self.settling = self.settling, None
            return self._end(settled) + (self.on_timer(kind, on) if kind != SETTLE else [])
        if kind == SETTLE:
            return []
        if kind == EXPIRE:
            self.done = self._finished(on) and not self.held
            return []
        if kind == REPLY_CHECK:
            if offer is not None:
                return []
            self.checked_until = max(self.checked_until, on)
            due = [r for r in self.held if r.occurred_on < on]
            self.held = [r for r in self.held if r.occurred_on >= on]
            return [ReplyRejected(r, "no such offer: in_reply_to names no offer sent") for r in due]
        if offer is None:
            # The calendar can fire a timer before its offer reaches this slot (a tick for a
            # date already passed when the timer was registered): keep it for the offer.
            self.early_timers.append((kind, on))
            return []
        if self.status != OPEN:
            return []
        if kind == REMIND and not self.reminded and on >= offer.remind_on:
            self.reminded = True
            return [Reminder(offer, on), Outcome(offer, "reminded", on)]
        if kind == LAPSE and on > offer.reply_by:
            self.status = LAPSED
            return [Outcome(offer, "lapsed", on)]
        return []

    def on_eof(self) -> list[OfferOutput]:
        """The input ended: an end waiting for its day's end takes effect (no message of that day
        is left to bring the persons together again); replies still waiting for an offer that
        never came are rejected."""
        out: list[OfferOutput] = []
        if self.offer is not None and self.settling is not None:
            settled, self.settling = self.settling, None
            out += self._end(settled)
        held, self.held = self.held, []
        return out + [ReplyRejected(r, "no such offer: in_reply_to names no offer sent (the input ended)")
                      for r in held]

    def _finished(self, on: Day) -> bool:
        """Settled, and not a benefit still running on ``on``."""
        offer = self.offer
        if offer is None:
            return True
        if self.status == OPEN:
            return False
        if self.status == CONSENTED and offer.monthly:
            return self.end_month is not None and self.end_month < dates.month_of(on)
        return True

    # -- the ledger's commands ------------------------------------------------------------

    def _end(self, e: End) -> list[OfferOutput]:
        offer = self.offer
        assert offer is not None
        on = max(e.recorded_on, offer.issued_on)  # a withdrawal never precedes its offer
        if self.status == OPEN:
            self.status = WITHDRAWN
            return [WithdrawalNotice(offer, e.reason, on, e.on), Outcome(offer, "withdrawn", on)]
        if self.status != CONSENTED:
            return []
        void = self.consented_on is not None and e.on < self.consented_on  # the ground was gone when consent came
        start = self._start()
        if not offer.monthly:
            if not void:
                return []  # paid once: nothing to close
            self.status = CLOSED
            return [WithdrawalNotice(offer, e.reason, on, e.on), self._record(CLOSE, start, start, late=True),
                    Outcome(offer, "closed", on)]
        if not void and self.end_month is not None and self.end_month <= e.end_month:
            return []  # it ends by itself no later than that
        self.status = CLOSED
        end = max(start, e.end_month)
        late = e.late or void or e.end_month < start
        return [WithdrawalNotice(offer, e.reason, on, e.on), self._record(CLOSE, start, end, late=late),
                Outcome(offer, "closed", on)]

    def _revise(self, r: Revise) -> list[OfferOutput]:
        offer = self.offer
        assert offer is not None
        if self.status == OPEN:
            if r.annual or r.renewal is None:
                self.pending = (r.from_month, r.amount, r.end_month)
                return []
            on = max(r.on, offer.issued_on)
            renewal = r.renewal
            self.offer, self.reminded, self.pending = renewal, False, None
            self.amount, self.end_month = renewal.amount, renewal.end_month
            return [WithdrawalNotice(offer, r.reason, on, r.on), Outcome(offer, "withdrawn", on),
                    renewal, Outcome(renewal, "offered", renewal.issued_on)]
        if self.status != CONSENTED or not offer.monthly:
            return []
        return self._change(r.amount, r.end_month, r.from_month, r.reason, r.on, r.annual, r.late)

    def _change(self, amount: int | None, end_month: Month | None, from_month: Month, reason: str, on: Day,
                annual: bool, late: bool = False, iban_only: bool = False) -> list[OfferOutput]:
        offer = self.offer
        assert offer is not None
        start = self._start()
        amount = self.amount if amount is None else amount
        if amount == self.amount and end_month == self.end_month and not iban_only:
            return []
        from_month = max(from_month, start)
        if end_month is not None and end_month < from_month:
            # the new end comes before the new terms would apply: the benefit closes there
            self.status, self.end_month = CLOSED, end_month
            return [WithdrawalNotice(offer, reason, max(on, offer.issued_on), on),
                    self._record(CLOSE, start, max(start, end_month), late=late),
                    Outcome(offer, "closed", max(on, offer.issued_on))]
        self.changes += 1
        self.amount, self.end_month = amount, end_month
        out: list[OfferOutput] = [self._record(CHANGE, from_month, end_month, late=late),
                                  Outcome(offer, "changed", max(on, offer.issued_on))]
        if not annual and not iban_only:
            out.append(ChangeNotice(offer, amount, from_month, end_month, reason, max(on, offer.issued_on),
                                    self.changes))
        return out

    def _contact(self, c: Contact) -> list[OfferOutput]:
        self.phone = c.phone
        if c.iban == self.iban:
            return []
        self.iban = c.iban
        offer = self.offer
        if self.status != CONSENTED or offer is None or not offer.monthly:
            return []
        end = self.end_month
        month = dates.month_of(c.on)
        if end is not None and end <= month:
            return []  # nothing is paid after this month any more
        return self._change(self.amount, end, max(month + 1, self._start()), "bank account changed", c.on,
                            annual=True, iban_only=True)

    def _start(self) -> Month:
        offer = self.offer
        assert offer is not None
        if self.start_month is not None:
            return self.start_month
        return dates.month_of(self.consented_on if self.consented_on is not None else offer.issued_on)

    def _record(self, kind: str, start: Month, end: Month | None, *, late: bool = False) -> Assignment:
        assert self.offer is not None
        return Assignment(self.offer, kind, start, end, self.amount, self.iban, late, self.changes)

    # -- replies --------------------------------------------------------------------------

    def _answer(self, reply: Event) -> list[OfferOutput]:
        offer = self.offer
        assert offer is not None
        text = str(reply.data.get("text", "")).strip().lower()
        phone = reply.data.get("phone")
        named = str(reply.data.get("in_reply_to", ""))
        if named not in (offer.nid, derived(offer.nid, REMINDER_TAG, offer.nid)):
            return [ReplyRejected(reply, f"the offer {named} was replaced by {offer.nid} of "
                                         f"{dates.iso(offer.issued_on)} (a new amount)")]
        if phone != self.phone:
            if phone == offer.phone:
                return [ReplyRejected(reply, "the recipient's phone changed after the offer: replies from the old "
                                             "number are not accepted")]
            return [ReplyRejected(reply, "the reply did not come from the phone the offer was sent to")]
        if self.status != OPEN:
            return [ReplyRejected(reply, f"the offer is no longer open ({self.status})")]
        if reply.occurred_on < offer.issued_on:
            return [ReplyRejected(reply, f"received before the offer was issued on {dates.iso(offer.issued_on)}")]
        if reply.occurred_on > offer.reply_by:
            return [ReplyRejected(reply, f"received after reply_by {dates.iso(offer.reply_by)}")]
        out: list[OfferOutput] = []
        remind_on = offer.remind_on
        if (text in CONSENT or text in REFUSAL) and not self.reminded and reply.occurred_on > remind_on:
            # In event time the reminder went out before this answer; a reply can overtake
            # the reminder's timer on its way here, so send what was due first.
            self.reminded = True
            out += [Reminder(offer, remind_on), Outcome(offer, "reminded", remind_on)]
        if text in CONSENT:
            self.status, self.answered_by, self.consented_on = CONSENTED, reply.event_id, reply.occurred_on
            start = offer.start_month if offer.start_month is not None else dates.month_of(reply.occurred_on)
            self.start_month = start
            end = self.end_month if offer.monthly else start
            out += [self._record(START, start, end), Outcome(offer, "consented", reply.occurred_on, reply)]
            if self.pending is not None and offer.monthly:
                month, amount, end_month = self.pending
                self.pending = None
                out += self._change(amount, end_month, month, "the year's amounts", reply.occurred_on, annual=True)
            return out
        if text in REFUSAL:
            self.status, self.answered_by = REFUSED, reply.event_id
            return out + [Outcome(offer, "refused", reply.occurred_on, reply)]
        return [ReplyRejected(reply, f"unreadable reply text {text[:40]!r}: expected 1/2, иә/жоқ, да/нет, yes/no")]
