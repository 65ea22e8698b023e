"""Per-family state: the family stage's replica of its living members' cards.

The person stage owns each card; the family stage keeps the latest card of every member so
rules can see the whole family at once (guardians, children, incomes). Cards are immutable,
so the replica shares them rather than copying.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from state import dates
from state.dates import Day
from state.person import PersonCard

__all__ = ["FamilyCard", "MemberUpdate", "apply_update", "prune_former"]


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


@dataclass(slots=True)
class FamilyCard:
    """``members``: the latest card of each living member (IIN -> card), in the order the
    family stage stored them. ``former``: members who left or died by a *fresh* event (not a
    late record or a load), with the date they left: targeted assistance is judged as of a
    quarter's first day (rules.md §5a) some days later, when they still count. Kept only until
    the quarter they left in has started (``prune_former``).
    """

    family_id: str
    members: dict[str, PersonCard] = field(default_factory=dict)
    former: dict[str, tuple[PersonCard, Day]] = field(default_factory=dict)

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

    def members_on(self, on: Day) -> list[PersonCard]:
        """The living members as of ``on`` (rules.md §5a: targeted assistance is judged on the
        state of the quarter's first day): members who had joined by then, and former members
        who left or died after it, each with the card they had when they left."""
        out = [c for c in self.members.values() if c.family_since <= on and (c.died_on is None or c.died_on > on)]
        out += [c for c, left in self.former.values() if left > on and (c.died_on is None or c.died_on > on)]
        return out


def prune_former(family: FamilyCard, today: Day) -> None:
    """Forget former members who left before the current quarter began: no later assessment
    of targeted assistance (as of a quarter's first day) can count them."""
    if family.former:
        first = dates.quarter_start(today)
        family.former = {iin: (c, left) for iin, (c, left) in family.former.items() if left > first}


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
