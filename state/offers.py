"""The life of one offer (rules.md §5): open → consented | refused | lapsed | withdrawn.

One ``OfferSlot`` per notification id. It receives the issued offer, the citizen's SMS
replies, the reminder and lapse timers and withdrawal requests, in any order, and answers
with what to write: the offer itself, a reminder, a withdrawal, an assignment, an outcome
for the funnel, or a rejected reply. Engine-free; ``flows/`` keys it by notification id.

Security (contract §1, ``sms_reply``): a reply is acted on only when it comes from the
phone the offer was sent to, for an offer still open, dated no later than ``reply_by``,
and reads as a consent or a refusal. Anything else is rejected with its reason and changes
nothing. A reply may arrive before its offer (it travels another path): it is held until
the ``reply_check`` timer the day after it was received, and rejected only then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from state import dates
from state.compact import compact
from state.dates import Day, Month
from state.events import Event

__all__ = [
    "IssuedOffer", "Withdrawal", "OfferSlot", "expiry_days", "EXPIRE", "OfferOutput", "Outcome", "ReplyRejected",
    "Reminder", "WithdrawalNotice", "Assignment", "CONSENT", "REFUSAL", "OPEN",
    "CONSENTED", "REFUSED", "LAPSED", "WITHDRAWN",
]

CONSENT = frozenset({"1", "иә", "ия", "да", "yes"})
REFUSAL = frozenset({"2", "жоқ", "нет", "no"})

OPEN, CONSENTED, REFUSED, LAPSED, WITHDRAWN = "open", "consented", "refused", "lapsed", "withdrawn"

REMIND = "remind"
LAPSE = "lapse"
REPLY_CHECK = "reply_check"
EXPIRE = "expire"
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


@compact
@dataclass(slots=True, frozen=True)
class IssuedOffer:
    """An offer as the family stage decided it, with what the consent loop needs later."""

    record: dict[str, Any]          # the contract's notification record
    start_month: Month | None
    end_month: Month | None
    iban: str | None
    event: Event                    # the trigger (its origin orders this among other inputs)
    remind_on: Day                  # issued_on + reminder_after_days

    @property
    def nid(self) -> str:
        return str(self.record["notification_id"])

    @property
    def reply_by(self) -> Day:
        return dates.day(self.record["reply_by"])

    @property
    def issued_on(self) -> Day:
        return dates.day(self.record["issued_on"])


@compact
@dataclass(slots=True, frozen=True)
class Withdrawal:
    nid: str
    reason: str
    on: Day
    only_if_open: bool
    event: Event


# --- what a slot emits ------------------------------------------------------------------

@compact
@dataclass(slots=True, frozen=True)
class Outcome:
    offer: IssuedOffer
    outcome: str                    # offered | reminded | consented | refused | lapsed | withdrawn
    on: Day
    reply: Event | None = None      # the reply that settled it (consented / refused)


@compact
@dataclass(slots=True, frozen=True)
class Reminder:
    offer: IssuedOffer
    on: Day


@compact
@dataclass(slots=True, frozen=True)
class WithdrawalNotice:
    offer: IssuedOffer
    reason: str
    on: Day


@compact
@dataclass(slots=True, frozen=True)
class Assignment:
    offer: IssuedOffer
    start_month: Month
    end_month: Month | None
    closing: bool = False           # a running benefit closed by a withdrawal


@compact
@dataclass(slots=True, frozen=True)
class ReplyRejected:
    reply: Event
    reason: str


OfferOutput = IssuedOffer | Outcome | Reminder | WithdrawalNotice | Assignment | ReplyRejected


@compact
@dataclass(slots=True)
class OfferSlot:
    offer: IssuedOffer | None = None
    status: str = OPEN
    reminded: bool = False
    answered_by: str | None = None  # event_id of the reply that settled it
    held: list[Event] = field(default_factory=list)
    seen_replies: set[str] = field(default_factory=set)
    early_timers: list[tuple[str, Day]] = field(default_factory=list)
    checked_until: Day = 0          # latest reply_check date seen while no offer was known
    done: bool = False              # nothing more can happen: the slot may be discarded

    # -- inputs ---------------------------------------------------------------------------

    def on_offer(self, offer: IssuedOffer) -> list[OfferOutput]:
        if self.offer is not None:
            return []  # the same occasion again: one occasion, one offer
        self.offer = offer
        out: list[OfferOutput] = [offer, Outcome(offer, "offered", offer.issued_on)]
        # Replies and timers that overtook the offer, in date order: a reply dated on or
        # before reply_by still counts even if the lapse timer also arrived early.
        pending: list[tuple[Day, int, Any]] = [(r.occurred_on, 0, r) for r in self.held]
        pending += [(on, 1, kind) for kind, on in self.early_timers]
        self.held, self.early_timers = [], []
        for on, _, item in sorted(pending, key=lambda p: (p[0], p[1])):
            out.extend(self._answer(item) if isinstance(item, Event) else self.on_timer(item, on))
        return out

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
        if kind == REMIND and not self.reminded:
            self.reminded = True
            return [Reminder(offer, on), Outcome(offer, "reminded", on)]
        if kind == LAPSE and on > offer.reply_by:
            self.status = LAPSED
            return [Outcome(offer, "lapsed", on)]
        return []

    def on_withdrawal(self, w: Withdrawal) -> list[OfferOutput]:
        offer = self.offer
        if offer is None:
            return []
        if self.status == OPEN:
            self.status = WITHDRAWN
            return [WithdrawalNotice(offer, w.reason, w.on), Outcome(offer, "withdrawn", w.on)]
        if self.status == CONSENTED and not w.only_if_open and offer.record["period"] == "monthly":
            end = dates.month_of(w.on)
            if offer.end_month is not None and offer.end_month <= end:
                return []  # it ends by itself no later than that
            self.status = WITHDRAWN
            start = offer.start_month if offer.start_month is not None else dates.month_of(offer.issued_on)
            return [WithdrawalNotice(offer, w.reason, w.on), Assignment(offer, start, max(start, end), closing=True),
                    Outcome(offer, "withdrawn", w.on)]
        return []

    def _finished(self, on: Day) -> bool:
        """Settled, and not a benefit still running on ``on``."""
        offer = self.offer
        if offer is None:
            return True
        if self.status == OPEN:
            return False
        if self.status == CONSENTED and offer.record["period"] == "monthly":
            return offer.end_month is not None and offer.end_month < dates.month_of(on)
        return True

    # -- replies --------------------------------------------------------------------------

    def _answer(self, reply: Event) -> list[OfferOutput]:
        offer = self.offer
        assert offer is not None
        text = str(reply.data.get("text", "")).strip().lower()
        phone = reply.data.get("phone")
        if phone != offer.record.get("phone"):
            return [ReplyRejected(reply, "the reply did not come from the phone the offer was sent to")]
        if self.status != OPEN:
            return [ReplyRejected(reply, f"the offer is no longer open ({self.status})")]
        if reply.occurred_on > offer.reply_by:
            return [ReplyRejected(reply, f"received after reply_by {offer.record['reply_by']}")]
        out: list[OfferOutput] = []
        remind_on = offer.remind_on
        if (text in CONSENT or text in REFUSAL) and not self.reminded and reply.occurred_on > remind_on:
            # In event time the reminder went out before this answer; a reply can overtake
            # the reminder's timer on its way here, so send what was due first.
            self.reminded = True
            out += [Reminder(offer, remind_on), Outcome(offer, "reminded", remind_on)]
        if text in CONSENT:
            self.status, self.answered_by = CONSENTED, reply.event_id
            start = offer.start_month if offer.start_month is not None else dates.month_of(reply.occurred_on)
            end = offer.end_month if offer.record["period"] == "monthly" else start
            return out + [Assignment(offer, start, end), Outcome(offer, "consented", reply.occurred_on, reply)]
        if text in REFUSAL:
            self.status, self.answered_by = REFUSED, reply.event_id
            return out + [Outcome(offer, "refused", reply.occurred_on, reply)]
        return [ReplyRejected(reply, f"unreadable reply text {text[:40]!r}: expected 1/2, иә/жоқ, да/нет, yes/no")]
