"""How each domain class pickles: its compact reduction (``store.compact``), the field order
and small encodings it is pickled with, and the copyreg extension codes.

Registered here, from outside the classes, when ``store`` is imported: ``state/`` holds plain
dataclasses that know nothing of pickling. Every process that pickles or unpickles domain
objects (Bytewax's snapshots and exchanges in each worker, ``flows.shards``, the bulk load,
the what-if) imports ``store`` first; ``flows/__init__.py`` does, so whatever runs a flow has.
The routing items Bytewax exchanges between workers (``flows.routing``) register their own
reductions with ``store.compact.compact``; their extension codes are allotted here with the
others, so a process that imported only ``store`` can load them too.

**Written into every pickle, snapshot and seed:** the codes, the field orders, the codecs
and their tables, and the names of the rebuild functions that have no code. Never renumber
a code, reorder a field or change a codec; only add. A rebuild function pickles name by
module (those without a code) is installed in its class's module (``state.offers._Contact``),
where the pickles written before this package existed look for it.
"""

from __future__ import annotations

import copyreg
from array import array
from typing import Any

from state.calendar import BirthSlot, DueSlot, Timer
from state.events import Event, Origin
from state.family import FamilyCard, MemberUpdate
from state.offers import (
    Assignment,
    ChangeNotice,
    Contact,
    End,
    IssuedOffer,
    Keep,
    OfferSlot,
    Outcome,
    Reminder,
    ReplyRejected,
    Revise,
    WithdrawalNotice,
)
from state.packing import from_le_bytes, le_bytes
from state.person import PersonCard, Ruling
from state.person_slot import PersonSettings, PersonSlot, Rejection
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
from state.seen import EMPTY as NOTHING_SEEN
from state.seen import Seen
from store.compact import (
    DAY,
    OPT_DAY,
    PHONE,
    compact,
    enum_codec,
    months_decode,
    months_encode,
    rebuilder,
    reducer,
    register,
)

__all__ = ["EXTENSION_CODES", "CARD_PICKLE_ORDER"]

# (module, rebuild function name) -> code. Private-use codes: at most 16 (240-255), for the
# classes pickled most often (one per person / family / offer key, one per exchanged item).
# The pickle holds the code, not the name, so these functions live here; the routing items'
# are generated in ``flows.routing`` (which a process imports when it loads one).
EXTENSION_CODES: dict[tuple[str, str], int] = {
    (__name__, "_PersonSlot"): 240,
    (__name__, "_PersonCard"): 241,
    (__name__, "_FamilyCard"): 242,
    (__name__, "_MemberUpdate"): 243,
    (__name__, "_Event"): 244,
    (__name__, "_Origin"): 245,
    (__name__, "_Ruling"): 246,
    (__name__, "_Digest"): 247,
    (__name__, "_Rejection"): 248,
    (__name__, "_OfferSlot"): 249,
    (__name__, "_IssuedOffer"): 250,
    (__name__, "_Timer"): 251,
    ("flows.routing", "_Tick"): 252,
    ("flows.routing", "_BirthTick"): 253,
    ("flows.routing", "_BirthReg"): 254,
    ("flows.routing", "_QuarterWake"): 255,
}
for (_module, _name), _code in EXTENSION_CODES.items():
    copyreg.add_extension(_module, _name, _code)


def _compact(cls: type, **how: Any) -> None:
    """``compact(cls)``, its rebuild function here if it has a code, else in its class's module."""
    coded = (__name__, f"_{cls.__name__}") in EXTENSION_CODES
    compact(cls, home=__name__ if coded else None, **how)


# --- events ----------------------------------------------------------------------------------

_compact(Origin)
_compact(Event, codecs={"occurred_on": DAY, "recorded_on": DAY, "open_day": OPT_DAY})

# --- a person's card -------------------------------------------------------------------------

_compact(Ruling, codecs={"valid_until": OPT_DAY, "decided_on": DAY, "since": DAY, "revoked_on": OPT_DAY})

# The card's fields in pickle order, the most often set first: trailing defaults are dropped.
CARD_PICKLE_ORDER = (
    "iin", "registered", "registered_on", "birth", "adult_on", "sex", "family_id", "family_since",
    "contact_as_of", "phone", "language", "iban", "region", "mother_iin", "father_iin", "children",
    "contributions", "employed_since", "pension_kzt", "dismissed_on", "dismissal_reason",
    "unemployed_since", "unemployed_until", "ruling", "ruling_as_of", "disabled_before_18",
    "awards", "kandas_until", "died_on", "version",
)
# Compression tables (append only; any other value is pickled as it is).
_SEXES = ("", "male", "female")
_LANGUAGES = ("kk", "ru")
_REGIONS = (  # the 17 regions and 3 cities of republican significance
    "Almaty", "Astana", "Shymkent", "Turkestan region", "Almaty region", "Zhambyl region",
    "Karaganda region", "Aktobe region", "Kyzylorda region", "Kostanay region", "Akmola region",
    "Mangystau region", "Pavlodar region", "East Kazakhstan region", "Atyrau region", "Zhetisu region",
    "West Kazakhstan region", "Abai region", "North Kazakhstan region", "Ulytau region",
)
_compact(PersonCard, order=CARD_PICKLE_ORDER, codecs={
    "contributions": (months_encode, months_decode),
    "registered_on": DAY, "birth": DAY, "adult_on": DAY, "family_since": DAY, "contact_as_of": DAY,
    "ruling_as_of": DAY, "died_on": OPT_DAY, "employed_since": OPT_DAY, "dismissed_on": OPT_DAY,
    "unemployed_since": OPT_DAY, "unemployed_until": OPT_DAY, "kandas_until": OPT_DAY,
    "sex": enum_codec(_SEXES), "language": enum_codec(_LANGUAGES), "region": enum_codec(_REGIONS),
    "phone": PHONE,
})
_compact(Seen)
_compact(MemberUpdate)
_compact(Rejection)
_compact(PersonSettings)

