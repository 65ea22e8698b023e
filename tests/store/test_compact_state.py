"""Compact pickling of the state (``store.compact``, ``store.picklers``): every class round-trips exactly, fast.

Bytewax pickles every exchanged item and snapshot, and the person and family stages keep
their slots pickled, so a lossy or slow reduction would corrupt or slow everything. Each
class is round-tripped with random values (None fields, frozen classes, nested objects,
values of unexpected shapes that the codecs must pass through), and compared strictly:
same types, same values. The person's deduplication memory (``Seen``) is checked against
the dict it replaced.
"""

from __future__ import annotations

import copy
import copyreg
import dataclasses
import inspect
import pickle
import pickletools
import subprocess
import sys
from array import array
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flows.routing as routing
import state.calendar
import state.events
import state.family
import state.offers
import state.person
import state.person_slot
import state.rights
import state.seen
from flows.routing import BirthReg, BirthTick, CatchUp, HoldSweep, QuarterWake, Tick
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
from state.person import PersonCard, Ruling
from state.person_slot import DEDUP_DAYS, PersonSettings, PersonSlot, Rejection, remember
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
from state.seen import Seen
from store import compact as compact_module
from store.compact import compact, months_decode, months_encode, rebuilder, reducer
from store.picklers import _REGIONS, EXTENSION_CODES
from tests.factories import event, iin_for, registered

ROOT = Path(__file__).resolve().parents[2]
PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``==`` alone lets 1 pass for True)."""
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a):
        if isinstance(a, Seen):
            return a == b and a.items() == b.items()
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def roundtrip(x: Any, protocol: int = pickle.HIGHEST_PROTOCOL) -> Any:
    y = pickle.loads(pickle.dumps(x, protocol))
    assert same(x, y), (x, y)
    assert x == y
    return y


# --- strategies ------------------------------------------------------------------------------

text = st.text(max_size=24)
ints = st.integers(-(2**40), 2**40)
days = st.one_of(st.integers(-(10**6), 4 * 10**6), st.sampled_from([0, 693596, 719163, 739616, 759000]))
digits12 = st.from_regex(r"[0-9]{12}", fullmatch=True)
iins = st.one_of(digits12, text)


def opt(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), s)


def maybe(default: Any, s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Often the default (trailing defaults are dropped from the pickle), else anything."""
    return st.one_of(st.just(default), s)


json_values = st.recursive(st.one_of(st.none(), st.booleans(), ints, text),
                           lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(text, c, max_size=3)),
                           max_leaves=6)
origins = st.builds(Origin, text, opt(ints), opt(ints), st.binary(max_size=40), maybe(0, ints), maybe(None, ints))
events = st.builds(Event, text, text, text, days, days, maybe({}, st.dictionaries(text, json_values, max_size=4)),
                   maybe(None, origins), maybe(None, days))
rulings = st.builds(Ruling, text, text, ints, opt(days), days, maybe(0, days), opt(days))
contiguous_months = st.builds(lambda first, amounts: {first + i: a for i, a in enumerate(amounts)},
                              st.integers(0, 70_000), st.lists(st.integers(0, 2**33), max_size=30))
any_months = st.dictionaries(st.integers(-5, 70_000), st.integers(-5, 2**33), max_size=30)
phones = st.one_of(st.from_regex(r"\+7[0-9]{10}", fullmatch=True), text)


@st.composite
def cards(draw: st.DrawFn, iin: str | None = None) -> PersonCard:
    f = {
        "registered": st.booleans(), "registered_on": days, "birth": days, "adult_on": days,
        "sex": st.one_of(st.sampled_from(["", "male", "female"]), text), "family_id": opt(text),
        "family_since": days, "mother_iin": opt(iins), "father_iin": opt(iins), "phone": opt(phones),
        "language": st.one_of(st.sampled_from(["kk", "ru"]), text), "iban": opt(text),
        "region": opt(st.one_of(st.sampled_from(_REGIONS), text)), "contact_as_of": days, "died_on": opt(days),
        "children": st.lists(iins, max_size=4).map(tuple), "contributions": st.one_of(contiguous_months, any_months),
        "employed_since": opt(days), "dismissed_on": opt(days), "dismissal_reason": opt(text),
        "ruling": opt(rulings), "ruling_as_of": days, "disabled_before_18": st.booleans(), "pension_kzt": opt(ints),
        "unemployed_since": opt(days), "unemployed_until": opt(days), "awards": st.lists(text, max_size=3).map(tuple),
        "kandas_until": opt(days), "version": maybe(0, ints),
    }
    defaults = {x.name: x.default if x.default_factory is dataclasses.MISSING else x.default_factory()
                for x in dataclasses.fields(PersonCard)}
    values = {n: draw(maybe(defaults[n], s)) for n, s in f.items()}
    return PersonCard(iin=draw(iins) if iin is None else iin, **values)


