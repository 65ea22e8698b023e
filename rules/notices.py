"""Date-driven notices (rules.md §4): the right to a pension, and an expiring kandas status.

Both fire on internal events made by the event-time calendar from ``day`` ticks, dated by the
tick (occurred_on = recorded_on = D), with the person's card as it stands on D.
"""

from __future__ import annotations

from collections.abc import Iterator

from rules.common import notice
from rules.decisions import Decision
from rules.engine import Context, rule
from rules.retirement import retirement_day
from state import dates
from state.dates import Day

__all__ = ["pension_eligibility", "kandas_status_expiry", "kandas_valid_until"]


def kandas_valid_until(occasion: str) -> Day | None:
    """The expiry date a ``kandas_status_expiry`` occasion is about (for the SMS text), else None."""
    parts = occasion.split(":")
    if len(parts) != 3 or parts[0] != "kandas":
        return None
    try:
        return dates.day(parts[2])
    except ValueError:
        return None


@rule("pension_eligibility", on=("retirement_age",))
def pension_eligibility(ctx: Context) -> Iterator[Decision]:
    """Tells a person who reaches retirement age that they may apply for a pension.

    Fires: on the day D the calendar's ``retirement_age`` arrives for the person (the first date
      on which their age is at least the retirement age in force on that date: men 63, women
      61, rising by six months each 1 January from 2028 to 63 in 2031).
    Condition: the person is alive, has no ``pension_assigned``, was registered before the
      retirement date, and the retirement date is D — or, when the calendar delivers it late,
      falls after the registration and not after D.
    Recipient: the person.
    Period: none (information only, no reply).
    Occasion: ``pension:{iin}`` — once per person.
    """
    person, on = ctx.card, ctx.on
    if not person.registered or not person.alive or person.pension_kzt is not None:
        return
    reached = retirement_day(person.birth, person.sex, ctx.params)
    if not person.registered_on < reached <= on:
        return
    months = dates.age_in_months(person.birth, reached)
    yield notice(
        ctx, "pension_eligibility", person, f"pension:{person.iin}",
        [f"{person.iin} ({person.sex}, born {dates.iso(person.birth)}) reaches retirement age "
         f"{months // 12} years {months % 12} months on {dates.iso(reached)}",
         "no pension assigned",
         f"registered on {dates.iso(person.registered_on)}, before the retirement date"],
    )


@rule("kandas_status_expiry", on=("kandas_notice_due",))
def kandas_status_expiry(ctx: Context) -> Iterator[Decision]:
    """Warns a kandas (ethnic Kazakh repatriate) that the status expires; it can be extended once, by up to 6 months.

    Fires: on the day D the calendar's ``kandas_notice_due`` arrives: ``valid_until`` −
      ``kandas_notice_days`` (30), or later when the status was granted with less time left.
    Condition: the person is alive and holds a kandas status with valid_until − 30 days ≤ D ≤
      valid_until, i.e. it was not extended to a later ``valid_until`` by D.
    Recipient: the person.
    Period: none (information only, no reply).
    Occasion: ``kandas:{iin}:{valid_until}`` — an extension to a new date yields a new notice
      30 days before that date.
    """
    person, on = ctx.card, ctx.on
    until = person.kandas_until
    if not person.alive or until is None:
        return
    days = ctx.params.scalar_int("kandas_notice_days")
    if not until - days <= on <= until:
        return
    yield notice(
        ctx, "kandas_status_expiry", person, f"kandas:{person.iin}:{dates.iso(until)}",
        [f"kandas status of {person.iin} valid until {dates.iso(until)}",
         f"{until - on} days left on {dates.iso(on)} (notice {days} days before)",
         "not extended to a later date"],
        valid_until=until,
    )
