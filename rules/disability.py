"""Offers fired by a disability ruling: the state disability benefit and the disabled child's carer benefit."""

from __future__ import annotations

from collections.abc import Iterator

from rules.common import guardian_of_child, offer, ruling_period
from rules.decisions import Decision
from rules.engine import Context, rule
from rules.params import half_up
from state import dates

__all__ = ["disability_benefit", "disabled_child_carer"]


def disability_rate_key(group: str, cause: str) -> str:
    if group == "child":
        return "child"
    return f"{'since_childhood' if cause == 'since_childhood' else 'other'}:{group}"


@rule("disability_benefit", on=("disability_ruling",))
def disability_benefit(ctx: Context) -> Iterator[Decision]:
    """Monthly state disability benefit for the person a disability ruling is about.

    Fires: on the person's ``disability_ruling`` (role ``subject``).
    Condition: the ruling on the card is the one just applied (decided on the event date; an
      older ruling arriving late fires nothing), it is in force on that date (a ruling that
      expired before it was decided gives nothing) and the person is alive. Any group (I, II,
      III, ``child``) is paid.
    Amount: coefficient table ``disability_benefit`` × ``subsistence_minimum`` of the event
      date, rounded half up. The key follows the ruling, not the age: group ``child`` → key
      ``child``; cause ``since_childhood`` → ``since_childhood:{group}``; any other cause →
      ``other:{group}``.
    Recipient: the person when 18 or older on the event date; otherwise the child's guardian —
      the mother if alive and in the child's family, else the father if alive and in it, else
      the oldest living adult of the family; no offer when there is none.
    Period: monthly, from the event's month to the month of ``valid_until``, or open-ended when
      the ruling has no ``valid_until``.
    Continues while: the person is alive and the episode's ruling is in force (a revocation,
      an expiry or a gap ends it); for a child, while the recipient is still the child's living
      guardian in the child's family. A re-examination in the same episode changes the amount
      and the end (a ``change``, no new consent), never a second benefit; the amount follows
      ``subsistence_minimum`` each 1 January.
    Occasion: ``disability:{iin}:{YYYY-MM-DD the episode began}``.
    """
    person, e = ctx.card, ctx.event
    ruling = person.ruling
    if ruling is None or ruling.decided_on != e.occurred_on or not person.alive:
        return  # an older ruling arriving late: the newer one stands
    if not ruling.in_force(max(e.occurred_on, e.recorded_on)):
        return  # expired before it was decided, or before its record reached us: nothing to offer
    minor = not person.is_adult(e.occurred_on)
    recipient = guardian_of_child(ctx, person) if minor else person
    if recipient is None:
        return
    coef = ctx.params.coefficient("disability_benefit", disability_rate_key(ruling.group, ruling.cause))
    pm = ctx.params.subsistence_minimum(e.occurred_on)
    end = dates.month_of(ruling.valid_until) if ruling.valid_until is not None else None
    reasons = [
        f"disability ruling for {person.iin} on {dates.iso(e.occurred_on)}: group {ruling.group}, "
        f"cause {ruling.cause}",
        f"{coef} x subsistence minimum {pm} KZT monthly"
        + (f" until {dates.month_iso(end)}" if end is not None else ", open-ended"),
    ]
    if minor:
        reasons.insert(1, f"{person.iin} is under 18; offered to the guardian {recipient.iin}")
    if ruling.episode != e.occurred_on:
        reasons.insert(1, f"re-examination: continues the disability since {dates.iso(ruling.episode)}")
    yield offer(
        ctx, "disability_benefit", recipient,
        f"disability:{person.iin}:{dates.iso(ruling.episode)}",
        half_up(coef * pm), "monthly", reasons,
        start_month=dates.month_of(e.occurred_on), end_month=end,
        grounds=(person.iin,), episode=ruling.episode, guarded=minor,
    )


@rule("disabled_child_carer", on=("disability_ruling",))
def disabled_child_carer(ctx: Context) -> Iterator[Decision]:
    """Monthly benefit to the guardian who cares for a child with a disability, until the child turns 18.

    Fires: on the child's ``disability_ruling`` (role ``subject``).
    Condition: the ruling on the card is the one just applied (decided on the event date; an
      older ruling arriving late fires nothing), its group is ``child``, the child is alive,
      registered (the birth date is known) and under 18 on the event date, and the ruling is
      in force on that date (``valid_until``, if any, is not before it).
    Amount: coefficient table ``disabled_child_carer`` × ``subsistence_minimum`` of the event
      date, rounded half up. Paid besides the child's own ``disability_benefit``.
    Recipient: the child's guardian — the mother if alive and in the child's family, else the
      father if alive and in it, else the oldest living adult of the family; no offer when
      there is none.
    Period: monthly, from the event's month to the month of ``valid_until`` or the month before
      the child's 18th birthday month, whichever comes first (the event's month alone when the
      child turns 18 later in that month).
    Continues while: the child is alive, under 18, with a ``child`` ruling of the episode in
      force, and the recipient is still the child's living guardian in the child's family; a
      re-examination changes the end, not the benefit; the amount follows
      ``subsistence_minimum`` each 1 January.
    Occasion: ``carer:{child_iin}:{YYYY-MM-DD the episode began}``.
    """
    child, on = ctx.card, ctx.event.occurred_on
    ruling = child.ruling
    if ruling is None or ruling.decided_on != on or ruling.group != "child":
        return  # an older ruling arriving late, or not a child's ruling
    if not child.alive or not child.registered:
        return  # a card without a birth date cannot show the child is under 18
    turns_18 = child.adult_on  # the ``adult_age_years`` birthday, as the continuation (rules.conditions) reads it
    adult_years = ctx.params.scalar_int("adult_age_years")
    if on >= turns_18:
        return
    if ruling.valid_until is not None and ruling.valid_until < max(on, ctx.event.recorded_on):
        return  # expired before it was decided, or before its record reached us: nothing to offer
    guardian = guardian_of_child(ctx, child)
    if guardian is None:
        return
    coef = ctx.params.coefficient("disabled_child_carer", "child")
    pm = ctx.params.subsistence_minimum(on)
    start, end, why_end = ruling_period(on, turns_18, f"{child.iin} turns {adult_years}", ruling)
    yield offer(
        ctx, "disabled_child_carer", guardian, f"carer:{child.iin}:{dates.iso(ruling.episode)}",
        half_up(coef * pm), "monthly",
        [f"disability ruling for child {child.iin} on {dates.iso(on)}: group {ruling.group}, cause {ruling.cause}"
         + (f", valid until {dates.iso(ruling.valid_until)}" if ruling.valid_until is not None else ""),
         f"child {child.iin} born {dates.iso(child.birth)}, under {adult_years} on {dates.iso(on)}",
         f"offered to the guardian {guardian.iin}",
         f"disabled_child_carer {coef} x subsistence minimum {pm} KZT monthly "
         f"{dates.month_iso(start)}..{dates.month_iso(end)} ({why_end})"],
        start_month=start, end_month=end, grounds=(child.iin,), episode=ruling.episode,
    )
