"""Family cards built in bulk from member updates, exactly as the family stage would fold them.

When no update fires a rule (a population load, rules.md §5), the family stage only folds
each ``MemberUpdate`` into its card: ``apply_update`` stores the member's card, removes it,
or does nothing, and the stage then drops a dead member. Folding is per member key, so a
bulk load need not send every update to its family one by one (the stream's cost): per
person and visit it keeps only what the visit did to each family (``VisitLog``), and the
family side replays those records in order (``FamilyAssembler``).

Python dicts keep insertion order and rules iterate members in it, so the records keep the
position too: storing a member already present keeps its place; storing one after a removal
puts it at the end. A position is the storing update's place in the stage's order: its
source sequence number, then its role (``flows.stages.source_order``).
Engine-free; ``test_family_build_folds_like_the_family_stage`` (tests/flows/test_bulk_load.py) checks it
against the family stage's own fold on generated populations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from state.family import FamilyCard, MemberUpdate
from state.person import ROLE_SUBJECT, PersonCard

__all__ = ["STORE", "POP", "NOOP", "effect", "order_of", "VisitLog", "Record", "FamilyAssembler"]

STORE, POP, NOOP = 1, 2, 0
_ROLE_ORDER = {ROLE_SUBJECT: 0, "mother": 1, "father": 2}


def order_of(seq: int, role: str) -> int:
    """The family stage's order of member updates: source sequence, then subject, mother,
    father (``flows.stages.source_order`` sorts by it)."""
    return seq * 4 + _ROLE_ORDER.get(role, 3)


def effect(family_id: str, update: MemberUpdate) -> int:
    """What the family stage does with ``update`` when no rule fires (``flows.stages.FamilyLogic``)."""
    card = update.card
    if card is None or card.family_id != family_id:
        out = POP if update.role == ROLE_SUBJECT else NOOP
    else:
        out = STORE if card.registered else NOOP
    if card is not None and not card.alive:
        return POP  # the stage keeps only living members
    return out


# One visit's net effect on one (family, member): ``popped`` says the visit removed the
# member at some point; ``position`` is where the member sits after the visit if the visit
# (re)inserted it after that removal or first stored it (None: the visit stored it only where
# it already was, or left it removed); ``card`` is the member's card after the visit (None:
# removed). ``iin`` is "" for a record that only says the family exists.
Record = tuple[str, str, bool, "int | None", "PersonCard | None"]


@dataclass
class _Net:
    popped: bool = False
    position: int | None = None
    present: bool = False  # within this visit, after its last operation
    stored: bool = False
    card: PersonCard | None = None


@dataclass
class VisitLog:
    """The net effect of one person's consecutive updates on each family they touched."""

    iin: str
    nets: dict[str, _Net] = field(default_factory=dict)

    def add(self, update: MemberUpdate, position: int) -> None:
        """``position``: the update's place in the family stage's order (``order_of``)."""
        fid = update.family_id
        net = self.nets.get(fid)
        if net is None:
            net = self.nets[fid] = _Net()
        op = effect(fid, update)
        if op == POP:
            net.popped, net.present, net.position, net.card = True, False, None, None
        elif op == STORE:
            if not net.present and (net.popped or not net.stored):
                net.position = position  # inserted here, unless it was already in the family before the visit
            net.present = net.stored = True
            net.card = update.card

    def records(self) -> list[Record]:
        out: list[Record] = []
        for fid, net in self.nets.items():
            if not net.stored and not net.popped:
                out.append((fid, "", False, None, None))  # a no-op update: the family exists all the same
            else:
                out.append((fid, self.iin, net.popped, net.position, net.card if net.present else None))
        return out


class FamilyAssembler:
    """Replays ``Record``s in the order they were made into family cards."""

    def __init__(self) -> None:
        self._members: dict[str, dict[str, tuple[int, PersonCard]]] = {}

    def add(self, record: Record) -> None:
        fid, iin, popped, position, card = record
        members = self._members.get(fid)
        if members is None:
            members = self._members[fid] = {}
        if not iin:
            return
        if card is None:
            members.pop(iin, None)
        elif popped or iin not in members:
            assert position is not None
            members.pop(iin, None)
            members[iin] = (position, card)
        else:
            members[iin] = (members[iin][0], card)

    def families(self) -> dict[str, FamilyCard]:
        out: dict[str, FamilyCard] = {}
        for fid, members in self._members.items():
            ordered = sorted(members.items(), key=lambda kv: kv[1][0])
            out[fid] = FamilyCard(fid, {iin: card for iin, (_, card) in ordered})
        return out
