"""What the period's events do: one handler per action of the agenda, and its record.

``plan`` schedules actions days or months ahead, and by the day an action comes up its
person may have died, found a job, or married away; so every handler first checks that the
person is still in the state the plan assumed, and does nothing otherwise. A handler
changes the population, emits the registry's record (``emit``) and may schedule follow-ups
(a dismissal may be followed by an unemployment registration or a new job).
"""

from __future__ import annotations

import math
from typing import Any

from familycard.generator.agenda import _DEREGISTER, _HIRE, _REGISTER, _Agenda
from familycard.generator.ids import _iban
from familycard.generator.population import _Population
from familycard.generator.reference import (
    _DISMISSAL_CUM,
    _DISMISSAL_REASONS,
    _NEVER,
    _PCT,
    _YEAR,
    TWIN_SHARE,
    _cum_pick,
)


class _Events(_Population, _Agenda):
    """The action handlers of ``_World`` (``do_*``) and the moves and jobs they share."""

    __slots__ = ()

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
