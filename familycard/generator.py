"""A seedable synthetic population of Kazakh families and the life events of one period.

The flows need input that looks like the registries' (contract §1): plausible families,
IINs that agree with birth dates, late and out-of-order records, and enough of every event
type to exercise every rule of ``rules.md``. Real registry data is personal, so we simulate it.

The stream has two parts:

1. the *population load*, dated before ``start``: a ``person_registered`` for everyone, then
   what the registries already knew (disability rulings, pensions, awards, kandas statuses,
   employment and 24 months of contributions) as late records, so they update state and
   trigger nothing (rules.md §5);
2. the *period*, day by day: the events the registries recorded that day, ordered by
   ``(occurred_on, recorded_at)``, then the ``day`` tick as the day's last message. An event is
   emitted on the day of its ``recorded_at`` (when the registry knew it), never before its
   ``occurred_on``.

Everything is a pure function of ``(families, start, days, seed)``: one ``random.Random(seed)``
draws every choice, in a fixed order, and nothing reads the clock.

A national-scale population (millions of families) does not fit one process, so it can be
generated in *parts* (``generate(..., part=K, parts=P)``), each in its own process and with
memory proportional to its share. Part K of P holds the families with global indices
K, K+P, K+2P, … (a stride, not a block) of ``families`` in all, and draws from its own stream,
seeded from ``(seed, K)``. The parts never collide: family ids use the global index (families
formed in the period get ``families + K + P*j``), IIN serials of part K are K+1, K+1+P, …
(one disjoint serial space per birth date and sex), phone subscriber numbers are K, K+P, …,
and event ids carry the part (``pop3-0000001``). Employers are drawn per part (about one per
eight of the part's families), so a BIN may appear in several parts. The parts together are
*not* byte-identical to a single-process generation of the same ``families`` (their random
draws differ), but they are a statistically equivalent population of ``families`` families.
``parts=1`` (the default) is exactly the single-process stream.

``corrupt`` turns a clean stream into one with typical bad input for the dead-letter path.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from rules.params import load_params
from rules.retirement import retirement_day as _retirement_day
from state.dates import add_months
from state.iin import check_digit, make_iin

_BASELINE = load_params()  # the generator simulates the baseline policy (rules/parameters.json)

__all__ = ["generate", "part_families", "part_seed", "corrupt", "write_jsonl", "retirement_day", "CORRUPTION_KINDS", "REGIONS"]

Message = dict[str, Any]

# --- reference data --------------------------------------------------------------------------

# (region, population in millions (weights the draw), share of Russian-speaking families).
# Population: Bureau of National Statistics, 2024; the language shares are a rough north/south
# gradient tuned so the whole country comes out near 70 % kk / 30 % ru.
REGIONS: tuple[tuple[str, float, float], ...] = (
    ("Almaty", 2.29, 0.45), ("Astana", 1.42, 0.30), ("Shymkent", 1.22, 0.08),
    ("Turkestan region", 2.15, 0.03), ("Almaty region", 1.52, 0.15), ("Zhambyl region", 1.22, 0.08),
    ("Karaganda region", 1.14, 0.62), ("Aktobe region", 0.94, 0.15), ("Kyzylorda region", 0.84, 0.03),
    ("Kostanay region", 0.83, 0.70), ("Akmola region", 0.79, 0.55), ("Mangystau region", 0.78, 0.04),
    ("Pavlodar region", 0.76, 0.65), ("East Kazakhstan region", 0.72, 0.62), ("Atyrau region", 0.70, 0.04),
    ("Zhetisu region", 0.70, 0.15), ("West Kazakhstan region", 0.69, 0.25), ("Abai region", 0.61, 0.35),
    ("North Kazakhstan region", 0.53, 0.75), ("Ulytau region", 0.22, 0.25),
)
_REGION_CUM = tuple(itertools.accumulate(w for _, w, _ in REGIONS))

_OPERATORS = ("700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778")
_BANKS = ("722", "601", "998", "965", "914", "826", "856", "070")  # Kaspi, Halyk, Jusan, Forte, ...
_ALNUM = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"

_DISMISSAL_REASONS = ("staff_reduction", "employer_liquidation", "contract_expiry", "own_initiative",
                      "disciplinary", "other")
_DISMISSAL_CUM = tuple(itertools.accumulate((0.25, 0.10, 0.20, 0.30, 0.05, 0.10)))
_ADULT_CAUSES = ("general_illness", "since_childhood", "work_injury", "occupational_disease", "other")
_ADULT_CAUSE_CUM = tuple(itertools.accumulate((0.68, 0.12, 0.07, 0.05, 0.08)))
_CHILD_CAUSES = ("since_childhood", "general_illness", "other")
_CHILD_CAUSE_CUM = tuple(itertools.accumulate((0.70, 0.22, 0.08)))
# Adults' groups so that, with ~15 % child rulings, the whole mix is I 10 / II 40 / III 35 / child 15.
_ADULT_GROUPS = ("I", "II", "III")
_ADULT_GROUP_CUM = tuple(itertools.accumulate((0.10, 0.40, 0.35)))
_PCT = {"I": (80, 90, 100), "II": (60, 70, 80), "III": (30, 40, 50, 60), "child": (0,)}
_OLD_AWARDS = ("mother_heroine", "materinskaya_slava_1", "materinskaya_slava_2", "altyn_alka", "kumis_alka")
_OLD_AWARD_CUM = tuple(itertools.accumulate((0.20, 0.25, 0.25, 0.15, 0.15)))


_TZ = "+05:00"
_WORK_TIMES = tuple(f"T{h:02d}:{m:02d}:00{_TZ}" for h in range(9, 18) for m in range(60))
_N_TIMES = len(_WORK_TIMES)
_YEAR = 365.2425
_NEVER = 1 << 30  # a day after any period: "not yet known" / "indefinite"
_MAX_SERIAL = 9999  # an IIN has four serial digits; serial 0 is never used
_SUBSCRIBERS = 10_000_000  # seven-digit subscriber numbers per operator code

# Event rates of the period, per person (or per employed person) and year.
BIRTHS_PER_1000 = 20.0
DEATHS_PER_1000 = 7.0
RULINGS_PER_1000 = 5.0
DISMISSALS_PER_EMPLOYED = 0.04
HIRES_PER_JOBLESS = 0.05
MOVERS_PER_1000 = 5.0
CONTACT_CHANGES_PER_ADULT = 0.04
TWIN_SHARE = 0.015
LATE_SHARE = 0.005

CORRUPTION_KINDS = ("invalid_json", "schema", "bad_iin", "unknown_type", "duplicate")


def retirement_day(born: int, male: bool) -> int:
    """First day (ordinal) on which the age is at least the retirement age then in force (rules.md §1).

    The generator retires people on the same day the rules do: one schedule, in ``rules/``.
    """
    return _retirement_day(born, "male" if male else "female", _BASELINE)


# --- per-person state -----------------------------------------------------------------------


@dataclass(slots=True)
class _Person:
    """What the simulation must remember about one person; slots keep 300 000 of them small."""

    iin: str
    born: int                 # ordinal
    male: bool
    adult_on: int             # 18th birthday
    retire: int               # the day retirement age is reached
    family: int               # index; the wire id is F-<index+1>
    mother: int = -1          # person index, -1 = not in the data
    father: int = -1
    partner: int = -1
    language: str = "kk"
    region: int = 0
    phone: str | None = None
    iban: str | None = None
    alive: bool = True
    known: int = 0            # the day the registry first knew the person (events wait for it)
    employer: int = -1        # index into the employers, -1 = not employed
    wage: int = 0
    hired: int = 0            # first day paid by the current employer
    unemployed: bool = False  # registered as unemployed
    pensioned: bool = False
    kids: list[int] | None = None
    disability: tuple[str, str, int, int] | None = None  # group, cause, pct, valid_until (_NEVER)
    award: str | None = None


@functools.lru_cache(maxsize=256)
def _month_bounds(m: int) -> tuple[int, int]:
    """First and last day (ordinals) of month index ``year*12 + month-1``."""
    year, month = divmod(m, 12)
    return dt.date(year, month + 1, 1).toordinal(), dt.date(year + (month == 11), (month + 1) % 12 + 1, 1).toordinal() - 1


def _cum_pick(r: random.Random, cum: tuple[float, ...], items: tuple[Any, ...]) -> Any:
    return items[bisect.bisect(cum, r.random() * cum[-1])]


def _iban(r: random.Random) -> str:
    """A Kazakh IBAN whose mod-97 check digits are right, so a strict consumer accepts it too."""
    bban = r.choice(_BANKS) + "".join(r.choice(_ALNUM) if i == 0 else str(r.randrange(10)) for i in range(13))
    numeric = "".join(str(int(c, 36)) for c in bban + "KZ00")
    return f"KZ{98 - int(numeric) % 97:02d}{bban}"


def _mortality(age: float) -> float:
    """Deaths per person-year by age, roughly Kazakhstan's life table; only the shape matters."""
    if age < 1:
        return 0.008
    if age < 15:
        return 0.0004
    if age < 30:
        return 0.0012
    if age < 45:
        return 0.003
    if age < 55:
        return 0.006
    if age < 65:
        return 0.014
    if age < 75:
        return 0.03
    return 0.07


