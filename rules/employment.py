"""Notices fired by the labour market: employment measures after a dismissal."""

from __future__ import annotations

from collections.abc import Iterator

from rules.common import notice
from rules.decisions import Decision
from rules.engine import Context, rule
from state import dates

__all__ = ["employment_measures"]


@rule("employment_measures", on=("dismissal",))
def employment_measures(ctx: Context) -> Iterator[Decision]:
    """Tells a dismissed person about the career centre, registration as unemployed and the job-loss payment.

    Fires: on the person's ``dismissal`` (role ``subject``).
    Condition: the person is alive, the dismissal on the card is this one (dated the event
      date; an older dismissal arriving late fires nothing), and no ``employment_started`` is
      dated the same day (a job change).
    Recipient: the person.
    Period: none (information only, no reply).
    Occasion: ``dismissal:{iin}:{YYYY-MM-DD of the dismissal}``.
    """
    person, e = ctx.card, ctx.event
    if not person.alive or person.dismissed_on != e.occurred_on:
        return
    if person.employed_since == e.occurred_on:
        return  # a job change: the new contract starts the same day
    yield notice(
        ctx, "employment_measures", person, f"dismissal:{person.iin}:{dates.iso(e.occurred_on)}",
        [f"dismissed by {e.data['employer_bin']} on {dates.iso(e.occurred_on)} ({e.data['reason']})",
         "no new employment contract on the same date"],
    )
