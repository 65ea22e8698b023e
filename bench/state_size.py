"""Pickled size, pickle speed and heap size of the domain state, before and after ``store.compact``.

"Before" is the layout and pickling of the state at commit d91f330: the same dataclasses,
pickled by the standard library (``copyreg.__newobj__`` with ``dataclasses``' getstate for
frozen classes, a dict of slot names for the others), and ``PersonCard.seen`` (the
deduplication memory, a dict) inside every card. The old classes are declared below, in
stand-in modules whose names are as long as the real ones (``stat0.person`` for
``state.person``), so the "before" pickles are byte for byte as long as the old ones.
"After" is the current code. Both are measured side by side in one run on the same values:

- ``synthetic``: one Event, one MemberUpdate with its card, a PersonSlot with 24 months of
  contributions and 30 seen events, a FamilyCard with 4 members;
- ``population``: every person slot and family card after feeding the generator's
  messages (``--families`` families, ``--days`` days) through decode, route, the person
  stage and ``apply_update`` (no rules: the family cards hold members only).

Sizes are ``pickle.dumps(x, HIGHEST_PROTOCOL)`` (what ``flows.shards`` stores per key); the
time is one dumps plus one loads (best of 5); heap is the deep ``sys.getsizeof`` of a
freshly unpickled copy (as after crossing processes: nothing shared). Run:
``python -m bench.state_size [--families 300 --days 365]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pickle
import sys
import timeit
import types
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import orjson

import store  # noqa: F401 - registers the compact reductions measured as "after"
from state import dates
from state.events import Event, Origin
from state.family import FamilyCard, MemberUpdate, apply_update
from state.person import PersonCard, Ruling
from state.person_slot import PersonSlot, Seen, remember

PROTOCOL = pickle.HIGHEST_PROTOCOL

# --- the state as it was (commit d91f330), pickled by the standard library ------------------


def _home(module: str, *classes: type) -> None:
    package, _, child = module.partition(".")
    parent = sys.modules.setdefault(package, types.ModuleType(package))
    mod = sys.modules.setdefault(module, types.ModuleType(module))
    setattr(parent, child, mod)
    for cls in classes:
        cls.__module__ = module
        setattr(mod, cls.__name__, cls)


@dataclass(slots=True, frozen=True)
class OldOrigin:
    topic: str
    partition: int | None
    offset: int | None
    raw: bytes
    seq: int = 0
    timestamp_ms: int | None = None


@dataclass(slots=True, frozen=True)
class OldEvent:
    event_id: str
    type: str
    subject: str
    occurred_on: int
    recorded_on: int
    data: Any = field(default_factory=dict)
    origin: OldOrigin | None = None


@dataclass(slots=True, frozen=True)
class OldRuling:
    group: str
    cause: str
    loss_pct: int
    valid_until: int | None
    decided_on: int


@dataclass(slots=True, eq=True)
class OldPersonCard:
    iin: str
    registered: bool = False
    registered_on: int = 0
    birth: int = 0
    adult_on: int = 0
    sex: str = ""
    family_id: str | None = None
    family_since: int = 0
    mother_iin: str | None = None
    father_iin: str | None = None
    phone: str | None = None
    language: str = "kk"
    iban: str | None = None
    region: str | None = None
    contact_as_of: int = 0
    died_on: int | None = None
    children: tuple[str, ...] = ()
    contributions: dict[int, int] = field(default_factory=dict)
    employed_since: int | None = None
    dismissed_on: int | None = None
    dismissal_reason: str | None = None
    ruling: OldRuling | None = None
    ruling_as_of: int = 0
    disabled_before_18: bool = False
    pension_kzt: int | None = None
    unemployed_since: int | None = None
    unemployed_until: int | None = None
    awards: tuple[str, ...] = ()
    kandas_until: int | None = None
    seen: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class OldMemberUpdate:
    family_id: str
    iin: str
    card: OldPersonCard | None
    event: object | None = None
    role: str = "subject"
    fire: bool = False


@dataclass(slots=True, frozen=True)
class OldGrant:
    nid: str
    code: str
    recipient: str
    subject: str
    period: str | None
    reply_by: int | None
    end_month: int | None


@dataclass(slots=True)
class OldFamilyCard:
    family_id: str
    members: dict[str, OldPersonCard] = field(default_factory=dict)
    issued: dict[str, int] = field(default_factory=dict)
    grants: dict[str, OldGrant] = field(default_factory=dict)


@dataclass(slots=True)
class OldPersonSlot:
    card: OldPersonCard
    held: list[OldEvent] = field(default_factory=list)


for _cls in (OldOrigin, OldEvent, OldRuling, OldPersonCard, OldMemberUpdate, OldGrant, OldFamilyCard, OldPersonSlot):
    _cls.__name__ = _cls.__qualname__ = _cls.__name__[3:]
_home("stat0.events", OldOrigin, OldEvent)
_home("stat0.person", OldRuling, OldPersonCard)
_home("stat0.family", OldMemberUpdate, OldGrant, OldFamilyCard)
_home("stat0.person_stage", OldPersonSlot)

_OLD: dict[type, type] = {Origin: OldOrigin, Event: OldEvent, Ruling: OldRuling, PersonCard: OldPersonCard,
                          MemberUpdate: OldMemberUpdate, FamilyCard: OldFamilyCard}


def to_old(x: Any, seen_of: dict[str, Seen] | None = None) -> Any:
    """The same value in the old layout; a card gets its person's ``seen`` (``seen_of``)."""
    memo: dict[int, Any] = {}

    def conv(v: Any) -> Any:
        if id(v) in memo:
            return memo[id(v)]
        if isinstance(v, PersonSlot):
            out: Any = OldPersonSlot(conv_card(v.card, v.seen), [conv(e) for e in v.held])
        elif isinstance(v, PersonCard):
            out = conv_card(v, (seen_of or {}).get(v.iin, Seen()))
        elif is_dataclass(v) and type(v) in _OLD:
            old_cls = _OLD[type(v)]
            kept = {f.name for f in fields(old_cls)}  # a field the old layout lacked is not in its pickle
            out = old_cls(**{f.name: conv(getattr(v, f.name)) for f in fields(v) if f.name in kept})
        elif type(v) is dict:
            out = {conv(k): conv(i) for k, i in v.items()}
        elif type(v) is list:
            out = [conv(i) for i in v]
        elif type(v) is tuple:
            out = tuple(conv(i) for i in v)
        else:
            out = v
        memo[id(v)] = out
        return out

    def conv_card(card: PersonCard, seen: Seen) -> OldPersonCard:
        if id(card) in memo:
            return memo[id(card)]  # type: ignore[no-any-return]
        kept = {f.name for f in fields(OldPersonCard)} - {"seen"}  # fields added since are not in the old layout
        values = {f.name: conv(getattr(card, f.name)) for f in fields(card) if f.name in kept}
        old = OldPersonCard(**values, seen=dict(seen.items()))
        memo[id(card)] = old
        return old

    return conv(x)


