"""What a rule returns: a decision with its reasons, before it becomes a wire record."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from state.dates import Day, Month
from state.ids import offer_id

__all__ = ["Decision", "notification_id", "derived_id", "OFFER", "NOTICE", "REMINDER", "WITHDRAWAL", "CHANGE", "KINDS"]

# The notification kinds of contract §2, named once.
OFFER = "offer"
NOTICE = "notice"
REMINDER = "reminder"
WITHDRAWAL = "withdrawal"
CHANGE = "change"
KINDS = (OFFER, NOTICE, REMINDER, WITHDRAWAL, CHANGE)


def notification_id(recipient: str, code: str, occasion: str, kind: str = OFFER) -> str:
    """A pure function of (recipient, code, occasion[, kind]): replays can never mint a second id."""
    basis = f"{recipient}|{code}|{occasion}" if kind in (OFFER, NOTICE) else f"{recipient}|{code}|{occasion}|{kind}"
    return offer_id(basis)


def derived_id(prefix: str, base_id: str, what: str) -> str:
    """An id for something that follows from one offer (its reminder, withdrawal, assignment)."""
    return prefix + hashlib.blake2b(f"{base_id}|{what}".encode(), digest_size=10).hexdigest()


@dataclass(slots=True, frozen=True)
class Decision:
    """A rule's verdict that ``recipient`` is owed ``code`` for ``occasion``.

    ``occasion`` names the fact that makes the right (the child, the ruling, the dismissal);
    one occasion yields one offer however often its events are replayed.
    """

    code: str
    kind: str
    recipient: str
    occasion: str
    rule: str
    reasons: tuple[str, ...]
    occurred_on: Day
    issued_on: Day
    amount_kzt: int | None = None
    period: str | None = None
    reply_by: Day | None = None
    start_month: Month | None = None
    end_month: Month | None = None
    # For the rights ledger (``rules.ledger``): the persons the right's condition reads besides
    # its recipient, and the facts fixed when it was decided (a birth order, a ruling's episode).
    grounds: tuple[str, ...] = ()
    facts: tuple[tuple[str, Any], ...] = ()

    @property
    def notification_id(self) -> str:
        return notification_id(self.recipient, self.code, self.occasion, self.kind)
