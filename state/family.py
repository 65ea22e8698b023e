"""Per-family state: the family stage's replica of its living members' cards.

The person stage owns each card; the family stage keeps the latest card of every member so
rules can see the whole family at once (guardians, children, incomes). Cards are immutable,
so the replica shares them rather than copying.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from state import dates
from state.compact import compact, rebuilder
from state.dates import Day
from state.person import CARD_PICKLE_ORDER, PersonCard

__all__ = ["FamilyCard", "MemberUpdate", "apply_update", "prune_former"]


@compact
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

    Pickled flat (``__reduce_ex__``): the family id, former members, then each
    member card's compact tuple (its key is its IIN). The family's own id and its members'
    IINs are pickled once: a card's family id, parents' IINs and children that equal them are
    written as references to the same string (the pickle memo): ~10 % fewer bytes.
    """

    family_id: str
    members: dict[str, PersonCard] = field(default_factory=dict)
    former: dict[str, tuple[PersonCard, Day]] = field(default_factory=dict)

    def __reduce_ex__(self, _protocol: object = None) -> tuple[object, tuple[object, ...]]:
        fid = self.family_id
        members = self.members
        canon = {fid: fid}
        for iin in members:
            canon[iin] = iin
        cards: list[object] = []
        for iin, card in members.items():
            args = _card_reduce(card, 4)[1]
            if card.iin != iin:  # keyed otherwise than by its IIN (never in the flow): as it is
                return _FamilyCard, (fid, self.former or None, members)
            args = list(args)
            n = len(args)
            for i in _SHARED_AT:
                if i < n:
                    a = args[i]
                    if a.__class__ is str:
                        args[i] = canon.get(a, a)
            if n > _CHILDREN and args[_CHILDREN]:
                args[_CHILDREN] = tuple([canon.get(c, c) for c in args[_CHILDREN]])
            cards.append(tuple(args))
        return _FamilyCard, (fid, self.former or None, *cards)

    __reduce__ = __reduce_ex__

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


_card_reduce = PersonCard.__reduce_ex__
_make_card = rebuilder(PersonCard)
_new = object.__new__
# where a card's pickled tuple holds strings worth sharing (these fields have no codec)
_SHARED_AT = tuple(CARD_PICKLE_ORDER.index(n) for n in ("iin", "family_id", "mother_iin", "father_iin"))
_CHILDREN = CARD_PICKLE_ORDER.index("children")


def _FamilyCard(family_id: str, former: dict[str, tuple[PersonCard, Day]] | None,  # noqa: N802
                *cards: object) -> FamilyCard:
    """Rebuilds a pickled ``FamilyCard`` (extension code 242, ``state.compact``)."""
    family = _new(FamilyCard)
    family.family_id = family_id
    if len(cards) == 1 and cards[0].__class__ is dict:
        family.members = cards[0]  # type: ignore[assignment]
    else:
        members = {}
        for args in cards:
            card = _make_card(*args)  # type: ignore[misc]
            members[card.iin] = card
        family.members = members
    family.former = {} if former is None else former
    return family


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
