"""rules.md §5a: the condition of each offer code over the state, for rights already offered.

A rule in ``rules/`` decides a fresh occasion (who is offered what, when something happens);
the function here says, for a right that exists, whether it **still holds** on a date and on
what terms, reading only the ledger's digests of the persons it is about (``state.rights``). The
rights ledger (``rules.ledger``) calls it whenever a digest or a family view it reads changes,
and on 1 January: a right that stops holding is withdrawn (open offer) or closed (running
benefit); new terms are a ``change``.

Each function returns a ``Verdict``. ``amount`` (and ``end_month`` with ``end_known``) are the
terms the state now gives; ``None`` keeps the right's own (an amount computed from incomes at
the decision, like a job-loss payment, does not follow later state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from rules.disability import disability_rate_key
from rules.family_benefits import large_family_rate
from rules.insurance import banded
from rules.params import Params, half_up
from state import dates
from state.dates import Day, Month
from state.rights import Digest, FamilyView, Right

__all__ = ["Verdict", "View", "CONDITIONS", "REPRICED", "verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a right holds, and on what terms.

    ``settles``: the right stopped holding because persons no longer live together (a move, a
    guardian who changed). Another message of the same day may bring them together again (a
    mother and her newborn moving on one day, in either order), so such an end waits for the
    day's end (rules.md §5a: within a day, order does not matter); a death, a revocation or a
    date is certain and ends the right at once.
    """

    holds: bool
    reason: str = ""
    amount: int | None = None
    end_month: Month | None = None
    end_known: bool = False
    settles: bool = False


HOLDS = Verdict(True)


class View(Protocol):
    """What a ledger knows: the recipient's IIN, and the latest digest or view it has."""

    iin: str

    def person(self, iin: str) -> Digest | None: ...

    def family(self, family_id: str | None) -> FamilyView | None: ...


def _end(reason: str) -> Verdict:
    return Verdict(False, reason)


def _apart(reason: str) -> Verdict:
    """An end by who lives with whom: it waits for the day's end (``Verdict.settles``)."""
    return Verdict(False, reason, settles=True)


def _dead(d: Digest | None, on: Day) -> bool:
    return d is not None and not d.alive_on(on)


def _recipient_problem(view: View, on: Day) -> Verdict | None:
    r = view.person(view.iin)
    if _dead(r, on):
        assert r is not None and r.died_on is not None
        return _end(f"death of {r.iin} on {dates.iso(r.died_on)}")
    return None


def _carer_problem(view: View, child_iin: str, on: Day) -> Verdict | None:
    """A benefit paid to a carer for a ground person: both alive, living together, and the
    recipient still the ground's guardian in the family the ground lives in."""
    c = view.person(child_iin)
    r = view.person(view.iin)
    if c is None:
        return None
    if _dead(c, on):
        assert c.died_on is not None
        return _end(f"death of {c.iin} on {dates.iso(c.died_on)}")
    if r is not None and c.family_id != r.family_id:
        return _apart(f"{c.iin} no longer lives with {view.iin} (family {c.family_id}) since {dates.iso(on)}")
    if c.guardian_known and c.guardian != view.iin:
        who = f"{c.guardian}" if c.guardian else "nobody"
        return _apart(f"{view.iin} is no longer the guardian of {c.iin} (now {who}) since {dates.iso(on)}")
    return None


def _ruling_problem(d: Digest | None, episode: Day, on: Day) -> Verdict | None:
    if d is None:
        return None
    ruling = d.ruling
    if ruling is None or ruling.episode != episode:
        return _end(f"the disability of {d.iin} since {dates.iso(episode)} ended (a new ruling after a gap)")
    if ruling.revoked_on is not None and ruling.revoked_on <= on:
        return _end(f"disability ruling of {d.iin} revoked on {dates.iso(ruling.revoked_on)}")
    if ruling.valid_until is not None and ruling.valid_until < on:
        return _end(f"disability ruling of {d.iin} expired on {dates.iso(ruling.valid_until)}")
    return None