# --- measuring -------------------------------------------------------------------------------


def deep_size(obj: Any) -> int:
    """``sys.getsizeof`` summed over every object reachable from ``obj``, each counted once."""
    done: set[int] = set()
    total = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in done or isinstance(o, (type, types.ModuleType, types.FunctionType)):
            continue
        done.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        else:
            for cls in type(o).__mro__:
                for name in getattr(cls, "__slots__", ()):
                    if hasattr(o, name):
                        stack.append(getattr(o, name))
    return total


def dumps_loads_us(obj: Any) -> float:
    def once() -> None:
        pickle.loads(pickle.dumps(obj, PROTOCOL))

    number = max(1, int(2000 / max(1, len(pickle.dumps(obj, PROTOCOL)) / 200)))
    return min(timeit.repeat(once, number=number, repeat=5)) / number * 1e6


@dataclass
class Row:
    name: str
    old_bytes: float
    new_bytes: float
    old_us: float
    new_us: float
    old_heap: float
    new_heap: float


def measure(name: str, new: Any, old: Any) -> Row:
    assert pickle.loads(pickle.dumps(new, PROTOCOL)) == new, name
    return Row(name, len(pickle.dumps(old, PROTOCOL)), len(pickle.dumps(new, PROTOCOL)),
               dumps_loads_us(old), dumps_loads_us(new),
               deep_size(pickle.loads(pickle.dumps(old, PROTOCOL))), deep_size(pickle.loads(pickle.dumps(new, PROTOCOL))))


