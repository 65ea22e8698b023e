"""Offers fired by a birth: the one-time birth benefit and the childcare benefit to 1.5 years.

Both fire from the mother's path (role ``mother``): her card carries the birth order and
her contributions exactly as they stood when the birth was read, whatever the worker count.
"""

from __future__ import annotations

from collections.abc import Iterator

from rules.common import birth_order, guardian_of, insured_between, offer, order_key
from rules.decisions import Decision
from rules.engine import Context, rule
from rules.params import half_up
from state import dates

__all__ = ["birth_benefit", "childcare_benefit"]

_ORDINAL = {1: "1st", 2: "2nd", 3: "3rd"}


def _ordinal(n: int) -> str:
    return _ORDINAL.get(n, f"{n}th")


@rule("birth_benefit", on=("birth",), role="mother")
def birth_benefit(ctx: Context) -> Iterator[Decision]:
    e = ctx.event
    child = e.subject
    guardian = guardian_of(ctx.family, ctx.card, e.data.get("father_iin"), e.occurred_on)
    if guardian is None:
        return
    order = birth_order(ctx.card, child)
    coef = ctx.params.coefficient("birth_benefit", order_key(order))
    mci = ctx.params.mci(e.occurred_on)
    yield offer(
        ctx, "birth_benefit", guardian, f"birth:{child}", half_up(coef * mci), "one_time",
        [f"child {child} born {dates.iso(e.occurred_on)}",
         f"mother {ctx.card.iin}: {_ordinal(order)} child",
         f"{coef} x mci {mci} KZT"],
    )


@rule("childcare_benefit", on=("birth",), role="mother")
def childcare_benefit(ctx: Context) -> Iterator[Decision]:
    e = ctx.event
    child = e.subject
    guardian = guardian_of(ctx.family, ctx.card, e.data.get("father_iin"), e.occurred_on)
    if guardian is None:
        return
    birth_month = dates.month_of(e.occurred_on)
    if insured_between(guardian, birth_month - 24, birth_month - 1):
        return  # model: insured carers are paid by the social insurance fund instead
    order = birth_order(ctx.card, child)
    coef = ctx.params.coefficient("childcare_benefit", order_key(order))
    mci = ctx.params.mci(e.occurred_on)
    end_month = dates.month_of(dates.add_months(e.occurred_on, 18)) - 1
    yield offer(
        ctx, "childcare_benefit", guardian, f"childcare:{child}", half_up(coef * mci), "monthly",
        [f"child {child} born {dates.iso(e.occurred_on)}",
         f"mother {ctx.card.iin}: {_ordinal(order)} child",
         f"carer {guardian.iin} has no social contributions in the 24 months before "
         f"{dates.month_iso(birth_month)}",
         f"{coef} x mci {mci} KZT monthly until {dates.month_iso(end_month)}"],
        start_month=birth_month, end_month=end_month,
    )
