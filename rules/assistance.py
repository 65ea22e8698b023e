"""Targeted social assistance (АСП / АӘК), offered to every poor family at each quarter's start.

Fired by the event-time calendar's ``quarter_start`` (role ``family``, no person card): the
family stage runs it for every family once a quarter. Everything is judged as of the
quarter's first day (rules.md §2: quarterly rules take parameters of that day), whatever
day of the quarter the wake arrives on.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from rules.common import fmt_kzt, guardian_of, offer
from rules.decisions import Decision
from rules.engine import Context, rule
from rules.params import half_up
from rules.retirement import retirement_day
from state import dates
from state.dates import Day, Month
from state.family import FamilyCard
from state.person import PersonCard

__all__ = ["targeted_social_assistance", "quarter_label"]

_LISTED = 20  # members named one by one in the reasons (the record allows 50 reasons)


def quarter_label(q_start: Day) -> str:
    """``2026-Q1`` for any day of the first quarter of 2026."""
    x = dates.to_date(q_start)
    return f"{x.year}-Q{(x.month - 1) // 3 + 1}"


def _had_income(card: PersonCard, first: Month, last: Month) -> bool:
    return any(income > 0 for _, income in card.contribution_months(first, last)) or bool(card.pension_kzt)


def _parents_of_young_children(members: list[PersonCard], on: Day, months_below: int) -> set[str]:
    parents: set[str] = set()
    for c in members:
        if dates.age_in_months(c.birth, on) < months_below:
            parents.update(p for p in (c.mother_iin, c.father_iin) if p)
    return parents


def _recipient(family: FamilyCard, members: list[PersonCard], on: Day) -> PersonCard | None:
    children = [c for c in members if not c.is_adult(on)]
    if not children:
        return family.oldest_adult(on)
    youngest = max(children, key=lambda c: (c.birth, c.iin))
    return guardian_of(family, family.get(youngest.mother_iin), youngest.father_iin, on)


@rule("targeted_social_assistance", on=("quarter_start",), role="family")
def targeted_social_assistance(ctx: Context) -> Iterator[Decision]:
    """Monthly assistance for the quarter to a family whose income per head is below the poverty line.

    Fires: on the calendar's ``quarter_start``, for every family. D is the first day of that
      event's quarter, also when the calendar delivers it some days into the quarter
      (``tsa_settle_days``, so the previous quarter's contributions are all recorded); the
      members are those of D: living on D, born and joined by D — members who left or died
      after D still count, with the card they had when they left; statuses (registered
      unemployed, rulings in force) are those of D.
    Condition: the family has living members and per-capita income < poverty line, where
      poverty line = ``poverty_line_share`` (0.70) × subsistence minimum in force on D;
      family income = (members' ``income_kzt`` over the previous quarter's three calendar
      months + 3 × each member's monthly pension) / 3; per-capita = family income / living
      members. And every living member aged 18 or more, under retirement age on D and without
      a disability ruling in force on D either had income in the previous quarter (a
      contribution month with income, or a pension), or is registered unemployed on D, or is
      the mother or father of a living member under 3 (``tsa_young_child_age_below``).
    Amount: members × (poverty line − per-capita) + ``tsa_child_supplement`` (1.5) × MCI of D
      for each child aged at least 1 and under 6 on D; computed exactly, rounded half up at
      the end; nothing is offered when that rounds to 0.
    Recipient: the guardian of the family's youngest child (mother in the family, else the
      father, else the oldest adult); in a family without children its oldest adult; nobody
      (no offer) in a family of children only.
    Period: monthly, from the quarter's first month to its last month.
    Occasion: ``tsa:{family_id}:{YYYY-Qn}`` — one offer per family and quarter.
    """
    p = ctx.params
    on = dates.quarter_start(ctx.on)
    # rules.md §5a: membership, statuses and rulings as of D, whenever the wake arrives
    members = sorted((c for c in ctx.family.members_on(on) if c.registered and c.birth <= on),
                     key=lambda c: (c.birth, c.iin))
    if not members:
        return
    recipient = _recipient(ctx.family, members, on)
    if recipient is None:
        return

    q_first = dates.month_of(on)
    prev_first, prev_last = q_first - 3, q_first - 1
    n = len(members)
    line = p.scalar_decimal("poverty_line_share") * p.subsistence_minimum(on)
    wages = sum(c.income_in(m) for c in members for m in range(prev_first, prev_last + 1))
    pensions = sum(c.pension_kzt or 0 for c in members)
    quarter_income = Decimal(wages + 3 * pensions)
    if quarter_income >= 3 * n * line:  # per-capita = quarter_income / 3 / n, compared exactly
        return

    young_below = 12 * p.scalar_int("tsa_young_child_age_below")
    parents = _parents_of_young_children(members, on, young_below)
    for c in members:
        if not c.is_adult(on) or on >= retirement_day(c.birth, c.sex, p):
            continue
        if c.ruling is not None and c.ruling.in_force(on):
            continue
        if _had_income(c, prev_first, prev_last) or c.is_unemployed(on) or c.iin in parents:
            continue
        return  # an able-bodied adult without income, unemployment registration or a baby

    age_from, age_below = p.scalar_int("tsa_supplement_age_from"), p.scalar_int("tsa_supplement_age_below")
    supplemented = [c for c in members if age_from <= c.age_on(on) < age_below]
    coef = p.coefficient("tsa_child_supplement", "per_child")
    mci = p.mci(on)
    amount = half_up(n * line - quarter_income / 3 + coef * mci * len(supplemented))
    if amount <= 0:
        return

    per_capita = quarter_income / 3 / n
    label = quarter_label(on)
    window = f"{dates.month_iso(prev_first)}..{dates.month_iso(prev_last)}"
    earners = [
        f"{c.iin}: income {fmt_kzt(sum(c.income_in(m) for m in range(prev_first, prev_last + 1)))} KZT in {window}"
        + (f", pension {fmt_kzt(c.pension_kzt)} KZT/month" if c.pension_kzt else "")
        for c in members
        if c.pension_kzt or any(c.income_in(m) for m in range(prev_first, prev_last + 1))
    ]
    reasons = earners[:_LISTED] + ([f"and {len(earners) - _LISTED} more members with income"]
                                   if len(earners) > _LISTED else [])
    if not earners:
        reasons.append(f"no member had income in {window}")
    reasons += [
        f"family income {quarter_income / 3:.2f} KZT/month for {n} living members: "
        f"per-capita {per_capita:.2f} KZT",
        f"poverty line {line:.2f} KZT = {p.scalar_decimal('poverty_line_share')} x subsistence minimum "
        f"{p.subsistence_minimum(on)} KZT on {dates.iso(on)}",
        "every working-age adult had income, is registered unemployed, is disabled or has a child under "
        f"{p.scalar_int('tsa_young_child_age_below')}",
        f"children aged {age_from} to under {age_below}: {len(supplemented)}, {coef} x mci {mci} KZT each",
        f"{n} x ({line:.2f} - {per_capita:.2f}) + {len(supplemented)} x {coef * mci} KZT monthly for {label}",
    ]
    yield offer(
        ctx, "targeted_social_assistance", recipient, f"tsa:{ctx.family.family_id}:{label}", amount, "monthly",
        reasons, start_month=q_first, end_month=q_first + 2,
    )