def measure_many(name: str, news: list[Any], olds: list[Any]) -> Row:
    """Averages per object; the time is the best of 7 passes of dumps+loads over all of them."""
    def size(xs: list[Any]) -> float:
        return sum(len(pickle.dumps(x, PROTOCOL)) for x in xs) / max(1, len(xs))

    def heap(xs: list[Any]) -> float:
        return sum(deep_size(pickle.loads(pickle.dumps(x, PROTOCOL))) for x in xs) / max(1, len(xs))

    def us(xs: list[Any]) -> float:
        def once() -> None:
            for x in xs:
                pickle.loads(pickle.dumps(x, PROTOCOL))

        return min(timeit.repeat(once, number=1, repeat=7)) / max(1, len(xs)) * 1e6

    return Row(name, size(olds), size(news), us(olds), us(news), heap(olds), heap(news))


def table(rows: list[Row]) -> str:
    head = ("| object | pickled B before | after | dumps+loads µs before | after | heap B before | after |\n"
            "|---|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        lines.append(f"| {r.name} | {r.old_bytes:,.0f} | {r.new_bytes:,.0f} ({r.new_bytes / r.old_bytes:.0%}) | "
                     f"{r.old_us:.1f} | {r.new_us:.1f} ({r.new_us / r.old_us:.0%}) | "
                     f"{r.old_heap:,.0f} | {r.new_heap:,.0f} ({r.new_heap / r.old_heap:.0%}) |")
    return "\n".join(lines)


# --- samples ---------------------------------------------------------------------------------

D = dates.day


