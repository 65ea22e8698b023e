"""Per-family state: the family stage's replica of its living members' cards.

The person stage owns each card; the family stage keeps the latest card of every member so
rules can see the whole family at once (guardians, children, incomes). Cards are immutable,
so the replica shares them rather than copying.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from state.dates import Day
from state.person import PersonCard

__all__ = ["FamilyCard", "MemberUpdate", "Grant", "apply_update", "prune_issued"]


@dataclass(slots=True, frozen=True)
class MemberUpdate:
    """What the person stage tells a family stage about one person after one event.

    ``card`` is None when the person left this family. ``fire`` says whether rules may
    fire on ``event`` (false for late records, state syncs and trigger-less types).
    ``role`` is ``subject`` for the event's own subject, ``mother``/``father`` when a birth
    is forwarded through a parent's card (which carries the birth order and insurance).
    """

    family_id: str
    iin: str
    card: PersonCard | None
    event: object | None = None
    role: str = "subject"
    fire: bool = False


@dataclass(slots=True, frozen=True)
class Grant:
    """An offer this family issued that may still be open or running (for withdrawals)."""

    nid: str
    code: str
    recipient: str
    subject: str
    period: str | None
    reply_by: Day | None
    end_month: int | None


@dataclass(slots=True)
class FamilyCard:
    """``issued``: notification id -> issued_on of what this family issued (one occasion, one
    offer), kept ``DEDUP_DAYS`` (see ``prune_issued``). ``grants``: the offers among them whose
    ground a later event could still remove."""

    family_id: str
    members: dict[str, PersonCard] = field(default_factory=dict)
    issued: dict[str, Day] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)

    def living(self) -> list[PersonCard]:
        return [c for c in self.members.values() if c.alive]

    def children(self, on: Day) -> list[PersonCard]:
        return [c for c in self.living() if c.registered and not c.is_adult(on)]

    def adults(self, on: Day) -> list[PersonCard]:
        return [c for c in self.living() if c.is_adult(on)]

    def oldest_adult(self, on: Day, excluding: str | None = None) -> PersonCard | None:
        adults = [c for c in self.adults(on) if c.iin != excluding]
        return min(adults, key=lambda c: (c.birth, c.iin)) if adults else None

    def get(self, iin: str | None) -> PersonCard | None:
        return None if iin is None else self.members.get(iin)


def prune_issued(family: FamilyCard, today: Day, keep_days: int) -> None:
    """Forget issued ids older than ``keep_days``, except offers still running or open."""
    if len(family.issued) <= 8:
        return
    cutoff = today - keep_days
    family.issued = {nid: d for nid, d in family.issued.items() if d >= cutoff or nid in family.grants}


def apply_update(family: FamilyCard, update: MemberUpdate) -> FamilyCard:
    """Fold one member update into the family (in place: the family stage owns this object).

    A card whose family is another one, or a parent card forwarded for a birth in a family
    the parent does not belong to, is context for the rules, never a member.
    """
    card = update.card
    if card is None or card.family_id != family.family_id:
        if update.role == "subject":
            family.members.pop(update.iin, None)
        return family
    if card.registered:
        family.members[update.iin] = card
    return family
