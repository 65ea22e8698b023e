"""Offers fired by a disability ruling: the state disability benefit."""

from __future__ import annotations

from collections.abc import Iterator

from rules.common import guardian_of_child, offer
from rules.decisions import Decision
from rules.engine import Context, rule
from rules.params import half_up
from state import dates

__all__ = ["disability_benefit"]


def disability_rate_key(group: str, cause: str) -> str:
    if group == "child":
        return "child"
    return f"{'since_childhood' if cause == 'since_childhood' else 'other'}:{group}"


@rule("disability_benefit", on=("disability_ruling",))
def disability_benefit(ctx: Context) -> Iterator[Decision]:
    person, e = ctx.card, ctx.event
    ruling = person.ruling
    if ruling is None or ruling.decided_on != e.occurred_on or not person.alive:
        return  # an older ruling arriving late: the newer one stands
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
    yield offer(
        ctx, "disability_benefit", recipient,
        f"disability:{person.iin}:{dates.iso(e.occurred_on)}:{ruling.group}",
        half_up(coef * pm), "monthly", reasons,
        start_month=dates.month_of(e.occurred_on), end_month=end,
    )