seens = st.one_of(
    st.builds(Seen.of, st.dictionaries(text, st.integers(719163, 719163 + 0xFFFF), max_size=20)),
    st.builds(Seen.of, st.dictionaries(text, days, max_size=20)),
)
slots = st.builds(PersonSlot, cards(), st.lists(events, max_size=2), seens)
updates = st.builds(MemberUpdate, text, iins, opt(cards()), opt(events), maybe("subject", text), st.booleans())


def _copy(s: str) -> str:
    """An equal string that is another object (as after two separate unpicklings)."""
    return (s + "\0")[:-1]


@st.composite
def families(draw: st.DrawFn) -> FamilyCard:
    fid = draw(text)
    members: dict[str, PersonCard] = {}
    for card in draw(st.lists(cards(), max_size=5)):
        others = list(members)
        # in the flow a card's family id, its parents and its children are other objects
        # equal to the family's id and to other members' IINs
        if draw(st.booleans()):
            card.family_id = _copy(fid)
        if others and draw(st.booleans()):
            card.mother_iin = _copy(draw(st.sampled_from(others)))
        if others and draw(st.booleans()):
            card.children = (*card.children, _copy(draw(st.sampled_from(others))))
        members[card.iin] = card
    if members and draw(st.integers(0, 9)) == 0:  # a key other than the card's IIN: kept as it is
        k = next(iter(members))
        members[k + "x"] = members.pop(k)
    former = draw(st.dictionaries(text, st.tuples(cards(), days), max_size=2))
    return FamilyCard(fid, members, former)


offers = st.builds(IssuedOffer, text, text, text, opt(text), opt(text), text, text,
                   st.lists(text, max_size=3).map(tuple), opt(ints), opt(text), days, days, days, opt(ints), opt(ints),
                   opt(text), events, days)
digests = st.builds(Digest, text, ints, opt(text), st.booleans(), days, days, opt(days), opt(text), opt(text),
                    opt(rulings), st.booleans(), opt(days), opt(days), opt(text), text, opt(text), opt(text),
                    st.booleans())
views = st.builds(FamilyView, text, st.lists(text, max_size=3).map(tuple), opt(text))
causes = st.builds(Cause, days, days, st.booleans(), opt(events))
facts = st.dictionaries(text, json_values, max_size=3)
rights = st.builds(Right, text, text, text, st.lists(text, max_size=2).map(tuple), facts, opt(ints), text, opt(ints),
                   opt(ints), days, days, days, text, st.none(), st.booleans(), opt(days))
