"""Shared definitions of rules.md §2: guardians, birth order, insurance, dated offers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rules.decisions import NOTICE, OFFER, Decision
from rules.engine import Context
from state import dates
from state.dates import Day, Month
from state.family import FamilyCard
from state.iin import birth_date_of
from state.person import PersonCard, Ruling

__all__ = [
    "guardian_of", "birth_order", "order_key", "insured_between", "offer", "notice", "fmt_kzt", "ruling_period",
]


def guardian_of(child_family: FamilyCard, mother: PersonCard | None, father_iin: str | None, on: Day) -> PersonCard | None:
    """The mother if alive and in the child's family, else the father, else the oldest living adult."""
    fid = child_family.family_id
    if mother is not None and mother.registered and mother.alive and mother.family_id == fid:
        return mother
    father = child_family.get(father_iin)
    if father is not None and father.alive and father.family_id == fid:
        return father
    return child_family.oldest_adult(on)


def guardian_of_child(ctx: Context, child: PersonCard) -> PersonCard | None:
    family = ctx.family
    mother = family.get(child.mother_iin)
    return guardian_of(family, mother, child.father_iin, ctx.on)


def birth_order(mother: PersonCard, child_iin: str) -> int:
    """Position of the child among all children known with this mother (1-based), by birth
    date and, among children of one delivery, by IIN: whatever order the registries' records
    came in, twins get the same orders (rules.md §5a, within a day order does not matter)."""
    key = _born(child_iin)
    return 1 + sum(1 for c in mother.children if c != child_iin and _born(c) < key)


def _born(iin: str) -> tuple[dt.date, str]:
    born = birth_date_of(iin)
    return (dt.date.max if born is None else born), iin


def order_key(order: int) -> str:
    return "4+" if order >= 4 else str(order)


def insured_between(card: PersonCard, first: Month, last: Month) -> bool:
    return bool(card.contribution_months(first, last))


def offer(ctx: Context, code: str, recipient: PersonCard, occasion: str, amount: int, period: str,
          reasons: list[str], start_month: Month | None = None, end_month: Month | None = None,
          grounds: tuple[str, ...] = (), occurred_on: Day | None = None, **facts: Any) -> Decision:
    """An offer decided now; ``grounds`` and ``facts`` are what its condition reads later
    (``rules.conditions``): the persons besides the recipient, and what was fixed at the decision.
    ``occurred_on``: the date the right is judged as of, when a rule fires on several event
    types (default: the event's date)."""
    issued = ctx.issued_on
    on = ctx.event.occurred_on if occurred_on is None else occurred_on
    return Decision(
        code=code, kind=OFFER, recipient=recipient.iin, occasion=occasion,
        rule=f"{code}/{ctx.params.version_on(on)}", reasons=tuple(reasons),
        occurred_on=on, issued_on=issued,
        amount_kzt=amount, period=period,
        reply_by=issued + ctx.params.scalar_int("consent_days"),
        start_month=start_month, end_month=end_month,
        grounds=tuple(g for g in grounds if g != recipient.iin), facts=tuple(sorted(facts.items())),
    )


def notice(ctx: Context, code: str, recipient: PersonCard, occasion: str, reasons: list[str],
           issued_on: Day | None = None, **facts: Any) -> Decision:
    """A notice decided now; ``facts`` are what its text needs beyond the decision (a kandas
    status's ``valid_until``), so the encoder never parses them back out of the occasion."""
    return Decision(
        code=code, kind=NOTICE, recipient=recipient.iin, occasion=occasion,
        rule=ctx.rule_version(code), reasons=tuple(reasons),
        occurred_on=ctx.event.occurred_on,
        issued_on=ctx.issued_on if issued_on is None else issued_on,
        facts=tuple(sorted(facts.items())),
    )


def ruling_period(on: Day, cutoff: Day, cutoff_what: str, ruling: Ruling) -> tuple[Month, Month, str]:
    """(start, end, why it ends) of a monthly benefit paid from the ruling's month until the
    month before ``cutoff`` (an 18th birthday, retirement age) or the ruling's ``valid_until``
    month, whichever comes first — and at least the ruling's own month: the person is
    entitled on the event date even if the cutoff falls later in that same month."""
    start = dates.month_of(on)
    end = dates.month_of(cutoff) - 1
    why = f"the month before {cutoff_what} ({dates.iso(cutoff)})"
    if ruling.valid_until is not None and dates.month_of(ruling.valid_until) <= end:
        end, why = dates.month_of(ruling.valid_until), f"ruling valid until {dates.iso(ruling.valid_until)}"
    if end < start:
        end, why = start, f"the ruling's month; {cutoff_what} on {dates.iso(cutoff)}"
    return start, end, why


def fmt_kzt(amount: Decimal | int) -> str:
    """Whole tenge with thin grouping as written in Kazakhstan: 164 350."""
    return f"{int(amount):,}".replace(",", " ")


def month_iso(m: Month) -> str:
    return dates.month_iso(m)
