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
    """One-time birth benefit for a newborn child, to the child's guardian.

    Fires: on ``birth``, from the mother's path (role ``mother``): the card is the mother's,
      carrying every child known with her ``mother_iin``, this one included.
    Condition: none beyond a guardian being found.
    Amount: coefficient table ``birth_benefit`` by the child's birth order (its position among
      the mother's known children, earlier children of a multiple birth included: ``1``, ``2``,
      ``3``, ``4+``) × ``mci`` of the birth date, rounded half up.
    Recipient: the child's guardian — the mother if registered, alive and in the child's
      family, else the father named in the birth if alive and in that family, else the
      family's oldest living adult; no offer when there is none.
    Period: one_time.
    Continues while (the offer is open): the child and the guardian are alive and live together,
      and the recipient is still the child's guardian.
    Occasion: ``birth:{child_iin}``.
    """
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
        grounds=(child,),
    )


@rule("childcare_benefit", on=("birth",), role="mother")
def childcare_benefit(ctx: Context) -> Iterator[Decision]:
    """Monthly childcare benefit until the child is 1.5 years old, to an uninsured guardian.

    Fires: on ``birth``, from the mother's path (role ``mother``), like ``birth_benefit``.
    Condition: the guardian has no contribution month in the 24 calendar months before the
      birth month (model: insured carers are paid by the social insurance fund instead).
    Amount: coefficient table ``childcare_benefit`` by the child's birth order among the
      mother's known children (``1``, ``2``, ``3``, ``4+``) × ``mci`` of the birth date, rounded
      half up.
    Recipient: the child's guardian, found as for ``birth_benefit`` (mother in the child's
      family, else the father, else the oldest living adult); no offer when there is none.
    Period: monthly, from the birth month to the month before the month the child turns 1.5
      (``childcare_months``).
    Continues while: the child and the guardian are alive and live together, and the recipient
      is still the child's guardian; the amount follows ``mci`` each 1 January.
    Occasion: ``childcare:{child_iin}``.
    """
    e = ctx.event
    child = e.subject
    guardian = guardian_of(ctx.family, ctx.card, e.data.get("father_iin"), e.occurred_on)
    if guardian is None:
        return
    birth_month = dates.month_of(e.occurred_on)
    window = ctx.params.scalar_int("childcare_uninsured_window_months")
    if insured_between(guardian, birth_month - window, birth_month - 1):
        return  # model: insured carers are paid by the social insurance fund instead
    order = birth_order(ctx.card, child)
    coef = ctx.params.coefficient("childcare_benefit", order_key(order))
    mci = ctx.params.mci(e.occurred_on)
    end_month = dates.month_of(dates.add_months(e.occurred_on, ctx.params.scalar_int("childcare_months"))) - 1
    yield offer(
        ctx, "childcare_benefit", guardian, f"childcare:{child}", half_up(coef * mci), "monthly",
        [f"child {child} born {dates.iso(e.occurred_on)}",
         f"mother {ctx.card.iin}: {_ordinal(order)} child",
         f"carer {guardian.iin} has no social contributions in the {window} months before "
         f"{dates.month_iso(birth_month)}",
         f"{coef} x mci {mci} KZT monthly until {dates.month_iso(end_month)}"],
        start_month=birth_month, end_month=end_month, grounds=(child,), order=order_key(order),
    )
