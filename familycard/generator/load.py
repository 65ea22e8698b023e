"""The population load: what the registries already knew when the period starts.

Everyone's ``person_registered`` (family by family, parents before their children), then
each person's standing facts (a disability ruling in force, a pension, awards, a kandas
status, a job and 24 months of contributions) as late records dated before the period, so
they update a consumer's state and trigger nothing (rules.md §5). Drawing a fact also sets
it on the person, which is the state the period then starts from; a fact that falls due
during the period (a mother's award) goes on the agenda instead. The period's own draws all
come after the load's, so ``generate(..., load_only=True)`` can stop here with the same load.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

from familycard.generator.agenda import _AWARD, _Agenda
from familycard.generator.population import _Population
from familycard.generator.reference import _NEVER, _OLD_AWARD_CUM, _OLD_AWARDS, _YEAR, _cum_pick, _month_bounds
from familycard.generator.wire import _TZ
from familycard.generator.world import Message
from state.dates import add_months


class _Load(_Population, _Agenda):
    """The messages that precede the period (``load``), drawn person by person."""

    __slots__ = ()

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