OTHERS: dict[type, st.SearchStrategy[Any]] = {
    Origin: origins, Event: events, Ruling: rulings, Rejection: st.builds(Rejection, events, text, text, maybe("", text)),
    MemberUpdate: updates, Timer: st.builds(Timer, days, text, text),
    PersonSettings: st.builds(PersonSettings, ints, ints),
    Digest: digests, FamilyView: views, Cause: causes, Right: rights,
    Ledger: st.builds(Ledger, text, st.dictionaries(text, rights, max_size=2), st.dictionaries(text, digests, max_size=2),
                      st.dictionaries(text, views, max_size=1), st.dictionaries(text, days, max_size=3)),
    NewRight: st.builds(NewRight, st.none(), st.lists(text, max_size=2).map(tuple), facts,
                        st.lists(digests, max_size=2).map(tuple), opt(views), text, causes),
    NewNotice: st.builds(NewNotice, st.none(), st.tuples(opt(text), text), text, causes),
    PersonSeen: st.builds(PersonSeen, digests, causes), FamilySeen: st.builds(FamilySeen, views, causes),
    Reprice: st.builds(Reprice, days, opt(events)),
    OfferOut: st.builds(OfferOut, rights, opt(text), text, opt(text), causes),
    NoticeOut: st.builds(NoticeOut, st.none(), opt(text), text, text, causes),
    Revise: st.builds(Revise, text, opt(ints), opt(ints), ints, text, days, st.booleans(), opt(offers), st.booleans(),
                      opt(events)),
    End: st.builds(End, text, text, days, days, ints, st.booleans(), opt(events), opt(days)),
    Keep: st.builds(Keep, text, opt(events)),
    Contact: st.builds(Contact, text, opt(text), text, opt(text), days, opt(events)),
    ChangeNotice: st.builds(ChangeNotice, offers, opt(ints), ints, opt(ints), text, days, ints),
    CatchUp: st.builds(CatchUp, events), HoldSweep: st.builds(HoldSweep, events),
    DueSlot: st.builds(DueSlot, st.booleans(), st.lists(st.builds(Timer, days, text, text), max_size=3)),
    BirthSlot: st.builds(lambda xs: BirthSlot(array("q", xs)), st.lists(st.integers(0, 10**12), max_size=5)),
    IssuedOffer: offers,
    Outcome: st.builds(Outcome, offers, text, days, opt(events)),
    Reminder: st.builds(Reminder, offers, days),
    WithdrawalNotice: st.builds(WithdrawalNotice, offers, text, days, opt(days)),
    Assignment: st.builds(Assignment, offers, text, ints, opt(ints), opt(ints), opt(text), st.booleans(), ints),
    ReplyRejected: st.builds(ReplyRejected, events, text),
    OfferSlot: st.builds(OfferSlot, opt(offers), text, st.booleans(), opt(text), st.lists(events, max_size=2),
                         st.sets(text, max_size=3), st.lists(st.tuples(text, days), max_size=2), days, st.booleans(),
                         opt(days), opt(ints), opt(ints), opt(ints), opt(text), opt(text), ints,
                         opt(st.tuples(ints, opt(ints), opt(ints))), st.lists(st.builds(Contact, text, opt(text), text,
                                                                                        opt(text), days), max_size=1),
                         opt(st.builds(End, text, text, days, days, ints, st.booleans(), st.none(), opt(days)))),
    Tick: st.builds(Tick, events), BirthTick: st.builds(BirthTick, events, st.lists(text, max_size=3).map(tuple)),
    BirthReg: st.builds(BirthReg, text), QuarterWake: st.builds(QuarterWake, events),
    Seen: seens,
}


# --- every class round-trips -------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(cards())
def test_person_cards_round_trip(card: PersonCard) -> None:
    for protocol in PROTOCOLS:
        roundtrip(card, protocol)
    assert same(copy.deepcopy(card), card) and same(copy.copy(card), card)


@settings(max_examples=100, deadline=None)
@given(slots)
def test_person_slots_round_trip(slot: PersonSlot) -> None:
    for protocol in PROTOCOLS:
        back = roundtrip(slot, protocol)
        assert back.seen.items() == slot.seen.items()


@settings(max_examples=80, deadline=None)
@given(families())
def test_family_cards_round_trip(family: FamilyCard) -> None:
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        back = roundtrip(family, protocol)
        assert list(back.members) == list(family.members)


@settings(max_examples=80, deadline=None)
@given(updates)
def test_member_updates_round_trip(update: MemberUpdate) -> None:
    roundtrip(update)


@pytest.mark.parametrize("cls", list(OTHERS), ids=lambda c: c.__name__)
def test_every_other_class_round_trips(cls: type) -> None:
    @settings(max_examples=60, deadline=None)
    @given(OTHERS[cls])
    def check(x: Any) -> None:
        assert type(x) is cls
        for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
            roundtrip(x, protocol)
        assert same(copy.deepcopy(x), x)

    check()