def _facts_day(right: Right, name: str) -> Day:
    return int(right.facts[name])


# --- the conditions ------------------------------------------------------------------------------

Condition = Callable[[Right, View, Day, Params], Verdict]
CONDITIONS: dict[str, Condition] = {}
REPRICED: frozenset[str] = frozenset({"childcare_benefit", "disability_benefit", "disabled_child_carer",
                                      "breadwinner_loss", "large_family_benefit", "mother_award_benefit"})


def condition(code: str) -> Callable[[Condition], Condition]:
    def register(fn: Condition) -> Condition:
        CONDITIONS[code] = fn
        return fn
    return register


@condition("birth_benefit")
def _birth(right: Right, view: View, on: Day, params: Params) -> Verdict:
    return _recipient_problem(view, on) or _carer_problem(view, right.grounds[0], on) or HOLDS


@condition("childcare_benefit")
def _childcare(right: Right, view: View, on: Day, params: Params) -> Verdict:
    problem = _recipient_problem(view, on) or _carer_problem(view, right.grounds[0], on)
    if problem is not None:
        return problem
    coef = params.coefficient("childcare_benefit", str(right.facts["order"]))
    return Verdict(True, amount=half_up(coef * params.mci(on)))


@condition("disability_benefit")
def _disability(right: Right, view: View, on: Day, params: Params) -> Verdict:
    ground = right.grounds[0] if right.grounds else view.iin
    p = view.person(ground)
    problem = (_recipient_problem(view, on) or _ruling_problem(p, _facts_day(right, "episode"), on)
               or (_carer_problem(view, ground, on) if ground != view.iin else None))
    if problem is not None:
        return problem
    if p is None or p.ruling is None:
        return HOLDS
    ruling = p.ruling
    coef = params.coefficient("disability_benefit", disability_rate_key(ruling.group, ruling.cause))
    end = dates.month_of(ruling.valid_until) if ruling.valid_until is not None else None
    return Verdict(True, amount=half_up(coef * params.subsistence_minimum(on)), end_month=end, end_known=True)


@condition("disabled_child_carer")
def _carer(right: Right, view: View, on: Day, params: Params) -> Verdict:
    ground = right.grounds[0]
    c = view.person(ground)
    problem = (_recipient_problem(view, on) or _ruling_problem(c, _facts_day(right, "episode"), on)
               or _carer_problem(view, ground, on))
    if problem is not None:
        return problem
    if c is None or c.ruling is None:
        return HOLDS
    if c.ruling.group != "child":
        return _end(f"{c.iin}'s ruling is no longer a child's ruling (group {c.ruling.group})")
    if not c.minor_on(on):
        return _end(f"{c.iin} turned {params.scalar_int('adult_age_years')} on {dates.iso(c.adult_on)}")
    end = dates.month_of(c.adult_on) - 1
    if c.ruling.valid_until is not None:
        end = min(end, dates.month_of(c.ruling.valid_until))
    if right.start_month is not None:
        end = max(end, right.start_month)
    coef = params.coefficient("disabled_child_carer", "child")
    return Verdict(True, amount=half_up(coef * params.subsistence_minimum(on)), end_month=end, end_known=True)


@condition("working_capacity_loss")
def _wcl(right: Right, view: View, on: Day, params: Params) -> Verdict:
    p = view.person(view.iin)
    problem = _recipient_problem(view, on) or _ruling_problem(p, _facts_day(right, "episode"), on)
    if problem is not None:
        return problem
    minimum = params.scalar_int("wcl_min_loss_pct")
    if p is not None and p.ruling is not None and p.ruling.loss_pct < minimum:
        return _end(f"loss of working capacity of {p.iin} is {p.ruling.loss_pct} % since "
                    f"{dates.iso(p.ruling.decided_on)} (below {minimum} %)")
    return HOLDS


