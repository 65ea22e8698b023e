"""Social insurance payments for lost income: loss of working capacity and loss of a job.

Both are (AMD − 0.5 × minimum wage) × replacement rate × PSC (rules.md §3, Social Code
art. 171), computed exactly and rounded half up once, at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

from rules.common import offer, ruling_period
from rules.decisions import Decision
from rules.engine import Context, rule
from rules.insurance import amd, amd_window, banded, contribution_months_before, insured, participation_months, psc
from rules.params import Params, half_up
from rules.retirement import retirement_day
from state import dates
from state.dates import Day
from state.person import PersonCard

__all__ = ["working_capacity_loss", "job_loss"]


def _kzt(amount: Decimal) -> str:
    """An intermediate amount for the reasons, to the tiyn (the computation itself stays exact)."""
    return f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def _insured_income(card: PersonCard, on: Day, params: Params) -> tuple[Decimal, int, Decimal, list[str]]:
    """(AMD − 0.5 × minimum wage, participation months, PSC, the reasons for each) as of ``on``."""
    average = amd(card, on, params)
    mw = params.minimum_wage(on)
    deduction = params.scalar_decimal("amd_deduction_minimum_wages") * mw
    months = participation_months(card, on)
    coef = psc(months, params)
    first, last = amd_window(on, params)
    cap = params.scalar_decimal("amd_cap_minimum_wages")
    reasons = [
        f"AMD {_kzt(average)} KZT: incomes of {contribution_months_before(card, on, params)} contribution "
        f"months in {dates.month_iso(first)}..{dates.month_iso(last)}, each capped at {cap} x minimum wage "
        f"{mw} KZT, divided by {params.scalar_int('amd_window_months')}",
        f"{months} participation months up to {dates.month_iso(dates.month_of(on))}: PSC {coef}",
        f"AMD minus {params.scalar_decimal('amd_deduction_minimum_wages')} x minimum wage {mw} KZT "
        f"= {_kzt(average - deduction)} KZT",
    ]
    return average - deduction, months, coef, reasons


@rule("working_capacity_loss", on=("disability_ruling",))
def working_capacity_loss(ctx: Context) -> Iterator[Decision]:
    """Monthly social insurance payment for loss of working capacity.

    Fires: on the person's ``disability_ruling`` (role ``subject``).
    Condition: the ruling on the card is the one just applied (decided on the event date; an
      older ruling arriving late fires nothing) and the person is alive;
      ``loss_of_working_capacity_pct`` ≥ ``wcl_min_loss_pct``; insured (at least one
      contribution month); the ruling's ``valid_until``, if any, is not before the event date;
      under retirement age on the event date; the amount is above 0.
    Amount: (AMD − ``amd_deduction_minimum_wages`` × ``minimum_wage``) × ``wcl_replacement_rate``
      × PSC × pct / 100, all parameters of the event date. AMD: incomes of the contribution
      months in the ``amd_window_months`` calendar months before the event's month, each capped
      at ``amd_cap_minimum_wages`` × ``minimum_wage``, divided by ``amd_window_months``. PSC:
      table ``psc`` by participation months (distinct contribution months up to the event's
      month; past the last band the step per further 12 months, up to the max). Computed
      exactly, rounded half up once.
    Recipient: the person.
    Period: monthly, from the event's month to the month before the month of retirement age, or
      to the month of ``valid_until`` when that is not later; the event's month alone when
      retirement age comes later in that month.
    Continues while: the person is alive and the episode's ruling is in force with at least
      ``wcl_min_loss_pct``; a re-examination in the same episode recomputes the amount as of its
      date (a ``change``, no new consent).
    Occasion: ``wcl:{iin}:{YYYY-MM-DD the episode began}`` (a re-examination decided while the
      previous ruling was in force continues its episode).
    """
    person, e, params = ctx.card, ctx.event, ctx.params
    ruling = person.ruling
    on = e.occurred_on
    if ruling is None or ruling.decided_on != on or not person.alive:
        return  # an older ruling arriving late: the newer one stands
    if ruling.loss_pct < params.scalar_int("wcl_min_loss_pct") or not insured(person):
        return
    if ruling.valid_until is not None and ruling.valid_until < max(on, e.recorded_on):
        return  # expired before it was decided, or before its record reached us: nothing to offer
    retires = retirement_day(person.birth, person.sex, params)
    if on >= retires:
        return
    base, _, coef, income_reasons = _insured_income(person, on, params)
    rate = params.scalar_decimal("wcl_replacement_rate")
    amount = half_up(base * rate * coef * ruling.loss_pct / 100)
    if amount <= 0:
        return
    start, end, why_end = ruling_period(on, retires, "retirement age", ruling)
    yield offer(
        ctx, "working_capacity_loss", person, f"wcl:{person.iin}:{dates.iso(ruling.episode)}", amount, "monthly",
        [f"disability ruling for {person.iin} on {dates.iso(on)}: group {ruling.group}, "
         f"loss of working capacity {ruling.loss_pct} % (at least {params.scalar_int('wcl_min_loss_pct')} %)",
         f"under retirement age on {dates.iso(on)}: reaches it on {dates.iso(retires)}",
         *income_reasons,
         f"x replacement rate {rate} x PSC {coef} x {ruling.loss_pct}/100, "
         f"monthly {dates.month_iso(start)}..{dates.month_iso(end)} ({why_end})"],
        start_month=start, end_month=end, episode=ruling.episode,
    )


@rule("job_loss", on=("unemployed_registered", "dismissal"))
def job_loss(ctx: Context) -> Iterator[Decision]:
    """Monthly social insurance payment for the loss of a job, for a number of months by participation.

    Fires: on the person's ``unemployed_registered`` (role ``subject``), and on a ``dismissal``
      read after a registration it precedes (rules.md §5a: the registries' arrival order does
      not matter; both orders give the one offer of the dismissal).
    Condition: the person is alive and registered unemployed (on the registration date); the
      card has a ``dismissal`` dated on or before the registration, with no
      ``employment_started`` on or after that dismissal's date; at least
      ``job_loss_min_contribution_months`` contribution months in the ``amd_window_months``
      calendar months before the registration month; the participation months fall in a band
      of ``job_loss_months``; the amount is above 0.
    Amount: (AMD − ``amd_deduction_minimum_wages`` × ``minimum_wage``) × ``job_loss_replacement_rate``
      × PSC, all parameters of the registration date, with AMD and PSC as for
      ``working_capacity_loss`` (participation months up to the registration month). Computed
      exactly, rounded half up once.
    Recipient: the person.
    Period: monthly, from the registration month for the number of months that table
      ``job_loss_months`` gives for the participation months.
    Continues while: the person is alive and no ``employment_started`` dated on or after the
      dismissal is known (an older employment arriving late changes nothing).
    Occasion: ``job_loss:{iin}:{YYYY-MM-DD of the dismissal}`` — one offer per dismissal.
    """
    person, e, params = ctx.card, ctx.event, ctx.params
    on = person.unemployed_since  # the registration date: everything is judged as of it
    dismissed = person.dismissed_on
    if on is None or not person.alive or dismissed is None or dismissed > on or not person.is_unemployed(on):
        return
    if e.type == "dismissal" and e.occurred_on != dismissed:
        return  # an older dismissal arriving late: the one on the card stands
    if e.type == "unemployed_registered" and e.occurred_on != on:
        return  # an older registration arriving late
    if person.employed_since is not None and person.employed_since >= dismissed:
        return  # employed again after the dismissal (the same day: a job change)
    recent = contribution_months_before(person, on, params)
    first, last = amd_window(on, params)
    if recent < params.scalar_int("job_loss_min_contribution_months"):
        return
    base, months, coef, income_reasons = _insured_income(person, on, params)
    found = banded(params, "job_loss_months", months)
    if found is None:
        return
    duration = int(found[0])
    rate = params.scalar_decimal("job_loss_replacement_rate")
    amount = half_up(base * rate * coef)
    if amount <= 0:
        return
    start = dates.month_of(on)
    end = start + duration - 1
    yield offer(
        ctx, "job_loss", person, f"job_loss:{person.iin}:{dates.iso(dismissed)}", amount, "monthly",
        [f"dismissed on {dates.iso(dismissed)}"
         + (f" ({person.dismissal_reason})" if person.dismissal_reason else "")
         + ", no employment started since",
         f"registered unemployed on {dates.iso(on)}",
         f"{recent} contribution months in {dates.month_iso(first)}..{dates.month_iso(last)} "
         f"(at least {params.scalar_int('job_loss_min_contribution_months')})",
         *income_reasons,
         f"x replacement rate {rate} x PSC {coef}, monthly for {duration} months ({found[1]} participation "
         f"months): {dates.month_iso(start)}..{dates.month_iso(end)}"],
        start_month=start, end_month=end, occurred_on=on, dismissed=dismissed,
    )