def test_every_state_dataclass_has_a_compact_reduction() -> None:
    modules = [state.events, state.person, state.family, state.person_slot, state.offers, state.calendar,
               state.seen, state.rights, routing]
    classes = [c for m in modules for _, c in inspect.getmembers(m, inspect.isclass)
               if dataclasses.is_dataclass(c) and c.__module__ == m.__name__]
    assert len(classes) >= 25
    for c in classes:
        assert c in copyreg.dispatch_table, f"{c.__name__} pickles the slow way: register it in store.picklers"
        reduced = copyreg.dispatch_table[c]  # the rebuild function is a module-level name pickle can find
        assert callable(reduced)
    covered = set(OTHERS) | {PersonCard, PersonSlot, FamilyCard}
    assert {c for c in classes} <= covered, "add a strategy for the new class to OTHERS"


def test_frozen_classes_stay_frozen_after_loading() -> None:
    e = pickle.loads(pickle.dumps(event("death", iin_for("1950-01-01", "male"), "2026-01-01")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.type = "birth"  # type: ignore[misc]
    assert type(e) is Event and type(e.origin) is Origin
    assert hash(e.origin) == hash(pickle.loads(pickle.dumps(e.origin)))


def test_pickling_calls_no_dataclasses_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    mum = iin_for("1990-04-02", "female")
    slot = PersonSlot.empty(mum)
    out = slot.on_event(registered(mum, "1990-04-02", "female", "F-1"), "subject", PersonSettings(30, 18))
    family = FamilyCard("F-1", {mum: slot.card})
    values = [slot.card, out[0], out[0].event, slot, family, Ruling("2", "general", 60, None, 739000)]

    def boom(*_: Any) -> Any:
        raise AssertionError("dataclasses.fields called while pickling")

    monkeypatch.setattr(dataclasses, "fields", boom)
    for v in values:
        assert pickle.loads(pickle.dumps(v)) == v


def test_trailing_defaults_are_left_out() -> None:
    card = PersonCard("900402400123")
    assert reducer(PersonCard)(card)[1] == ("900402400123",)
    e = Event("e1", "death", "x", 739000, 739000)
    assert len(reducer(Event)(e)[1]) == 5  # data {} and origin None dropped
    back = pickle.loads(pickle.dumps(e))
    assert back.data == {} and back.origin is None


def test_a_default_container_is_fresh_after_loading() -> None:
    a, b = pickle.loads(pickle.dumps([PersonCard("1"), PersonCard("2")]))
    assert a.contributions == {} and a.contributions is not b.contributions
    s1, s2 = pickle.loads(pickle.dumps([OfferSlot(), OfferSlot()]))
    s1.held.append(event("death", "1", "2026-01-01"))
    assert s2.held == []


def test_the_slot_and_card_classes_pickle_as_extension_codes() -> None:
    slot = PersonSlot.empty("900402400123")
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(pickle.dumps(slot, 4))]
    assert ("EXT1", 240) in ops and not any(name in ("GLOBAL", "STACK_GLOBAL") for name, _ in ops)
    assert len(set(EXTENSION_CODES.values())) == len(EXTENSION_CODES)
    for (module, name), code in EXTENSION_CODES.items():
        assert 240 <= code <= 255
        fn = getattr(sys.modules[module], name)
        assert fn.__module__ == module and fn.__qualname__ == name


def test_a_process_that_imported_only_the_package_loads_the_state() -> None:
    mum = iin_for("1990-04-02", "female")
    slot = PersonSlot.empty(mum)
    slot.on_event(registered(mum, "1990-04-02", "female", "F-1"), "subject", PersonSettings(30, 18))
    blob = pickle.dumps([slot, FamilyCard("F-1", {mum: slot.card}), Tick(event("day", "", "2026-01-01"))])
    code = ("import pickle, sys, store; x = pickle.loads(sys.stdin.buffer.read()); "
            "print(type(x[0]).__name__, x[0].card.iin, len(x[0].seen), list(x[1].members))")
    done = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, cwd=ROOT, check=True)
    assert done.stdout.decode().split() == ["PersonSlot", mum, "1", f"['{mum}']"]


# --- the person's deduplication memory ----------------------------------------------------------

def _reference_remember(seen: dict[str, int], event_id: str, on: int) -> dict[str, int]:
    """``remember`` as it was, on a dict (commit d91f330)."""
    out = dict(seen)
    out[event_id] = on
    if len(out) > 16:
        newest = max(out.values())
        out = {i: d for i, d in out.items() if d >= newest - DEDUP_DAYS}
    return out


