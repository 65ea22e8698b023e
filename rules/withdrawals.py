"""rules.md §5: when a later event removes the ground of an open offer or a running benefit.

The family stage remembers the offers it issued as ``Grant``s. After each update it asks
``lost_grounds`` which of them lost their ground; the offer stage then sends a
``withdrawal`` only if that offer is still open, or closes the assignment if it is running.
An occasion is written ``<tag>:<subject>[:...]``, so every grant knows whom it is about.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.decisions import Decision
from rules.engine import Context
from state import dates
from state.dates import Day
from state.events import RULING_EXPIRED, TURNS_18
from state.family import Grant

__all__ = ["Loss", "grant_of", "lost_grounds", "still_relevant", "WITHDRAWAL_TRIGGERS"]

# The only event types after which a ground can be lost; the family stage skips the rest.
WITHDRAWAL_TRIGGERS = frozenset({"death", "disability_revoked", RULING_EXPIRED, "employment_started",
                                 "family_changed", TURNS_18})

_DISABILITY_CODES = frozenset({"disability_benefit", "disabled_child_carer", "working_capacity_loss"})
_ABOUT_A_CHILD = frozenset({"birth_benefit", "childcare_benefit", "disabled_child_carer", "disability_benefit"})
_FOR_THE_DEATH = frozenset({"breadwinner_loss", "funeral_payment"})


@dataclass(slots=True, frozen=True)
class Loss:
    """``grant`` lost its ground on ``on``; ``only_if_open``: a running benefit ends by itself."""

    grant: Grant
    reason: str
    on: Day
    only_if_open: bool = False


def _ruling_in_force(person: object, on: Day) -> bool:
    """A newer ruling may have replaced the one whose expiry woke us."""
    ruling = getattr(person, "ruling", None)
    return ruling is not None and ruling.in_force(on)


def grant_of(d: Decision) -> Grant:
    subject = d.occasion.split(":")[1] if ":" in d.occasion else d.recipient
    return Grant(d.notification_id, d.code, d.recipient, subject, d.period, d.reply_by, d.end_month)


def still_relevant(g: Grant, today: Day) -> bool:
    """A one-time offer past its reply date is paid or lapsed; a benefit past its end is over."""
    if g.period == "one_time":
        return g.reply_by is None or g.reply_by >= today
    return g.end_month is None or g.end_month >= dates.month_of(today)


def lost_grounds(ctx: Context, grants: list[Grant], children_now: int) -> list[Loss]:
    e, on = ctx.event, ctx.event.occurred_on
    person = ctx.person
    out: list[Loss] = []

    def lose(g: Grant, reason: str, only_if_open: bool = False) -> None:
        out.append(Loss(g, reason, on, only_if_open))

    if e.type == "death" and person is not None:
        x = person.iin
        for g in grants:
            if g.code in _FOR_THE_DEATH and g.subject == x:
                continue  # offered because of this very death
            if g.recipient == x or g.subject == x:
                lose(g, f"death of {x} on {dates.iso(on)}")
    elif e.type == "disability_revoked" and person is not None:
        for g in grants:
            if g.code in _DISABILITY_CODES and g.subject == person.iin:
                lose(g, f"disability ruling of {person.iin} revoked on {dates.iso(on)}")
    elif e.type == RULING_EXPIRED and person is not None and not _ruling_in_force(person, on):
        for g in grants:
            if g.code in _DISABILITY_CODES and g.subject == person.iin:
                lose(g, f"disability ruling of {person.iin} expired", only_if_open=True)
    elif e.type == "employment_started" and person is not None:
        for g in grants:
            if g.code == "job_loss" and g.subject == person.iin:
                lose(g, f"{person.iin} employed again on {dates.iso(on)}")
    elif e.type == "family_changed" and ctx.role == "subject" and person is not None \
            and person.family_id != ctx.family.family_id:
        for g in grants:
            if g.code in _ABOUT_A_CHILD and g.subject == person.iin and g.recipient != person.iin:
                lose(g, f"child {person.iin} left the family on {dates.iso(on)}")

    if ctx.children_before is not None and ctx.children_before >= 4 > children_now \
            and e.type in ("death", "family_changed", TURNS_18):
        for g in grants:
            if g.code == "large_family_benefit":
                lose(g, f"the family has {children_now} children under 18 since {dates.iso(on)}")
    return out
