"""Benefits of large families and decorated mothers (rules.md §3, amounts in ``parameters.json``)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

from rules.common import offer
from rules.decisions import Decision
from rules.engine import Context, rule
from rules.params import Params, half_up
from state import dates
from state.family import FamilyCard
from state.person import PersonCard

__all__ = ["large_family_benefit", "mother_award_benefit", "large_family_rate", "mother_of_most"]

# "8+ per child": from 8 children on, the coefficient is paid for each child.
_PER_CHILD = re.compile(r"^(\d+)\+ per child$")


def large_family_rate(params: Params, children: int) -> tuple[Decimal, str] | None:
    """(× mci for the whole family, how it was found) for ``children`` children, or None below the table."""
    table = "large_family_benefit"
    values = params.raw["coefficients"][table]["values"]
    if str(children) in values:
        return params.coefficient(table, str(children)), f"{children} children"
    for key in values:
        m = _PER_CHILD.match(key)
        if m is not None and children >= int(m.group(1)):
            per_child = params.coefficient(table, key)
            return per_child * children, f"{per_child} per child ({key}) x {children} children"
    return None


def most_named_mothers(children: list[PersonCard]) -> list[str]:
    """The IINs of the mothers named by most of ``children`` (several on a tie), sorted."""
    counts = Counter(c.mother_iin for c in children if c.mother_iin is not None)
    if not counts:
        return []
    top = max(counts.values())
    return sorted(iin for iin, n in counts.items() if n == top)


def mother_of_most(family: FamilyCard, children: list[PersonCard]) -> PersonCard | None:
    """The mother named by most of ``children``, if she is a living member (ties: a member first)."""
    members = [m for m in (family.get(iin) for iin in most_named_mothers(children)) if m is not None and m.alive]
    return members[0] if members else None


@rule("large_family_benefit", on=("birth", "family_changed"))
def large_family_benefit(ctx: Context) -> Iterator[Decision]:
    """Monthly benefit of a large family, offered when its number of children under 18 reaches the threshold.

    Fires: on ``birth`` (the newborn's card) and ``family_changed`` (the card of the person who
      moved), role ``subject``.
    Condition: the person is now a member of this family (the family they left fires
      nothing); the family's living children under 18 numbered fewer than the threshold — the
      smallest count of table ``large_family_benefit`` — before the day's arrivals (children
      who joined the family on the event's date, by a registration, a birth or a move, are not
      counted as "before", whatever order the registries' messages came in), and at least that
      many after the update. No income test (model: full-time students to 23 are not in our
      data).
    Amount: coefficient table ``large_family_benefit`` by the number of children (``4`` to
      ``7``); from 8 children ``8+ per child`` × the number of children; × ``mci`` of the event
      date, rounded half up.
    Recipient: the mother named by most of the children if she is a living member of the
      family (on a tie, the tied mother with the lowest IIN who is one), else the family's
      oldest living adult; no offer when there is none.
    Period: monthly, from the event's month, open-ended.
    Continues while: the recipient is alive and is still the large-family recipient of the
      family they live in (wherever it moves), and that family has at least the threshold of
      children; the amount follows the number of children (a ``change``) and ``mci`` each
      1 January.
    Occasion: ``large_family:{family_id}:{YYYY-MM-DD}`` of the event that made the count reach
      the threshold.
    """
    if ctx.event.type == "birth" and _mother_still_to_come(ctx):
        return  # her own path decides, once her registration is in (or at the day's end)
    yield from _large_family(ctx, ctx.card)


@rule("large_family_benefit", on=("birth",), role="mother")
def large_family_benefit_by_the_mother(ctx: Context) -> Iterator[Decision]:
    """The same rule on a birth's mother path (her card), for a birth read before her
    registration: it decides once she is a member (or at the day's end), so the recipient does
    not depend on which record came first (rules.md §5a). The child's own update has reached
    the family first; when it has not, that update decides."""
    child = ctx.family.members.get(ctx.event.subject)
    if child is None:
        return
    yield from _large_family(ctx, child)


def _mother_still_to_come(ctx: Context) -> bool:
    """The newborn's mother, who is the mother of most of the children, is not a member yet:
    her birth path (``state.person_slot`` holds it until she registers) will decide."""
    mother = ctx.event.data.get("mother_iin")
    if not mother or mother in ctx.family.members:
        return False
    return mother in most_named_mothers(ctx.family.children(ctx.on))


def _large_family(ctx: Context, newcomer: PersonCard) -> Iterator[Decision]:
    e, family, on, params = ctx.event, ctx.family, ctx.on, ctx.params
    if ctx.children_before is None or newcomer.family_id != family.family_id or newcomer.iin not in family.members:
        return  # the family the person left, or a caller that could not count the children before
    children = family.children(on)
    threshold = min(int(k) for k in params.raw["coefficients"]["large_family_benefit"]["values"] if k.isdigit())
    if ctx.children_before >= threshold or len(children) < threshold:
        return
    rate = large_family_rate(params, len(children))
    if rate is None:
        return
    coef, how = rate
    mother = mother_of_most(family, children)
    recipient = mother or family.oldest_adult(on)
    if recipient is None:
        return
    mci = params.mci(on)
    how_joined = (f"child {newcomer.iin} born {dates.iso(on)}" if e.type == "birth"
                  else f"{newcomer.iin} joined family {family.family_id} on {dates.iso(on)}")
    yield offer(
        ctx, "large_family_benefit", recipient, f"large_family:{family.family_id}:{dates.iso(on)}",
        half_up(coef * mci), "monthly",
        [how_joined,
         f"children under 18 in family {family.family_id}: {len(children)}: "
         + ", ".join(c.iin for c in sorted(children, key=lambda c: (c.birth, c.iin))),
         f"offered to {recipient.iin}, "
         + ("mother of most of the children" if mother is not None else "the oldest adult of the family"),
         f"{how}: {coef} x mci {mci} KZT monthly from {dates.month_iso(dates.month_of(on))}, open-ended"],
        start_month=dates.month_of(on),
    )


@rule("mother_award_benefit", on=("award",))
def mother_award_benefit(ctx: Context) -> Iterator[Decision]:
    """Monthly lifelong benefit of a mother awarded for raising many children.

    Fires: on the person's ``award`` (role ``subject``).
    Condition: the person is a living woman, the award is a key of table
      ``mother_award_benefit``, and its coefficient is higher than that of every other award
      she already holds (an award not higher than an earlier one offers nothing).
    Amount: coefficient table ``mother_award_benefit`` by award (``kumis_alka``; ``altyn_alka``,
      ``mother_heroine``, ``materinskaya_slava_1``, ``materinskaya_slava_2``) × ``mci`` of the
      award date, rounded half up.
    Recipient: the awarded woman.
    Period: monthly, from the award's month, lifelong (open-ended).
    Continues while: the woman is alive; a higher award later supersedes the lower one: a
      running benefit takes the higher amount (a ``change``, no new consent), an open offer is
      offered again at it; the amount follows ``mci`` each 1 January.
    Occasion: ``award:{iin}`` — one mother's-award benefit per woman, at her highest award.
    """
    person, e, params = ctx.card, ctx.event, ctx.params
    if person.sex != "female" or not person.alive:
        return
    award = e.data["award"]
    rates = params.raw["coefficients"]["mother_award_benefit"]["values"]
    if award not in rates:
        return
    rate = params.coefficient("mother_award_benefit", award)
    others = {a: params.coefficient("mother_award_benefit", a) for a in person.awards if a != award and a in rates}
    if any(r >= rate for r in others.values()):
        return  # not higher than an award she already has: that one's benefit stands
    mci = params.mci(e.occurred_on)
    start = dates.month_of(e.occurred_on)
    reasons = [f"{person.iin} awarded {award} on {dates.iso(e.occurred_on)}"]
    if others:
        reasons.append("higher than her earlier award(s): " + ", ".join(f"{a} {r}" for a, r in sorted(others.items())))
    reasons.append(f"{rate} x mci {mci} KZT monthly from {dates.month_iso(start)}, lifelong")
    yield offer(
        ctx, "mother_award_benefit", person, f"award:{person.iin}", half_up(rate * mci), "monthly",
        reasons, start_month=start, award=award,
    )