weird_ids = st.one_of(text, st.sampled_from(["", "\0", "a\0b", "\x01", "\x01ab", "ä", "\ud800", "e1"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(weird_ids, st.one_of(st.integers(739000, 739900), days)), max_size=60))
def test_seen_keeps_what_the_dict_kept(steps: list[tuple[str, int]]) -> None:
    seen, model = Seen(), {}
    for event_id, on in steps:
        assert (event_id in seen) == (event_id in model)
        seen, model = remember(seen, event_id, on), _reference_remember(model, event_id, on)
        assert dict(seen.items()) == model and len(seen) == len(model)
        assert all(i in seen for i in model)
    assert pickle.loads(pickle.dumps(seen)) == seen


def test_seen_never_confuses_an_id_with_part_of_another() -> None:
    seen = Seen()
    for i in ("a\0b", "\x01x", "ab", ""):
        seen = remember(seen, i, 739000)
    assert "a\0b" in seen and "\x01x" in seen and "" in seen and "ab" in seen
    assert "a" not in seen and "b" not in seen and "\x01" not in seen and "x" not in seen and "\0" not in seen
    assert 123 not in seen  # type: ignore[operator]


def test_seen_dates_outside_the_narrow_range_are_kept_exactly() -> None:
    seen = remember(remember(Seen(), "old", 1), "new", 3_000_000)
    assert seen.wide and dict(seen.items()) == {"old": 1, "new": 3_000_000}
    narrow = remember(Seen(), "x", 739_000)
    assert not narrow.wide and len(narrow.days) == 2


def test_a_duplicate_is_caught_after_the_slot_crossed_a_process() -> None:
    mum = iin_for("1990-04-02", "female")
    slot = PersonSlot.empty(mum)
    first = registered(mum, "1990-04-02", "female", "F-1")
    slot.on_event(first, "subject", PersonSettings(30, 18))
    slot = pickle.loads(pickle.dumps(slot))
    assert [r.code for r in slot.on_event(first, "subject", PersonSettings(30, 18))] == ["duplicate"]  # type: ignore[union-attr]
    assert not hasattr(slot.card, "seen")  # the card that travels to the families carries no ids


# --- codecs and the decorator itself -----------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.one_of(contiguous_months, any_months, st.dictionaries(text, ints, max_size=3)))
def test_months_codec_is_lossless(months: dict[Any, int]) -> None:
    encoded = months_encode(months)
    assert same(months_decode(encoded), months)
    if months and all(type(m) is int and 0 <= m < 0xFFFF for m in months) and all(
            0 <= a < 2**32 for a in months.values()):
        assert isinstance(encoded, bytes) and len(encoded) <= 1 + 6 * len(months)


@compact(order=("c",), codecs={"b": ("{} * 2", "{} // 2")})
@dataclasses.dataclass(slots=True, frozen=True)
class _Sample:
    a: str
    b: int = 0
    c: object = None
    d: list[int] = dataclasses.field(default_factory=list)
    e: int = 0


def test_the_decorator_orders_encodes_and_drops_defaults() -> None:
    assert reducer(_Sample)(_Sample("x"))[1] == (None, "x")  # c first; b=0, d=[] and e=0 dropped
    assert reducer(_Sample)(_Sample("x", 3))[1] == (None, "x", 6)
    assert reducer(_Sample)(_Sample("x", d=[1]))[1] == (None, "x", 0, [1])
    assert reducer(_Sample)(_Sample("x", e=False))[1] == (None, "x", 0, [], False)  # False is not 0
    for v in (_Sample("x"), _Sample("x", 3, 4, [5]), _Sample("x", e=False), _Sample("x", e=True)):
        assert same(pickle.loads(pickle.dumps(v)), v)
    assert rebuilder(_Sample)(None, "y") == _Sample("y")


def test_the_decorator_refuses_what_it_cannot_do() -> None:
    with pytest.raises(TypeError):
        compact(order=("nope",))(dataclasses.dataclass(slots=True)(type("A", (), {"__annotations__": {"x": int}})))
    with pytest.raises(TypeError):
        compact(dataclasses.dataclass(type("B", (), {"__annotations__": {"x": int}})))  # no slots
    assert compact_module.DAY_EPOCH == 693596  # written into every pickled date: never change
