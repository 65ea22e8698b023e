"""The initial population: employers, households of a Kazakh-like mix, the people in them.

Also the draws about a person that both the population load and the period make (a new
disability ruling, a wage, a month's pay), so that a ruling drawn before the period and one
drawn during it follow the same mix. Nothing here emits a message: this module decides who
exists and how they are related; ``load.py`` and ``events.py`` turn that into records.
"""

from __future__ import annotations

import bisect
import itertools
import math

from familycard.generator.ids import _iban, _Ids
from familycard.generator.reference import (
    _ADULT_CAUSE_CUM,
    _ADULT_CAUSES,
    _ADULT_GROUP_CUM,
    _ADULT_GROUPS,
    _CHILD_CAUSE_CUM,
    _CHILD_CAUSES,
    _NEVER,
    _PCT,
    _REGION_CUM,
    _YEAR,
    REGIONS,
    _cum_pick,
    _month_bounds,
    retirement_day,
)
from familycard.generator.world import _Person
from state.dates import add_months


class _Population(_Ids):
    """Builds the families of ``_World`` (``build``) and draws facts about their members."""

    __slots__ = ()

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
        n_employers = max(20, self.families // 8)  # this part's own employers (their BINs may recur in another)
        for _ in range(n_employers):
            self.employers.append(self.new_employer_bin())
        self.employer_cum = list(itertools.accumulate(1.0 / (i + 1) ** 0.8 for i in range(n_employers)))
        for _ in range(self.families):
            self.build_family(self.new_family())
        for pid, p in enumerate(self.people):  # grown-up children still at home can marry away
            if (p.mother >= 0 or p.father >= 0) and p.partner < 0 and 20 <= self.age(pid, self.start) < 35:
                parent = self.people[p.mother if p.mother >= 0 else p.father]
                if parent.family == p.family:
                    self.young_adults.append(pid)

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