def _fertility(age: float) -> float:
    """Births per woman-year by age (Kazakhstan's TFR is about 3)."""
    if age < 18 or age >= 45:
        return 0.0
    if age < 20:
        return 0.04
    if age < 25:
        return 0.13
    if age < 30:
        return 0.16
    if age < 35:
        return 0.13
    if age < 40:
        return 0.08
    return 0.025


# --- the simulation -------------------------------------------------------------------------


@dataclass(slots=True)
class _World:
    """The population and the event agenda of one generation run."""

    r: random.Random
    families: int
    start: int                        # first day of the period (ordinal)
    end: int                          # last day of the period (ordinal)
    part: int = 0                     # this part's index K of ``parts`` (module docstring)
    parts: int = 1
    total: int = -1                   # families of all parts together (-1: ``families``, one part)
    tag: str = ""                     # event-id suffix of the prefix: the part when ``parts`` > 1
    phone_slots: int = _SUBSCRIBERS   # subscriber numbers of this part: part + parts * slot
    people: list[_Person] = field(default_factory=list)
    members: list[list[int]] = field(default_factory=list)  # person indices by family, dead included
    serials: dict[tuple[int, bool], int] = field(default_factory=dict)
    phones: set[str] = field(default_factory=set)
    employers: list[str] = field(default_factory=list)
    employer_cum: list[float] = field(default_factory=list)
    employed: dict[int, None] = field(default_factory=dict)        # an ordered set
    ended: list[tuple[int, int, int, int]] = field(default_factory=list)  # pid, first, last, wage
    agenda: dict[int, list[tuple[int, int, Any]]] = field(default_factory=dict)
    buckets: dict[int, list[tuple[int, int, Message]]] = field(default_factory=dict)
    ids: dict[str, Iterator[int]] = field(default_factory=dict)
    iso_cache: dict[int, str] = field(default_factory=dict)
    # family -> (valid_until, day it is extended or 0, extended valid_until)
    kandas: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    single_men: list[int] = field(default_factory=list)       # men living alone, 20-45
    young_adults: list[int] = field(default_factory=list)     # 20-34, living with a parent or alone
    single_mothers: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.total < 0:
            self.total = self.families

    # --- small helpers ---

    def iso(self, day: int) -> str:
        s = self.iso_cache.get(day)
        if s is None:
            s = self.iso_cache[day] = dt.date.fromordinal(day).isoformat()
        return s

    def event_id(self, prefix: str) -> str:
        counter = self.ids.get(prefix)
        if counter is None:
            counter = self.ids[prefix] = itertools.count(1)
        return f"{prefix}{self.tag}-{next(counter):07d}"

    def new_iin(self, born: int, male: bool) -> tuple[str, int]:
        """A unique valid IIN and the birth day it encodes: one serial counter per (birth date, sex),
        skipping serials with no check digit.

        Part K of P uses serials K+1, K+1+P, K+1+2P, … up to 9999, so parts never share an IIN.
        When a birth date's serials are used up (at national scale the ages the draws clamp to,
        e.g. exactly 80 or 17.9 years, pile up on one date), someone born before the period is
        born a day later instead; a newborn of the period has no such way out, and that fails
        rather than reuse an IIN. Below that density (up to about 3 million families in all,
        however many parts) nobody moves.
        """
        while True:
            key = (born, male)
            serial = self.serials.get(key, self.part + 1)
            birth = dt.date.fromordinal(born)
            sex = "male" if male else "female"
            while serial <= _MAX_SERIAL:
                iin = make_iin(birth, sex, serial)
                serial += self.parts
                if iin is not None:
                    self.serials[key] = serial
                    return iin, born
            self.serials[key] = serial
            if born + 1 >= self.start:
                raise RuntimeError(
                    f"IIN serials exhausted for people born {birth} ({sex}) in part {self.part} of {self.parts}: "
                    f"an IIN has {_MAX_SERIAL} serials per birth date and sex, this part gets every "
                    f"{self.parts}th of them")
            born += 1

    def new_phone(self) -> str:
        """A phone number no one else has: part K of P uses subscriber numbers K, K+P, K+2P, …"""
        r = self.r
        if len(self.phones) * 2 >= self.phone_slots * len(_OPERATORS):
            raise RuntimeError(f"phone numbers of part {self.part} of {self.parts} are half used up: use fewer parts")
        while True:
            phone = f"+7{r.choice(_OPERATORS)}{self.part + self.parts * r.randrange(self.phone_slots):07d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def family_id(self, fam: int) -> str:
        """The wire id of local family ``fam``: from its global index (module docstring)."""
        if fam < self.families:
            index = self.part + self.parts * fam
        else:  # formed in the period: after every part's initial families
            index = self.total + self.part + self.parts * (fam - self.families)
        return f"F-{index + 1:07d}"

    def new_family(self) -> int:
        self.members.append([])
        return len(self.members) - 1

    def living(self, fam: int) -> int:
        return sum(1 for pid in self.members[fam] if self.people[pid].alive)

    def born_at_age(self, age: float) -> int:
        """Birth day of someone ``age`` years old on the eve of the period."""
        return self.start - 1 - int(age * _YEAR)

    def age(self, pid: int, on: int) -> float:
        return (on - self.people[pid].born) / _YEAR

    def pick_employer(self) -> int:
        return bisect.bisect(self.employer_cum, self.r.random() * self.employer_cum[-1])

    def draw_wage(self) -> int:
        """Monthly wage: lognormal around the 350 000 KZT median, never below the minimum wage."""
        wage = int(self.r.lognormvariate(math.log(350_000), 0.5) / 500) * 500
        return max(85_000, wage)

    def schedule(self, day: int, action: int, pid: int, arg: Any = None) -> None:
        if self.start <= day <= self.end:
            self.agenda.setdefault(day, []).append((action, pid, arg))

    def delay(self) -> int:
        """Days from occurrence to record: mostly the same day, ~0.5 % more than 30 days late."""
        u = self.r.random()
        if u < LATE_SHARE:
            return 31 + int(self.r.random() * 30)
        if u < 0.70:
            return 0
        if u < 0.85:
            return 1
        if u < 0.95:
            return 2
        return 3

    def emit(self, prefix: str, etype: str, pid: int, occurred: int, data: dict[str, Any],
             delay: int | None = None, at: tuple[int, int] | None = None) -> tuple[int, int]:
        """Queue an event for the day the registry records it; returns (record day, time slot).

        Nothing about a person is recorded before the registry knew the person (a newborn's
        birth record), so no consumer meets an event for an unknown IIN.
        """
        person = self.people[pid]
        if at is None:
            rec = occurred + (self.delay() if delay is None else delay)
            rec = max(rec, person.known)
            at = (rec, int(self.r.random() * _N_TIMES))
        rec, slot = at
        if rec <= self.end:
            msg = {"event_id": self.event_id(prefix), "type": etype, "iin": person.iin,
                   "occurred_on": self.iso(occurred), "recorded_at": self.iso(rec) + _WORK_TIMES[slot],
                   "data": data}
            bucket = self.buckets.get(rec)
            if bucket is None:
                bucket = self.buckets[rec] = []
            bucket.append((occurred, slot, msg))
        return at

    # --- population ---

    def add_person(self, fam: int, born: int, male: bool, language: str, region: int,
                   mother: int = -1, father: int = -1) -> int:
        r = self.r
        pid = len(self.people)
        iin, born = self.new_iin(born, male)
        person = _Person(iin, born, male, add_months(born, 216), retirement_day(born, male),
                         fam, mother, father, language=language, region=region, known=self.start - 1)
        if (self.start - born) / _YEAR >= 18:
            if r.random() < 0.92:
                person.phone = self.new_phone()
            if r.random() < 0.80:
                person.iban = _iban(r)
        self.people.append(person)
        self.members[fam].append(pid)
        for parent in (mother, father):
            if parent >= 0:
                p = self.people[parent]
                if p.kids is None:
                    p.kids = []
                p.kids.append(pid)
        return pid

    def kid_ages(self, n: int, youngest_max: float, gap: tuple[float, float], oldest_max: float) -> list[float]:
        """Ages of ``n`` siblings, youngest first, squeezed so the eldest is at most ``oldest_max``."""
        r = self.r
        ages = [r.uniform(0, youngest_max)]
        for _ in range(n - 1):
            ages.append(ages[-1] + r.uniform(*gap))
        if ages[-1] > oldest_max:
            lo = ages[0]
            scale = (oldest_max - lo) / (ages[-1] - lo)
            ages = [lo + (a - lo) * scale for a in ages]
        return ages

    def build_family(self, fam: int) -> None:
        """One household of a type drawn from a Kazakh-like mix (mean ~3.2 persons, ~10 % with 4+ children)."""
        r = self.r
        region = bisect.bisect(_REGION_CUM, r.random() * _REGION_CUM[-1])
        lang = "ru" if r.random() < REGIONS[region][2] else "kk"

        def add(age: float, male: bool, mother: int = -1, father: int = -1) -> int:
            own = lang if r.random() < 0.93 else ("kk" if lang == "ru" else "ru")
            return self.add_person(fam, self.born_at_age(age), male, own, region, mother, father)

        def couple(mum_age: float) -> tuple[int, int]:
            mum = add(mum_age, False)
            dad = add(min(80.0, max(19.0, mum_age + r.uniform(-1, 6))), True)
            self.people[mum].partner, self.people[dad].partner = dad, mum
            return mum, dad

        def children(ages: list[float], mum: int, dad: int) -> None:
            for a in ages:
                add(a, r.random() < 0.512, mum, dad)

        def grandparents(parent: int) -> None:
            page = self.age(parent, self.start)
            age = min(80.0, page + r.uniform(22, 32))
            if r.random() < 0.35:
                gm, gf = add(age, False), add(min(80.0, age + r.uniform(0, 5)), True)
                self.people[gm].partner, self.people[gf].partner = gf, gm
            else:
                male = r.random() < 0.3
                one = add(age, male)
                gm, gf = (-1, one) if male else (one, -1)
            p = self.people[parent]
            p.mother, p.father = gm, gf
            for g in (gm, gf):
                if g >= 0:
                    self.people[g].kids = [parent]

        u = r.random()
        if u < 0.22:  # one person: young, middle-aged or an elderly widow(er)
            v = r.random()
            if v < 0.45:
                age, male = r.uniform(19, 35), r.random() < 0.55
            elif v < 0.70:
                age, male = r.uniform(35, 60), r.random() < 0.5
            else:
                age, male = r.uniform(60, 80), r.random() < 0.3
            pid = add(age, male)
            if male and age < 45:
                self.single_men.append(pid)
            if age < 35:
                self.young_adults.append(pid)
        elif u < 0.39:  # a couple without children at home
            couple(r.uniform(20, 34) if r.random() < 0.5 else r.uniform(50, 78))
        elif u < 0.70:  # a couple with 1-3 children, the eldest sometimes grown up
            n = _cum_pick(r, (0.40, 0.75, 1.0), (1, 2, 3))
            ages = self.kid_ages(n, 16, (1.5, 6), 28)
            mum, dad = couple(ages[-1] + r.uniform(20, 32))
            children(ages, mum, dad)
        elif u < 0.797:  # a large family: 4-9 children, sometimes a single mother or a grandparent
            n = _cum_pick(r, (0.45, 0.72, 0.86, 0.94, 0.98, 1.0), (4, 5, 6, 7, 8, 9))
            ages = self.kid_ages(n, 3.5, (1.1, 2.4), 17.5)
            mum_age = ages[-1] + r.uniform(19, 26)
            if r.random() < 0.15:
                mum, dad = add(mum_age, False), -1
                self.single_mothers.append(mum)
            else:
                mum, dad = couple(mum_age)
            children(ages, mum, dad)
            if r.random() < 0.2:
                grandparents(dad if dad >= 0 and r.random() < 0.6 else mum)
        elif u < 0.872:  # a single mother with 1-3 children
            n = _cum_pick(r, (0.55, 0.85, 1.0), (1, 2, 3))
            ages = self.kid_ages(n, 14, (1.5, 5), 17.9)
            mum = add(ages[-1] + r.uniform(19, 30), False)
            self.single_mothers.append(mum)
            children(ages, mum, -1)
        elif u < 0.962:  # three generations: a couple, 1-3 children and a grandparent or two
            n = _cum_pick(r, (0.35, 0.75, 1.0), (1, 2, 3))
            ages = self.kid_ages(n, 10, (1.5, 4), 17.9)
            mum, dad = couple(ages[-1] + r.uniform(20, 30))
            children(ages, mum, dad)
            grandparents(dad if r.random() < 0.6 else mum)
        else:  # an older parent with a grown-up child
            page = r.uniform(48, 78)
            male = r.random() < 0.3
            parent = add(page, male)
            for _ in range(1 if r.random() < 0.7 else 2):
                add(r.uniform(18, min(35.0, page - 20)), r.random() < 0.5, -1 if male else parent,
                    parent if male else -1)
        if r.random() < 0.01:  # a kandas (ethnic Kazakh repatriate) family: one status for all members,
            # valid until a day spread over the period and half as long again; 40 % get it extended
            horizon = max(1, int((self.end - self.start + 1) * 1.5))
            until = self.start + r.randrange(horizon)
            extended = until - r.randint(3, 45) if r.random() < 0.4 else 0
            self.kandas[fam] = (until, extended, until + r.randint(60, 182))

    def build(self) -> None:
        r = self.r
        n_employers = max(20, self.families // 8)  # this part's own employers (their BINs may recur in another)
        for _ in range(n_employers):
            while True:
                first11 = f"{r.randrange(0, 26):02d}{r.randrange(1, 13):02d}40{r.randrange(100_000):05d}"
                k = check_digit(first11)
                if k is not None:
                    self.employers.append(first11 + str(k))
                    break
        self.employer_cum = list(itertools.accumulate(1.0 / (i + 1) ** 0.8 for i in range(n_employers)))
        for _ in range(self.families):
            self.build_family(self.new_family())
        for pid, p in enumerate(self.people):  # grown-up children still at home can marry away
            if (p.mother >= 0 or p.father >= 0) and p.partner < 0 and 20 <= self.age(pid, self.start) < 35:
                parent = self.people[p.mother if p.mother >= 0 else p.father]
                if parent.family == p.family:
                    self.young_adults.append(pid)

    # --- the population load ---

    def registration(self, pid: int, occurred: str, recorded_at: str) -> Message:
        p = self.people[pid]
        data: dict[str, Any] = {"birth_date": self.iso(p.born), "sex": "male" if p.male else "female",
                                "family_id": self.family_id(p.family)}
        if p.mother >= 0:
            data["mother_iin"] = self.people[p.mother].iin
        if p.father >= 0:
            data["father_iin"] = self.people[p.father].iin
        if p.phone is not None:
            data["phone"] = p.phone
        data["language"] = p.language
        data["region"] = REGIONS[p.region][0]
        if p.iban is not None:
            data["iban"] = p.iban
        return {"event_id": self.event_id("pop"), "type": "person_registered", "iin": p.iin,
                "occurred_on": occurred, "recorded_at": recorded_at, "data": data}

    def load(self) -> Iterator[Message]:
        """Everyone's registration, then what the registries knew before the period, as late records."""
        eve = self.start - 1
        reg_at = self.iso(eve) + "T08:00:00" + _TZ
        late_at = self.iso(eve) + "T09:00:00" + _TZ
        occurred = self.iso(eve)
        for members in self.members:  # family by family, oldest first: parents before their children
            for pid in sorted(members, key=lambda i: self.people[i].born):
                yield self.registration(pid, occurred, reg_at)
        for pid in range(len(self.people)):
            yield from self.history(pid, late_at)

    def late(self, prefix: str, etype: str, pid: int, occurred: int, data: dict[str, Any], at: str) -> Message:
        assert occurred <= self.start - 1
        return {"event_id": self.event_id(prefix), "type": etype, "iin": self.people[pid].iin,
                "occurred_on": self.iso(occurred), "recorded_at": at, "data": data}

    def history(self, pid: int, at: str) -> Iterator[Message]:
        """Draw one person's standing facts (state for the period) and yield them as late records."""
        r = self.r
        p = self.people[pid]
        start = self.start
        latest = start - 31 - 1  # late records occurred more than 30 days before they were recorded
        age = self.age(pid, start)
        eighteen = p.adult_on

        # a disability ruling in force, ~3.5 % of people, more often with age
        prevalence = 0.016 if age < 18 else 0.033 if age < 40 else 0.065 if age < 60 else 0.10
        if r.random() < prevalence and latest - p.born > 200:
            if age < 18:
                ruled = r.randint(p.born + 180, latest)
            else:
                earliest = max(eighteen, latest - int(10 * _YEAR))
                ruled = r.randint(earliest, latest) if earliest <= latest else -1
            if ruled >= 0:
                group, cause, pct, until = self.draw_ruling(pid, ruled)
                if until != _NEVER:  # in force at the start: lapses in the period or later
                    horizon = self.end - start + 1
                    until = start + (r.randrange(max(1, horizon)) if r.random() < 0.5 else horizon + r.randrange(730))
                    if group == "child":
                        until = eighteen if r.random() < 0.5 else min(until, eighteen)
                p.disability = (group, cause, pct, until)
                data: dict[str, Any] = {"group": group, "cause": cause, "loss_of_working_capacity_pct": pct}
                if until != _NEVER:
                    data["valid_until"] = self.iso(until)
                yield self.late("dis", "disability_ruling", pid, ruled, data, at)

        # a pension for everyone above retirement age; the rest get theirs in the period
        retire = p.retire
        assigned = retire + r.randint(10, 45)
        if assigned <= latest:
            p.pensioned = True
            amount = max(80_000, int(r.lognormvariate(math.log(165_000), 0.22)))
            yield self.late("sta", "pension_assigned", pid, assigned, {"monthly_amount_kzt": amount}, at)

        # awards: mothers of 5+ children in the data, and some older women from earlier years
        if not p.male:
            n = len(p.kids) if p.kids else 0
            if n >= 5:
                yield from self.large_mother_awards(pid, n, latest, at)
            elif age > 50 and r.random() < 0.03:
                p.award = _cum_pick(r, _OLD_AWARD_CUM, _OLD_AWARDS)
                when = min(latest, add_months(p.born, 12 * r.randint(32, 45)))
                yield self.late("sta", "award", pid, when, {"award": p.award}, at)

        # kandas status for the whole family: granted before, expiring over the period and beyond
        if p.family in self.kandas:
            until = self.kandas[p.family][0]
            granted = min(latest, until - 365 - r.randrange(60))
            yield self.late("sta", "kandas_status", pid, granted, {"valid_until": self.iso(until)}, at)

        # employment and 24 months of contributions
        if self.draws_employment(pid, age, retire):
            yield from self.employment_history(pid, eighteen, at)

    def draw_ruling(self, pid: int, ruled: int) -> tuple[str, str, int, int]:
        """Group, cause, pct and valid_until of a new ruling: ``child`` under 18; adults by the mix."""
        r = self.r
        p = self.people[pid]
        if ruled < p.adult_on:
            cause = _cum_pick(r, _CHILD_CAUSE_CUM, _CHILD_CAUSES)
            until = min(p.adult_on, ruled + int(_YEAR * r.randint(1, 5)))
            return "child", cause, 0, until
        group = _cum_pick(r, _ADULT_GROUP_CUM, _ADULT_GROUPS)
        cause = _cum_pick(r, _ADULT_CAUSE_CUM, _ADULT_CAUSES)
        indefinite = {"I": 0.6, "II": 0.3, "III": 0.15}[group]
        until = _NEVER if r.random() < indefinite else ruled + int(_YEAR * r.randint(1, 2))
        return group, cause, r.choice(_PCT[group]), until

    def large_mother_awards(self, pid: int, n: int, latest: int, at: str) -> Iterator[Message]:
        """Most mothers of 5+ already hold their award; some get it (or the higher one) in the period."""
        r = self.r
        p = self.people[pid]
        kids = sorted(self.people[k].born for k in p.kids or ())
        due = "altyn_alka" if n >= 6 else "kumis_alka"
        fifth = kids[4] + int(_YEAR * r.uniform(1, 3))
        u = r.random()
        if n >= 6 and u < 0.35 and fifth <= latest:  # had kumis_alka at five, altyn_alka at six
            p.award = "kumis_alka"
            yield self.late("sta", "award", pid, fifth, {"award": "kumis_alka"}, at)
            u = r.random() * 0.9
        when = kids[5 if n >= 6 else 4] + int(_YEAR * r.uniform(1, 3))
        if u < 0.7 and when <= latest:
            p.award = due
            yield self.late("sta", "award", pid, when, {"award": due}, at)
        elif u < 0.9 and max(self.start, when) <= self.end:  # her award comes during the period
            self.schedule(r.randint(max(self.start, when), self.end), _AWARD, pid, due)

    def draws_employment(self, pid: int, age: float, retire: int) -> bool:
        """Formal wage employment (what pays social contributions): ~45 % of working-age adults.

        A father living with his children is usually the family's formal earner; the young,
        the near-retired and mothers of infants less often are.
        """
        p = self.people[pid]
        if age < 18 or retire <= self.start + 30:
            return False
        if age < 22:
            rate = 0.12
        elif age < 55:
            if p.male:
                rate = 0.72 if p.kids and p.partner >= 0 else 0.38
            else:
                rate = 0.36
        else:
            rate = 0.28
        if p.disability is not None:
            rate *= {"I": 0.0, "II": 0.3, "III": 0.7, "child": 0.3}[p.disability[0]]
        if not p.male and p.kids and max(self.people[k].born for k in p.kids) > self.start - 365:
            rate *= 0.3  # a mother of an infant is usually on childcare leave
        return self.r.random() < rate

    def employment_history(self, pid: int, eighteen: int, at: str) -> Iterator[Message]:
        r = self.r
        p = self.people[pid]
        latest = self.start - 45
        if r.random() < 0.72:
            hired = latest - int(_YEAR * r.uniform(2, 15))
        else:
            hired = latest - r.randrange(int(_YEAR * 2))
        hired = max(hired, eighteen + 30)
        if hired > latest:
            return
        p.employer, p.wage, p.hired = self.pick_employer(), self.draw_wage(), hired
        self.employed[pid] = None
        yield self.late("emp", "employment_started", pid, hired,
                        {"employer_bin": self.employers[p.employer], "monthly_wage_kzt": p.wage}, at)
        first = dt.date.fromordinal(self.start)
        m0 = first.year * 12 + first.month - 1
        for m in range(m0 - 24, m0):
            income = self.month_income(p.wage, p.hired, _NEVER, m)
            if income > 0:
                year, month = divmod(m, 12)
                yield self.late_contribution(pid, _month_bounds(m)[1], f"{year:04d}-{month + 1:02d}", income, at)

    def late_contribution(self, pid: int, month_end: int, month: str, income: int, at: str) -> Message:
        return {"event_id": self.event_id("emp"), "type": "contribution", "iin": self.people[pid].iin,
                "occurred_on": self.iso(month_end), "recorded_at": at,
                "data": {"month": month, "income_kzt": income, "social_contribution_kzt": (income * 5 + 50) // 100}}

    def month_income(self, wage: int, first: int, last: int, m: int) -> int:
        """Pay for month index ``m`` of a job held from ``first`` to ``last``: pro rata, a bonus now and then."""
        m_start, m_end = _month_bounds(m)
        worked = min(last, m_end) - max(first, m_start) + 1
        if worked <= 0:
            return 0
        income = wage * worked // (m_end - m_start + 1)
        if self.r.random() < 0.08:
            income += int(wage * self.r.uniform(0.1, 0.8))
        return income

    # --- the period: planning ---

    def plan(self) -> None:
        """Draw who dies, gives birth, loses a job, ... and when; the handlers check it still makes sense."""
        r = self.r
        start, end = self.start, self.end
        span = end - start + 1
        years = span / 365.0
        if span <= 0:
            return
        people = self.people
        n = len(people)
        if n == 0:
            return
        mid = start + span // 2

        # births: per woman, by age, partner and time since her last child; calibrated to the rate
        mothers: list[tuple[int, float, int, int]] = []
        for pid, p in enumerate(people):
            if p.male:
                continue
            first = max(start, max((people[k].born for k in p.kids or ()), default=0) + 300,
                        p.adult_on)
            last = min(end, add_months(p.born, 45 * 12) - 1)
            if first > last:
                continue
            weight = _fertility(self.age(pid, mid)) * (1.0 if p.partner >= 0 else 0.12)
            if weight > 0:
                mothers.append((pid, weight * (last - first + 1) / 365.0, first, last))
        k = BIRTHS_PER_1000 / 1000 * n * years / (1 + TWIN_SHARE) / max(1e-9, sum(w for _, w, _, _ in mothers))
        for pid, w, first, last in mothers:
            if r.random() < min(0.9, k * w):
                self.schedule(r.randint(first, last), _BIRTH, pid)

        # deaths, by age
        weights = [_mortality(self.age(pid, start)) for pid in range(n)]
        k = DEATHS_PER_1000 / 1000 * n / sum(weights)
        for pid in range(n):
            if r.random() < min(0.9, k * weights[pid] * years):
                self.schedule(start + r.randrange(span), _DEATH, pid)

        # new disability rulings for people without one, by age
        weights = [0.0 if p.disability else (0.4 if a < 18 else 0.6 if a < 40 else 1.4 if a < 60 else 2.2)
                   for p, a in ((p, self.age(pid, start)) for pid, p in enumerate(people))]
        k = RULINGS_PER_1000 / 1000 * n / max(1e-9, sum(weights))
        for pid in range(n):
            if r.random() < min(0.9, k * weights[pid] * years):
                self.schedule(start + r.randrange(span), _RULING, pid)

        for pid, p in enumerate(people):
            age = self.age(pid, start)
            retire = p.retire
            # re-examination of a ruling that lapses in the period: renewed, revoked, or left to lapse
            if p.disability is not None and start <= p.disability[3] <= end + 20:
                u = r.random()
                lapses = p.disability[3]  # a child is re-examined on the day the ruling lapses (18 at most)
                when = lapses if p.disability[0] == "child" else max(start, lapses - r.randint(0, 20))
                if u < 0.6:
                    self.schedule(when, _RULING, pid, "renewal")
                elif u < 0.75:
                    self.schedule(when, _REVOKE, pid)
            # pension a few weeks after reaching retirement age
            if not p.pensioned:
                self.schedule(max(start, retire + r.randint(15, 45)), _PENSION, pid)
            if pid in self.employed:
                self.schedule(retire, _RETIRE, pid)
                if r.random() < DISMISSALS_PER_EMPLOYED * years:
                    self.schedule(start + r.randrange(span), _DISMISS, pid)
            elif 18 <= age and retire > end and (p.disability is None or p.disability[0] != "I"):
                if r.random() < HIRES_PER_JOBLESS * years:
                    self.schedule(start + r.randrange(span), _HIRE, pid)
            if age >= 18 and r.random() < CONTACT_CHANGES_PER_ADULT * years:
                self.schedule(start + r.randrange(span), _CONTACT, pid)
            if p.family in self.kandas:  # an extension by up to six months, the same for the family
                until, extended, later = self.kandas[p.family]
                if extended and until >= start:
                    self.schedule(max(start, extended), _KANDAS, pid, later)

        # kandas statuses granted to whole families during the period
        for fam in range(self.families):
            if fam not in self.kandas and r.random() < 0.0015 * years:
                self.schedule(start + r.randrange(span), _KANDAS_GRANT, fam)

        # marriages: movers are ~0.5 % of people a year, ~1.8 movers an occasion
        for _ in range(n):
            if r.random() < MOVERS_PER_1000 / 1000 * years / 1.8:
                self.schedule(start + r.randrange(span), _MARRY, -1)

    # --- the period: handlers (each checks the person is still in the state the plan assumed) ---

    def do_birth(self, day: int, pid: int, _: Any) -> None:
        r = self.r
        mum = self.people[pid]
        if not mum.alive or any(self.people[k].born > day - 300 for k in mum.kids or ()):
            return
        dad = mum.partner if mum.partner >= 0 and self.people[mum.partner].family == mum.family else -1
        count = 2 if r.random() < TWIN_SHARE else 1
        at: tuple[int, int] | None = None
        for _ in range(count):
            male = r.random() < 0.512
            kid = self.add_person(mum.family, day, male, mum.language, mum.region, pid, dad)
            data: dict[str, Any] = {"mother_iin": mum.iin}
            if dad >= 0:
                data["father_iin"] = self.people[dad].iin
            data["family_id"] = self.family_id(mum.family)
            data["sex"] = "male" if male else "female"
            data["multiple_birth"] = count
            self.people[kid].known = day
            at = self.emit("civ", "birth", kid, day, data, at=at)  # twins share one record
            self.people[kid].known = at[0] if at[0] <= self.end else _NEVER

    def do_death(self, day: int, pid: int, _: Any) -> None:
        p = self.people[pid]
        if not p.alive:
            return
        self.emit("civ", "death", pid, day, {})
        p.alive = False
        if p.partner >= 0:
            self.people[p.partner].partner = -1
            p.partner = -1
        if p.employer >= 0:
            self.employed.pop(pid, None)
            p.employer = -1

    def do_ruling(self, day: int, pid: int, kind: Any) -> None:
        r = self.r
        p = self.people[pid]
        if not p.alive or (kind is None and p.disability is not None):
            return
        if kind == "renewal" and p.disability is not None:
            group, cause, pct, _ = p.disability
            if group == "child" and day >= p.adult_on:
                group, cause = ("II" if r.random() < 0.5 else "III"), "since_childhood"  # grown up
                pct = r.choice(_PCT[group])
            elif group != "child" and r.random() < 0.15:
                group = {"I": "II", "II": "III", "III": "II"}[group]
                pct = r.choice(_PCT[group])
            until = _NEVER if group == "I" and r.random() < 0.5 else day + int(_YEAR * r.randint(1, 2))
            if group == "child":
                until = min(until, p.adult_on)
        else:
            group, cause, pct, until = self.draw_ruling(pid, day)
        p.disability = (group, cause, pct, until)
        data: dict[str, Any] = {"group": group, "cause": cause, "loss_of_working_capacity_pct": pct}
        if until != _NEVER:
            data["valid_until"] = self.iso(until)
        self.emit("dis", "disability_ruling", pid, day, data)

    def do_revoke(self, day: int, pid: int, _: Any) -> None:
        p = self.people[pid]
        if p.alive and p.disability is not None:
            p.disability = None
            self.emit("dis", "disability_revoked", pid, day, {})

    def do_pension(self, day: int, pid: int, _: Any) -> None:
        p = self.people[pid]
        if p.alive and not p.pensioned:
            p.pensioned = True
            base = p.wage // 2 if p.wage else int(self.r.lognormvariate(math.log(150_000), 0.2))
            self.emit("sta", "pension_assigned", pid, day, {"monthly_amount_kzt": max(80_000, base + 36_000)})

    def end_job(self, day: int, pid: int, reason: str) -> None:
        p = self.people[pid]
        self.emit("emp", "dismissal", pid, day, {"employer_bin": self.employers[p.employer], "reason": reason})
        self.ended.append((pid, p.hired, day, p.wage))
        self.employed.pop(pid, None)
        p.employer = -1

    def start_job(self, day: int, pid: int, wage: int) -> None:
        p = self.people[pid]
        old = p.employer
        while p.employer == old:
            p.employer = self.pick_employer()
        p.wage, p.hired = wage, day
        self.employed[pid] = None
        self.emit("emp", "employment_started", pid, day,
                  {"employer_bin": self.employers[p.employer], "monthly_wage_kzt": wage})

    def do_retire(self, day: int, pid: int, _: Any) -> None:
        p = self.people[pid]
        if p.alive and p.employer >= 0:
            self.end_job(day, pid, "own_initiative")

    def do_dismiss(self, day: int, pid: int, _: Any) -> None:
        r = self.r
        p = self.people[pid]
        if not p.alive or p.employer < 0 or p.hired >= day or p.retire <= day:
            return
        reason = _cum_pick(r, _DISMISSAL_CUM, _DISMISSAL_REASONS)
        old_employer, wage = p.employer, p.wage
        self.end_job(day, pid, reason)
        if r.random() < (0.45 if reason == "own_initiative" else 0.08):  # a job change: new job the same day
            p.employer = old_employer
            self.start_job(day, pid, int(wage * r.uniform(0.95, 1.35)))
            p.hired = day + 1  # the old employer paid the day itself
        elif r.random() < 0.55:
            self.schedule(day + r.randint(1, 20), _REGISTER, pid)
        elif r.random() < 0.45:
            self.schedule(day + r.randint(10, 150), _HIRE, pid)

    def do_register(self, day: int, pid: int, _: Any) -> None:
        r = self.r
        p = self.people[pid]
        if not p.alive or p.employer >= 0 or p.unemployed:
            return
        p.unemployed = True
        self.emit("sta", "unemployed_registered", pid, day, {})
        if r.random() < 0.6:
            self.schedule(day + r.randint(15, 150), _HIRE, pid)
        else:
            self.schedule(day + r.randint(120, 200), _DEREGISTER, pid)

    def do_hire(self, day: int, pid: int, _: Any) -> None:
        p = self.people[pid]
        if not p.alive or p.employer >= 0 or p.retire <= day:
            return
        self.start_job(day, pid, self.draw_wage() if p.wage == 0 else int(p.wage * self.r.uniform(0.85, 1.25)))
        self.do_deregister(day, pid, None)

    def do_deregister(self, day: int, pid: int, _: Any) -> None:
        p = self.people[pid]
        if p.alive and p.unemployed:
            p.unemployed = False
            self.emit("sta", "unemployed_deregistered", pid, day, {})

    def do_contact(self, day: int, pid: int, _: Any) -> None:
        r = self.r
        p = self.people[pid]
        if not p.alive:
            return
        u = r.random()
        data: dict[str, Any]
        if u < 0.6:
            p.phone = self.new_phone()
            data = {"phone": p.phone}
        elif u < 0.8:
            p.language = "ru" if p.language == "kk" else "kk"
            data = {"language": p.language}
        else:
            p.iban = _iban(r)
            data = {"iban": p.iban}
        self.emit("pop", "contact_changed", pid, day, data)

    def do_kandas(self, day: int, pid: int, until: Any) -> None:
        if self.people[pid].alive:
            self.emit("sta", "kandas_status", pid, day, {"valid_until": self.iso(int(until))})

    def do_kandas_grant(self, day: int, fam: int, _: Any) -> None:
        """A whole family's status is granted at once (one record per member, same day)."""
        until = self.iso(day + 365)
        for pid in list(self.members[fam]):
            if self.people[pid].alive:
                self.emit("sta", "kandas_status", pid, day, {"valid_until": until})

    def do_award(self, day: int, pid: int, award: Any) -> None:
        p = self.people[pid]
        if p.alive and p.award != award:
            p.award = str(award)
            self.emit("sta", "award", pid, day, {"award": p.award})

    def move(self, day: int, pid: int, fam: int) -> None:
        p = self.people[pid]
        self.members[p.family].remove(pid)
        self.members[fam].append(pid)
        p.family = fam
        self.emit("pop", "family_changed", pid, day, {"family_id": self.family_id(fam)})

    def free_adult(self, pool: list[int], day: int, male: bool | None, tries: int = 20) -> int:
        """Someone from ``pool`` who is alive, unpartnered, of the given sex, and 19-45 on ``day``."""
        for _ in range(tries):
            if not pool:
                return -1
            pid = pool[int(self.r.random() * len(pool))]
            p = self.people[pid]
            if p.alive and p.partner < 0 and (male is None or p.male == male) and 19 <= self.age(pid, day) < 46:
                return pid
        return -1

    def do_marry(self, day: int, _pid: int, _: Any) -> None:
        """A marriage as ``family_changed``: a new household, a move to a man living alone, or a blended family."""
        r = self.r
        u = r.random()
        man = self.free_adult(self.single_men, day, True)
        if u < 0.2 and man >= 0 and self.living(self.people[man].family) == 1:
            mum = self.free_adult(self.single_mothers, day, False)
            if mum >= 0:  # she and her minor children join him
                kids = [k for k in self.people[mum].kids or () if self.people[k].alive
                        and self.people[k].family == self.people[mum].family and self.age(k, day) < 18]
                fam = self.people[man].family
                self.marry(mum, man)
                self.move(day, mum, fam)
                for kid in kids:
                    self.move(day, kid, fam)
                return
        if u < 0.55 and man >= 0 and self.living(self.people[man].family) == 1:
            bride = self.free_adult(self.young_adults, day, False)
            if bride >= 0:
                self.marry(bride, man)
                self.move(day, bride, self.people[man].family)
                return
        a = self.free_adult(self.young_adults, day, None)
        if a < 0:
            return
        b = self.free_adult(self.young_adults, day, not self.people[a].male)
        fam = self.new_family()
        origin = self.people[a].family
        self.move(day, a, fam)
        if b >= 0 and self.people[b].family != origin:
            self.marry(a, b)
            self.move(day, b, fam)

    def marry(self, a: int, b: int) -> None:
        self.people[a].partner, self.people[b].partner = b, a

    # --- the period: running it ---

    def contributions(self, month_end: int) -> None:
        """Each employed person's contribution for the month ending today, recorded 5-10 days later."""
        d = dt.date.fromordinal(month_end)
        m = d.year * 12 + d.month - 1
        month = f"{d.year:04d}-{d.month:02d}"
        income: dict[int, int] = {}
        for pid, first, last, wage in self.ended:
            paid = self.month_income(wage, first, last, m)
            if paid > 0 and self.people[pid].alive:
                income[pid] = income.get(pid, 0) + paid
        self.ended.clear()
        people = self.people
        for pid in self.employed:
            p = people[pid]
            income[pid] = income.get(pid, 0) + self.month_income(p.wage, p.hired, _NEVER, m)
        r = self.r
        for pid, paid in income.items():
            if paid <= 0:
                continue
            delay = 31 + int(r.random() * 30) if r.random() < LATE_SHARE else 5 + int(r.random() * 6)
            self.emit("emp", "contribution", pid, month_end,
                      {"month": month, "income_kzt": paid, "social_contribution_kzt": (paid * 5 + 50) // 100},
                      delay=delay)

    def period(self) -> Iterator[Message]:
        handlers: tuple[Callable[[int, int, Any], None], ...] = (
            self.do_birth, self.do_death, self.do_ruling, self.do_revoke, self.do_pension, self.do_retire,
            self.do_dismiss, self.do_register, self.do_hire, self.do_deregister, self.do_contact,
            self.do_kandas, self.do_kandas_grant, self.do_award, self.do_marry,
        )
        for day in range(self.start, self.end + 1):
            for action, pid, arg in self.agenda.pop(day, ()):
                handlers[action](day, pid, arg)
            if dt.date.fromordinal(day + 1).day == 1:
                self.contributions(day)
            bucket = self.buckets.pop(day, [])
            bucket.sort(key=_emission_order)
            for _, _, msg in bucket:
                yield msg
            iso = self.iso(day)
            yield {"event_id": f"day-{iso}", "type": "day", "occurred_on": iso}


(_BIRTH, _DEATH, _RULING, _REVOKE, _PENSION, _RETIRE, _DISMISS, _REGISTER, _HIRE, _DEREGISTER, _CONTACT,
 _KANDAS, _KANDAS_GRANT, _AWARD, _MARRY) = range(15)


def _emission_order(entry: tuple[int, int, Message]) -> tuple[int, int]:
    return entry[0], entry[1]


# --- public API -------------------------------------------------------------------------------


def part_families(families: int, part: int = 0, parts: int = 1) -> int:
    """How many of ``families`` part ``part`` of ``parts`` holds: global indices part, part+parts, …"""
    return len(range(part, families, parts))


def part_seed(seed: int, part: int = 0, parts: int = 1) -> int | str:
    """The random seed of one part: ``seed`` itself for a single part, else derived from (seed, part)."""
    return seed if parts == 1 else f"familycard-part:{seed}:{part}"


def generate(families: int, start: dt.date, days: int, seed: int = 1, *,
             part: int = 0, parts: int = 1, load_only: bool = False) -> Iterator[dict]:
    """Yield contract messages (dicts exactly as they'd be JSON-encoded) in emission order.

    ``part``/``parts``: generate only part ``part`` (0-based) of a population of ``families``
    families split ``parts`` ways — the families with global indices part, part+parts, …; its
    stream is seeded from (seed, part), and its family ids, IINs, phones and event ids never
    collide with another part's (module docstring). The concatenation of all parts is not
    byte-identical to ``parts=1`` but is a statistically equivalent population of ``families``
    families. Each part's period has its own ``day`` ticks, identical in every part (same event
    id, so a consumer takes them as one). ``parts=1`` is the single-process stream, unchanged.

    ``load_only``: yield only the population load (registrations and late records), exactly the
    messages that precede the period in the full stream with the same arguments; the period is
    neither planned nor simulated (the load does not depend on it).
    """
    if parts < 1 or not 0 <= part < parts:
        raise ValueError(f"part must be in 0..parts-1 and parts >= 1, got part {part} of {parts}")
    if families < 0:
        raise ValueError(f"families must be >= 0, got {families}")
    world = _World(random.Random(part_seed(seed, part, parts)), part_families(families, part, parts),
                   start.toordinal(), start.toordinal() + days - 1, part=part, parts=parts, total=families,
                   tag=str(part) if parts > 1 else "",
                   phone_slots=len(range(part, _SUBSCRIBERS, parts)))
    world.build()
    yield from world.load()
    if load_only:
        return
    world.plan()
    yield from world.period()


def corrupt(messages: Iterable[dict], fraction: float, seed: int | str = 1) -> Iterator[bytes]:
    """JSON-encode each message as one line and replace about ``fraction`` of them with bad input.

    The kinds are those a consumer must survive (``CORRUPTION_KINDS``): invalid JSON, a
    schema violation, an IIN with a wrong check digit, an unknown event type, and a
    redelivered earlier line. A duplicate is *added* after the current line (a redelivery
    loses nothing), the other kinds replace it. ``day`` ticks are never touched: they are
    the scheduler's, not a registry's. Every other line is byte-identical to ``orjson.dumps``.
    """
    r = random.Random(seed)
    recent: deque[bytes] = deque(maxlen=2000)
    for msg in messages:
        line = orjson.dumps(msg)
        if msg.get("type") == "day" or r.random() >= fraction:
            if msg.get("type") != "day":
                recent.append(line)
            yield line
            continue
        kind = CORRUPTION_KINDS[int(r.random() * len(CORRUPTION_KINDS))]
        if kind == "duplicate":
            recent.append(line)
            yield line
            yield recent[int(r.random() * len(recent))]
        else:
            yield _bad_line(kind, msg, line, r)


_SCHEMA_BREAKS: dict[str, tuple[tuple[str, Any], ...]] = {
    "person_registered": (("sex", "M"), ("birth_date", None), ("language", "en")),
    "birth": (("sex", "boy"), ("mother_iin", None), ("multiple_birth", "two")),
    "dismissal": (("reason", "fired"), ("employer_bin", None)),
    "disability_ruling": (("group", "IV"), ("loss_of_working_capacity_pct", 150), ("cause", "accident")),
    "award": (("award", "hero_mother"),),
    "contribution": (("income_kzt", "350000"), ("month", "2026/01"), ("social_contribution_kzt", None)),
    "employment_started": (("monthly_wage_kzt", "350 000"), ("employer_bin", "BIN-1")),
    "kandas_status": (("valid_until", "forever"),),
    "pension_assigned": (("monthly_amount_kzt", "150000 KZT"),),
    "family_changed": (("family_id", 42), ("family_id", None)),
    "contact_changed": (("language", "en"), ("phone", "8 701 123 45 67")),
}
_UNKNOWN_TYPES = ("marriage_registered", "address_changed", "divorce", "vaccination", "passport_issued")


def _bad_line(kind: str, msg: dict, line: bytes, r: random.Random) -> bytes:
    """One kind of typical bad input, derived from the message it replaces."""
    if kind == "invalid_json":
        v = int(r.random() * 4)
        if v == 0:
            return line[: 1 + int(r.random() * (len(line) - 2))]  # cut off mid-record
        if v == 1:
            return line.replace(b'"', b"'")  # Python repr, not JSON
        if v == 2:
            return line[:-1] + b",}"  # trailing comma
        return line[:-1] + b',"note":"\xff"}'  # not UTF-8
    bad = dict(msg)
    if kind == "unknown_type":
        bad["type"] = _UNKNOWN_TYPES[int(r.random() * len(_UNKNOWN_TYPES))]
    elif kind == "bad_iin":
        data = bad.get("data") or {}
        if "mother_iin" in data and r.random() < 0.3:
            bad["data"] = {**data, "mother_iin": _wrong_check_digit(data["mother_iin"], r)}
        else:
            bad["iin"] = _wrong_check_digit(bad["iin"], r)
    else:  # schema
        breaks = _SCHEMA_BREAKS.get(bad["type"], ())
        if breaks and r.random() < 0.7:
            name, value = breaks[int(r.random() * len(breaks))]
            data = dict(bad["data"])
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
            bad["data"] = data
        else:
            v = int(r.random() * 4)
            if v == 3:
                bad["data"] = []  # data must be an object
            else:
                bad.pop(("event_id", "occurred_on", "recorded_at")[v])
    return orjson.dumps(bad)


def _wrong_check_digit(iin: str, r: random.Random) -> str:
    return iin[:11] + str((int(iin[11]) + 1 + int(r.random() * 9)) % 10)


def write_jsonl(messages: Iterable[dict], out: BinaryIO) -> int:
    """Write messages as JSON lines (orjson, one per line) in large chunks; returns the count."""
    n = 0
    chunk: list[bytes] = []
    dumps = orjson.dumps
    for msg in messages:
        chunk.append(dumps(msg))
        n += 1
        if len(chunk) >= 8192:
            out.write(b"\n".join(chunk) + b"\n")
            chunk.clear()
    if chunk:
        out.write(b"\n".join(chunk) + b"\n")
    return n
