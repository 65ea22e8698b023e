"""The rights ledger's state: each recipient's rights, and what their conditions read.

A right (rules.md §5a) is a condition over the state, kept in line with it whatever changes it.
Rights belong to their recipient and their ground persons, not to the family that first
decided them, so they are kept by *recipient* (one ``Ledger`` per recipient IIN), in a stage
after the family stage. What a right's condition reads reaches the ledger as **digests**:

- a ``Digest`` of a person (the fields conditions read, and the person's guardian as the
  family they live in sees it), sent by whichever family folds a change of that person, to
  the ledgers of the person, their parents and their guardian (before and after);
- a ``FamilyView`` of a family (its children), sent to the family's large-family recipient
  and to adults who join or leave it.

The family stage cannot know which ledgers hold rights (that is downstream), so it sends to
the persons who *could* hold a right grounded in the change; a ledger keeps a digest only
while one of its rights reads it. Cards travel between families with their own ``version``
(``state.person.PersonCard.version``): a ledger keeps the newest card it has seen of each
person, wherever it came from.

Engine-free. The logic is ``rules.ledger``; the conditions are ``rules.conditions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from state.dates import Day, Month
from state.events import Event
from state.person import PersonCard, Ruling

__all__ = ["Digest", "digest_of", "FamilyView", "Right", "Ledger", "NewRight", "NewNotice", "PersonSeen",
           "FamilySeen", "Reprice", "LedgerInput", "Cause", "cause_of", "OfferOut", "NoticeOut"]


@dataclass(slots=True, frozen=True)
class Digest:
    """What the conditions of rights read about one person.

    ``guardian`` is the person's guardian (rules.md §2) in ``family_id``, computed by that
    family; ``guardian_known`` says the sender was that family (a family the person just
    left cannot say who their guardian is now).
    """

    iin: str
    version: int
    family_id: str | None
    registered: bool
    birth: Day
    adult_on: Day
    died_on: Day | None
    mother_iin: str | None
    father_iin: str | None
    ruling: Ruling | None
    disabled_before_18: bool
    employed_since: Day | None
    dismissed_on: Day | None
    phone: str | None
    language: str
    iban: str | None
    guardian: str | None = None
    guardian_known: bool = False

    def alive_on(self, on: Day) -> bool:
        return self.died_on is None or self.died_on > on

    def minor_on(self, on: Day) -> bool:
        return self.registered and on < self.adult_on


def digest_of(card: PersonCard, guardian: str | None, guardian_known: bool) -> Digest:
    return Digest(card.iin, card.version, card.family_id, card.registered, card.birth, card.adult_on, card.died_on,
                  card.mother_iin, card.father_iin, card.ruling, card.disabled_before_18, card.employed_since,
                  card.dismissed_on, card.phone, card.language, card.iban, guardian, guardian_known)


@dataclass(slots=True, frozen=True)
class FamilyView:
    """A family's living children under 18 (IINs) and who would receive its large-family
    benefit (the mother of most of them, else its oldest adult), as of the update that sent it."""

    family_id: str
    children: tuple[str, ...]
    large_recipient: str | None


@dataclass(slots=True, frozen=True)
class Cause:
    """The input event behind a ledger input: its dates, and whether it is a late record."""

    occurred_on: Day
    recorded_on: Day
    late: bool
    event: Event | None = None  # for dead letters and the latency metrics; None for internal causes


def cause_of(event: Event, late_record_days: int) -> Cause:
    return Cause(event.occurred_on, event.recorded_on, event.delay_days > late_record_days, event)


# --- what the family stage sends a ledger -------------------------------------------------

@dataclass(slots=True, frozen=True)
class NewRight:
    """A fresh occasion (rules.md §5): the rule's decision, the persons its condition reads
    (``grounds``), the facts fixed when it was decided, and the digests and family view as
    the deciding family saw them."""

    decision: Any                    # rules.decisions.Decision
    grounds: tuple[str, ...]
    facts: Mapping[str, Any]
    digests: tuple[Digest, ...]
    view: FamilyView | None
    family_id: str
    cause: Cause


@dataclass(slots=True, frozen=True)
class NewNotice:
    """A notice decided now (information, no consent): its recipient's contact for the record."""

    decision: Any                    # rules.decisions.Decision (kind notice)
    contact: tuple[str | None, str]  # (phone, language)
    family_id: str
    cause: Cause


@dataclass(slots=True, frozen=True)
class PersonSeen:
    digest: Digest
    cause: Cause


@dataclass(slots=True, frozen=True)
class FamilySeen:
    view: FamilyView
    cause: Cause


@dataclass(slots=True, frozen=True)
class Reprice:
    """1 January: benefits expressed in ``mci`` or ``subsistence_minimum`` take the year's amount."""

    on: Day
    event: Event | None = None


LedgerInput = NewRight | NewNotice | PersonSeen | FamilySeen | Reprice


# --- the ledger -------------------------------------------------------------------------------

@dataclass(slots=True)
class Right:
    """One right of the recipient: its offer's id, its terms, and the persons it reads.

    ``amount``, ``start_month`` and ``end_month`` are the terms now in force (an open offer's,
    or a running benefit's after changes); ``as_of`` the date they were computed for, so an
    older cause never re-prices backwards. ``ended``: the condition stopped holding (the offer
    was withdrawn or the benefit closed); a right never comes back (one occasion, one offer).
    """

    nid: str
    code: str
    occasion: str
    grounds: tuple[str, ...]
    facts: Mapping[str, Any]
    amount: int | None
    period: str
    start_month: Month | None
    end_month: Month | None
    as_of: Day
    issued_on: Day
    reply_by: Day
    family_id: str
    decision: Any                    # the decision it was offered with (reasons, rule, dates)
    ended: bool = False
    settling: Day | None = None      # stopped holding by who lives with whom on this day: ends at its end


@dataclass(slots=True)
class Ledger:
    """One recipient's rights (notification id -> right), the digests and family views their
    conditions read, and every notification id issued to this recipient (offers and notices,
    one occasion one notification across families) with its issue date."""

    iin: str
    rights: dict[str, Right] = field(default_factory=dict)
    persons: dict[str, Digest] = field(default_factory=dict)
    families: dict[str, FamilyView] = field(default_factory=dict)
    issued: dict[str, Day] = field(default_factory=dict)

    def watched(self) -> set[str]:
        """The persons some live right reads (its recipient always)."""
        out = {self.iin}
        for r in self.rights.values():
            if not r.ended:
                out.update(r.grounds)
        return out


# --- what a ledger decides --------------------------------------------------------------------

@dataclass(slots=True, frozen=True)
class OfferOut:
    """Offer this right (a fresh occasion); the shell turns it into the offer record and timers."""

    right: Right
    phone: str | None
    language: str
    iban: str | None
    cause: Cause


@dataclass(slots=True, frozen=True)
class NoticeOut:
    decision: Any
    phone: str | None
    language: str
    family_id: str
    cause: Cause