def _raw(kind: str, iin: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps({"event_id": "emp-0004711", "type": kind, "iin": iin, "occurred_on": "2026-03-05",
                         "recorded_at": "2026-03-05T10:15:00+05:00", "data": data})


def synthetic() -> list[Row]:
    mum, dad, kid1, kid2 = "900402400123", "880117300456", "150623600789", "200915500321"
    data = {"month": "2026-02", "income_kzt": 412_000, "social_contribution_kzt": 20_600}
    origin = Origin("registry.employment", 3, 1_234_567, _raw("contribution", mum, data), 98_765_432, 1_772_690_100_000)
    ev = Event("emp-0004711", "contribution", mum, D("2026-03-05"), D("2026-03-05"), data, origin)

    def adult(iin: str, sex: str, birth: str, months: int) -> PersonCard:
        b = D(birth)
        return PersonCard(iin, True, D("2024-01-01"), b, dates.birthday_on(b, 18), sex, "FAM-0012345", D("2024-01-01"),
                          None, None, "+77011234567", "kk", "KZ123456789012345678", "ALA", D("2024-01-01"),
                          children=(kid1, kid2) if sex == "female" else (),
                          contributions={dates.parse_month("2024-03") + i: 380_000 + 1000 * i for i in range(months)},
                          employed_since=D("2019-05-01"))

    def child(iin: str, sex: str, birth: str) -> PersonCard:
        b = D(birth)
        return PersonCard(iin, True, D(birth), b, dates.birthday_on(b, 18), sex, "FAM-0012345", D(birth),
                          mum, dad, region="ALA", contact_as_of=D(birth))

    card = adult(mum, "female", "1990-04-02", 24)
    seen = Seen()
    for i in range(30):
        seen = remember(seen, f"emp-{4000 + 37 * i:07d}", D("2025-03-01") + 12 * i)
    slot = PersonSlot(card, [], seen)
    update = MemberUpdate("FAM-0012345", mum, card, ev, "subject", True)
    fam = FamilyCard("FAM-0012345", {c.iin: c for c in (card, adult(dad, "male", "1988-01-17", 24),
                                                        child(kid1, "female", "2015-06-23"),
                                                        child(kid2, "male", "2020-09-15"))})
    # The family card no longer holds what was issued (the rights ledger does, since rules.md §5a):
    # the "before" side is measured without its issued ids and grants too, so the two compare.
    seen_of = {mum: seen}
    return [
        measure("Event (with Origin, raw message)", ev, to_old(ev)),
        measure("MemberUpdate with card (24 months) and event", update, to_old(update, seen_of)),
        measure("PersonSlot (24 months, 30 seen ids)", slot, to_old(slot)),
        measure("FamilyCard, 4 members (2 with 24 months)", fam, to_old(fam, seen_of)),
    ]


def population_state(families: int, days: int) -> tuple[dict[str, PersonSlot], dict[str, FamilyCard]]:
    """Every person slot and family card after feeding the generator's messages (``families``
    families, ``days`` days) through decode, route, the person stage and ``apply_update`` (no
    rules: the family cards hold members only). ``bench.state_store`` measures the same state."""
    from familycard.generator import generate
    from flows.routing import PERSON, Router
    from rules.params import load_params
    from schemas.codec import RawMessage, decode
    from state.person_slot import PersonSettings

    params = load_params()
    router = Router(params, 15)
    settings = PersonSettings(params.scalar_int("late_record_days"), params.scalar_int("adult_age_years"))
    slots: dict[str, PersonSlot] = {}
    fams: dict[str, FamilyCard] = {}
    for i, msg in enumerate(generate(families, dt.date(2026, 1, 1), days)):
        e = decode(RawMessage("bench", orjson.dumps(msg), None, 0, i, None, msg, i))
        if not isinstance(e, Event) or e.type in ("day", "sms_reply"):
            continue
        for _dest, key, (event, role) in [r for r in router.route(e) if r[0] == PERSON]:
            slot = slots.get(key)
            if slot is None:
                slot = slots[key] = PersonSlot.empty(key)
            for out in slot.on_event(event, role, settings):
                if isinstance(out, MemberUpdate):
                    fam = fams.get(out.family_id)
                    if fam is None:
                        fam = fams[out.family_id] = FamilyCard(out.family_id)
                    apply_update(fam, out)
    return slots, fams


def population(families: int, days: int) -> list[Row]:
    slots, fams = population_state(families, days)
    people = [s for s in slots.values() if s.card.registered]
    seen_of = {k: s.seen for k, s in slots.items()}
    fam_list = [f for f in fams.values() if f.members]
    seen_ids = sum(len(s.seen) for s in people) / max(1, len(people))
    months = sum(len(s.card.contributions) for s in people) / max(1, len(people))
    label = f"{len(people):,} people: avg {seen_ids:.1f} seen ids, {months:.1f} contribution months"
    rows = [
        measure_many(f"PersonSlot, population ({label})", people, [to_old(s) for s in people]),
        measure_many(f"FamilyCard, population ({len(fam_list):,} families, members only)", fam_list,
                     [to_old(f, seen_of) for f in fam_list]),
    ]
    per_family = len(people) / max(1, len(fam_list))
    for which, slot_b, fam_b in (("before", rows[0].old_bytes, rows[1].old_bytes),
                                 ("after", rows[0].new_bytes, rows[1].new_bytes)):
        per_person = slot_b + fam_b / per_family
        print(f"{which}: pickled person + family state {per_person:,.0f} B per person ({per_family:.1f} people a "
              f"family) -> {per_person * 20e6 / 2**30:.1f} GiB for 20 M people (the blobs alone, no container "
              "overhead)")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", type=int, default=300)
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args()
    rows = synthetic()
    if args.families > 0:
        rows += population(args.families, args.days)
    print(f"Python {sys.version.split()[0]}, pickle protocol {PROTOCOL}; before = commit d91f330 layout, "
          "stdlib dataclass pickling; after = store.compact")
    print(table(rows))


if __name__ == "__main__":
    main()
