"""The period, day by day: who dies, gives birth, loses a job, … and when; then the days.

``plan`` draws the period's events up front, person by person and calibrated to the rates
of ``reference.py``, and puts them on the agenda (handlers add follow-ups as they run);
``period`` then walks the days in order: the day's actions, the month's contributions on
its last day, the records the registries publish that day in emission order, and the
``day`` tick as the day's last message. Nothing else advances time, so the stream is in
order by construction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from familycard.generator.agenda import (
    _BIRTH,
    _CONTACT,
    _DEATH,
    _DISMISS,
    _HIRE,
    _KANDAS,
    _KANDAS_GRANT,
    _MARRY,
    _PENSION,
    _RETIRE,
    _REVOKE,
    _RULING,
    _emission_order,
)
from familycard.generator.events import _Events
from familycard.generator.reference import (
    _NEVER,
    BIRTHS_PER_1000,
    CONTACT_CHANGES_PER_ADULT,
    DEATHS_PER_1000,
    DISMISSALS_PER_EMPLOYED,
    HIRES_PER_JOBLESS,
    LATE_SHARE,
    MOVERS_PER_1000,
    RULINGS_PER_1000,
    TWIN_SHARE,
    _fertility,
    _mortality,
)
from familycard.generator.world import Message
from state.dates import add_months


class _Period(_Events):
    """Plans the period of ``_World`` and runs it (``period``), yielding its messages."""

    __slots__ = ()

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
            yield self.day_tick(day)