_new = object.__new__
_reduce_card = reducer(PersonCard)  # (rebuild, the card's values in CARD_PICKLE_ORDER)
_make_card = rebuilder(PersonCard)
_make_seen = rebuilder(Seen)


# --- the person stage's slot: flat, the seen ids, the held events, then the card's tuple -----

def _reduce_person_slot(slot: PersonSlot) -> tuple[object, tuple[object, ...]]:
    s = slot.seen
    return _PersonSlot, (s.ids, s.days, s.wide, slot.held or None, *_reduce_card(slot.card)[1])


def _PersonSlot(ids: str, days: bytes, wide: bool, held: list[Event] | None, *card: object) -> PersonSlot:  # noqa: N802
    """Rebuilds a pickled ``PersonSlot`` (extension code 240)."""
    slot = _new(PersonSlot)
    slot.card = _make_card(*card)
    slot.held = [] if held is None else held
    slot.seen = _make_seen(ids, days, wide) if ids else NOTHING_SEEN
    return slot


register(PersonSlot, _reduce_person_slot, _PersonSlot)


# --- a family's replica of its members: flat, each string shared once ---------------------------
# The family id, former members, then each member card's compact tuple (its key is its IIN).
# The family's own id and its members' IINs are pickled once: a card's family id, parents'
# IINs and children that equal them are written as references to the same string (the
# pickle memo): ~10 % fewer bytes.

# where a card's pickled tuple holds strings worth sharing (these fields have no codec)
_SHARED_AT = tuple(CARD_PICKLE_ORDER.index(n) for n in ("iin", "family_id", "mother_iin", "father_iin"))
_CHILDREN = CARD_PICKLE_ORDER.index("children")


def _reduce_family_card(family: FamilyCard) -> tuple[object, tuple[object, ...]]:
    fid = family.family_id
    members = family.members
    canon = {fid: fid}
    for iin in members:
        canon[iin] = iin
    cards: list[object] = []
    for iin, card in members.items():
        if card.iin != iin:  # keyed otherwise than by its IIN (never in the flow): as it is
            return _FamilyCard, (fid, family.former or None, members)
        args = list(_reduce_card(card)[1])
        n = len(args)
        for i in _SHARED_AT:
            if i < n:
                a = args[i]
                if a.__class__ is str:
                    args[i] = canon.get(a, a)
        if n > _CHILDREN and args[_CHILDREN]:
            args[_CHILDREN] = tuple([canon.get(c, c) for c in args[_CHILDREN]])
        cards.append(tuple(args))
    return _FamilyCard, (fid, family.former or None, *cards)


def _FamilyCard(family_id: str, former: dict[str, tuple[PersonCard, int]] | None,  # noqa: N802
                *cards: object) -> FamilyCard:
    """Rebuilds a pickled ``FamilyCard`` (extension code 242)."""
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


register(FamilyCard, _reduce_family_card, _FamilyCard)

# --- timers ------------------------------------------------------------------------------------

_compact(Timer, codecs={"due": DAY})
_compact(DueSlot, codecs={"index": (lambda _: None, lambda _: None)})  # a built index pickles as None
_compact(BirthSlot, codecs={"iins": (  # the IINs' int64s as 8 bytes each, without array's own reduction
    lambda a: le_bytes(a) if a.__class__ is array and a.typecode == "q" else a,
    lambda b: from_le_bytes("q", b) if b.__class__ is bytes else b,
)})

# --- offers ------------------------------------------------------------------------------------

_cls: type
for _cls in (IssuedOffer, Revise, End, Keep, Contact, Outcome, Reminder, WithdrawalNotice, ChangeNotice,
             Assignment, ReplyRejected, OfferSlot):
    _compact(_cls)

# --- the rights ledger -------------------------------------------------------------------------

_compact(Digest, codecs={"died_on": OPT_DAY, "employed_since": OPT_DAY, "dismissed_on": OPT_DAY})
for _cls in (FamilyView, Cause, NewRight, NewNotice, PersonSeen, FamilySeen, Reprice):
    _compact(_cls)
_compact(Right, codecs={"end_month": (lambda m: -1 if m is None else m, lambda v: None if v == -1 else v)})
for _cls in (Ledger, OfferOut, NoticeOut):
    _compact(_cls)
