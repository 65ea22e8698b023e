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
