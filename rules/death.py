"""Offers fired by a death: the survivor benefit for dependants and the funeral payment.

Both run while the deceased is still in ``ctx.family`` with ``died_on`` set; ``living()``
and ``adults()`` already leave them out, and the recipient is checked never to be them.
"""

from __future__ import annotations

from collections.abc import Iterator

from rules.common import guardian_of, offer
from rules.decisions import Decision
from rules.engine import Context, rule
from rules.insurance import banded
from rules.params import half_up
from state import dates
from state.dates import Day
from state.family import FamilyCard
from state.person import PersonCard

__all__ = ["breadwinner_loss", "funeral_payment", "dependants_of"]


def dependants_of(family: FamilyCard, deceased: str, on: Day) -> list[PersonCard]:
    """Living members who are children of ``deceased``: under 18, or any age if disabled before 18."""
    return sorted(
        (c for c in family.living()
         if c.iin != deceased and deceased in (c.mother_iin, c.father_iin)
         and (not c.is_adult(on) or c.disabled_before_18)),
        key=lambda c: (c.birth, c.iin),
    )


def _describe(c: PersonCard, on: Day) -> str:
    if c.is_adult(on):
        return f"{c.iin} (aged {c.age_on(on)}, disabled before 18)"
    return f"{c.iin} (born {dates.iso(c.birth)}, under 18)"


@rule("breadwinner_loss", on=("death",))
def breadwinner_loss(ctx: Context) -> Iterator[Decision]:
    """Monthly survivor benefit (loss of breadwinner) for the deceased's dependants.

    Fires: on the person's ``death`` (role ``subject``), while the deceased is still in the
      family.
    Condition: the deceased leaves dependants — living members of the family who name the
      deceased as mother or father and are under 18 on the date of death, or of any age if
      disabled before 18 (a ``child`` ruling or cause ``since_childhood`` ever applied) — and
      someone to receive it.
    Amount: coefficient table ``breadwinner_loss`` by the number of dependants (``1`` to ``5``,
      ``6+``) × ``subsistence_minimum`` of the date of death, rounded half up.
    Recipient: the guardian of the youngest dependant, never the deceased — the mother if she
      is not the deceased and is alive in the family, else such a father, else the oldest
      other living adult of the family; no offer when there is none.
    Period: monthly, from the month of death to the month before the youngest dependant under
      18 turns 18; open-ended when every dependant is an adult disabled before 18.
    Continues while: the recipient is alive and at least one of the dependants is alive, lives
      with the recipient and is under 18 (or disabled before 18); the amount follows the number
      of such dependants (a ``change``) and ``subsistence_minimum`` each 1 January, the end
      follows the youngest remaining minor.
    Occasion: ``breadwinner:{deceased_iin}``.
    """
    deceased, family, on = ctx.card, ctx.family, ctx.on
    deps = dependants_of(family, deceased.iin, on)
    if not deps:
        return
    youngest = deps[-1]
    # The guardian of the youngest, never the deceased: a dead mother passes to the father,
    # a dead father (or no parent in the family) to the oldest other living adult.
    mother = None if youngest.mother_iin == deceased.iin else family.get(youngest.mother_iin)
    father_iin = None if youngest.father_iin == deceased.iin else youngest.father_iin
    recipient = guardian_of(family, mother, father_iin, on)
    if recipient is None or recipient.iin == deceased.iin:
        recipient = family.oldest_adult(on, excluding=deceased.iin)
    if recipient is None:
        return  # no living adult to receive it
    found = banded(ctx.params, "breadwinner_loss", len(deps))
    if found is None:
        return
    share, key = found
    pm = ctx.params.subsistence_minimum(on)
    minors = [c for c in deps if not c.is_adult(on)]
    # the youngest minor's ``adult_age_years`` birthday, as the continuation (rules.conditions) reads it
    end = dates.month_of(minors[-1].adult_on) - 1 if minors else None
    adult_years = ctx.params.scalar_int("adult_age_years")
    yield offer(
        ctx, "breadwinner_loss", recipient, f"breadwinner:{deceased.iin}", half_up(share * pm), "monthly",
        [f"{deceased.iin} died on {dates.iso(on)}",
         f"{len(deps)} dependant(s) in family {family.family_id}: " + ", ".join(_describe(c, on) for c in deps),
         f"offered to {recipient.iin}, guardian of the youngest dependant {youngest.iin}",
         f"share {share} ({key} dependants) x subsistence minimum {pm} KZT monthly"
         + (f" until {dates.month_iso(end)}, the month before {minors[-1].iin} turns {adult_years}" if end is not None
            else ", open-ended (every dependant disabled before 18)")],
        start_month=dates.month_of(on), end_month=end,
        grounds=tuple(c.iin for c in deps), dependants=tuple(c.iin for c in deps),
    )


@rule("funeral_payment", on=("death",))
def funeral_payment(ctx: Context) -> Iterator[Decision]:
    """One-time funeral payment for a deceased pensioner or person with a disability.

    Fires: on the person's ``death`` (role ``subject``), while the deceased is still in the
      family.
    Condition: the deceased had a pension (``pension_assigned``) or a disability ruling in force
      on the date of death, and the family has another living adult.
    Amount: coefficient table ``funeral_payment`` (key ``one_time``) × ``mci`` of the date of
      death, rounded half up.
    Recipient: the oldest other living adult of the deceased's family.
    Period: one_time.
    Continues while (the offer is open): the recipient is alive.
    Occasion: ``funeral:{deceased_iin}``.
    """
    deceased, family, on = ctx.card, ctx.family, ctx.on
    ruling = deceased.ruling
    if deceased.pension_kzt is not None:
        ground = f"{deceased.iin} had a pension of {deceased.pension_kzt} KZT"
    elif ruling is not None and ruling.in_force(on):
        ground = (f"{deceased.iin} had a disability ruling in force (group {ruling.group}, "
                  f"decided {dates.iso(ruling.decided_on)}"
                  + (f", valid until {dates.iso(ruling.valid_until)})" if ruling.valid_until is not None else ")"))
    else:
        return
    recipient = family.oldest_adult(on, excluding=deceased.iin)
    if recipient is None:
        return
    coef = ctx.params.coefficient("funeral_payment", "one_time")
    mci = ctx.params.mci(on)
    yield offer(
        ctx, "funeral_payment", recipient, f"funeral:{deceased.iin}", half_up(coef * mci), "one_time",
        [f"{deceased.iin} died on {dates.iso(on)}", ground,
         f"offered to {recipient.iin}, the oldest other living adult of family {family.family_id}",
         f"{coef} x mci {mci} KZT"],
    )