@condition("job_loss")
def _job_loss(right: Right, view: View, on: Day, params: Params) -> Verdict:
    problem = _recipient_problem(view, on)
    if problem is not None:
        return problem
    p = view.person(view.iin)
    dismissed = _facts_day(right, "dismissed")
    if p is not None and p.employed_since is not None and p.employed_since >= dismissed:
        return _end(f"{p.iin} employed again on {dates.iso(p.employed_since)}")
    return HOLDS


@condition("breadwinner_loss")
def _breadwinner(right: Right, view: View, on: Day, params: Params) -> Verdict:
    problem = _recipient_problem(view, on)
    if problem is not None:
        return problem
    r = view.person(view.iin)
    remaining: list[Digest] = []
    gone: list[str] = []
    moved = False
    for iin in right.facts["dependants"]:
        c = view.person(iin)
        if c is None:
            continue  # never seen apart from the decision: still a dependant
        if (c.alive_on(on) and (r is None or c.family_id == r.family_id)
                and (c.minor_on(on) or c.disabled_before_18)):
            remaining.append(c)
        else:
            gone.append(iin)
            moved = moved or (c.alive_on(on) and (c.minor_on(on) or c.disabled_before_18))
    unknown = [iin for iin in right.facts["dependants"] if view.person(iin) is None]
    if not remaining and not unknown:
        ending = _apart if moved else _end
        return ending(f"no dependant of {right.occasion.split(':')[1]} is left with {view.iin} since {dates.iso(on)} "
                   f"({', '.join(gone)}: died, turned {params.scalar_int('adult_age_years')} or moved)")
    n = len(remaining) + len(unknown)
    found = banded(params, "breadwinner_loss", n)
    if found is None:
        return HOLDS
    minors = sorted((c for c in remaining if c.minor_on(on)), key=lambda c: c.adult_on)
    if unknown:
        return Verdict(True, amount=half_up(found[0] * params.subsistence_minimum(on)))
    end = dates.month_of(minors[-1].adult_on) - 1 if minors else None
    if end is not None and right.start_month is not None:
        end = max(end, right.start_month)
    return Verdict(True, amount=half_up(found[0] * params.subsistence_minimum(on)), end_month=end, end_known=True)


@condition("funeral_payment")
def _funeral(right: Right, view: View, on: Day, params: Params) -> Verdict:
    return _recipient_problem(view, on) or HOLDS


@condition("large_family_benefit")
def _large_family(right: Right, view: View, on: Day, params: Params) -> Verdict:
    problem = _recipient_problem(view, on)
    if problem is not None:
        return problem
    r = view.person(view.iin)
    family = view.family(r.family_id if r is not None else right.family_id)
    if family is None:
        return HOLDS
    if family.large_recipient != view.iin:
        return _apart(f"{view.iin} is no longer the large-family recipient of family {family.family_id} "
                      f"since {dates.iso(on)}")
    threshold = min(int(k) for k in params.raw["coefficients"]["large_family_benefit"]["values"] if k.isdigit())
    n = len(family.children)
    if n < threshold:
        # a child who moved out may be back (or a sibling arrive) later the same day
        return _apart(f"the family {family.family_id} has {n} children under "
                      f"{params.scalar_int('adult_age_years')} since {dates.iso(on)}")
    rate = large_family_rate(params, n)
    if rate is None:
        return HOLDS
    return Verdict(True, amount=half_up(rate[0] * params.mci(on)))


@condition("mother_award_benefit")
def _award(right: Right, view: View, on: Day, params: Params) -> Verdict:
    problem = _recipient_problem(view, on)
    if problem is not None:
        return problem
    rate: Decimal = params.coefficient("mother_award_benefit", str(right.facts["award"]))
    return Verdict(True, amount=half_up(rate * params.mci(on)))


@condition("targeted_social_assistance")
def _tsa(right: Right, view: View, on: Day, params: Params) -> Verdict:
    return _recipient_problem(view, on) or HOLDS


def verdict(right: Right, view: View, on: Day, params: Params) -> Verdict:
    fn = CONDITIONS.get(right.code)
    return HOLDS if fn is None else fn(right, view, on, params)
