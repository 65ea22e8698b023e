"""The first four rules, table-driven, with amounts computed by hand from rules.md."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rules import Context, evaluate, load_params
from rules.decisions import notification_id
from state import dates
from state.family import FamilyCard
from state.person import PersonCard, new_card
from tests.factories import apply, event, iin_for, registered

PARAMS = load_params()


def card(iin: str, birth: str, sex: str, family: str = "F-1", **data: object) -> PersonCard:
    return apply(new_card(iin), registered(iin, birth, sex, family, **data))


def family_of(*cards: PersonCard, fid: str = "F-1") -> FamilyCard:
    return FamilyCard(fid, {c.iin: c for c in cards})


def with_children(mother: PersonCard, n: int) -> PersonCard:
    kids = tuple(iin_for(f"20{10 + i:02d}-01-01", "female") for i in range(n))
    return replace(mother, children=kids)


def birth_ctx(mother: PersonCard, older_children: int, *, on: str = "2026-03-01", fam: FamilyCard | None = None,
              insured_months: tuple[str, ...] = ()) -> tuple[Context, str]:
    child = iin_for(on, "male")
    mum = with_children(mother, older_children)
    for m in insured_months:
        mum = apply(mum, event("contribution", mum.iin, f"{m}-28", {"month": m, "income_kzt": 300000,
                                                                      "social_contribution_kzt": 15000}))
    mum = replace(mum, children=mum.children + (child,))
    e = event("birth", child, on, {"mother_iin": mum.iin, "family_id": "F-1", "sex": "male"}, recorded=on)
    return Context(e, "mother", mum, fam or family_of(mum), PARAMS), child


MUM = card(iin_for("1990-04-02", "female"), "1990-04-02", "female", phone="+77011234567")


@pytest.mark.parametrize(
    ("older", "on", "birth_amount", "childcare_amount"),
    [
        (0, "2026-03-01", 38 * 4325, 24912),        # 5.76 × 4 325 = 24 912.00
        (1, "2026-03-01", 38 * 4325, 29453),        # 6.81 × 4 325 = 29 453.25
        (2, "2026-03-01", 38 * 4325, 33951),        # 7.85 × 4 325 = 33 951.25
        (3, "2026-03-01", 63 * 4325, 38493),        # 4th child: 8.90 × 4 325 = 38 492.50, half up
        (7, "2026-03-01", 63 * 4325, 38493),        # 8th child: still the 4+ rates
        (0, "2025-12-31", 38 * 3932, 22648),        # 2025 MCI: 5.76 × 3 932 = 22 648.32
    ],
)
def test_birth_and_childcare_amounts(older: int, on: str, birth_amount: int, childcare_amount: int) -> None:
    ctx, child = birth_ctx(MUM, older, on=on)
    decisions = {d.code: d for d in evaluate(ctx)}
    assert decisions["birth_benefit"].amount_kzt == birth_amount
    assert decisions["birth_benefit"].period == "one_time"
    assert decisions["childcare_benefit"].amount_kzt == childcare_amount
    assert decisions["childcare_benefit"].period == "monthly"
    assert all(d.recipient == MUM.iin for d in decisions.values())
    assert decisions["birth_benefit"].reply_by == dates.day(on) + 3


def test_contract_example_amount_and_rule_version() -> None:
    ctx, child = birth_ctx(MUM, 0)
    d = next(d for d in evaluate(ctx) if d.code == "birth_benefit")
    assert d.amount_kzt == 164350 and d.rule == "birth_benefit/2026-01-01"
    assert d.notification_id == notification_id(MUM.iin, "birth_benefit", f"birth:{child}")
    assert any(child in r for r in d.reasons)


def test_childcare_period_ends_the_month_before_one_and_a_half() -> None:
    ctx, _ = birth_ctx(MUM, 0, on="2026-03-01")
    d = next(d for d in evaluate(ctx) if d.code == "childcare_benefit")
    assert dates.month_iso(d.start_month) == "2026-03"  # type: ignore[arg-type]
    assert dates.month_iso(d.end_month) == "2027-08"  # turns 1.5 on 2027-09-01  # type: ignore[arg-type]


@pytest.mark.parametrize(("months", "offered"), [
    ((), True),
    (("2024-02",), True),           # 25 months before March 2026: outside the window
    (("2024-03",), False),          # exactly 24 months before: insured
    (("2026-02",), False),          # the month before the birth month
    (("2026-03",), True),           # the birth month itself does not count
])
def test_childcare_only_for_uninsured_carers(months: tuple[str, ...], offered: bool) -> None:
    ctx, _ = birth_ctx(MUM, 0, on="2026-03-15", insured_months=months)
    assert any(d.code == "childcare_benefit" for d in evaluate(ctx)) is offered


def test_birth_goes_to_father_when_mother_is_not_in_the_family() -> None:
    dad = card(iin_for("1985-01-01", "male"), "1985-01-01", "male")
    away = replace(MUM, family_id="F-9")
    fam = family_of(dad)
    child = iin_for("2026-03-01", "male")
    e = event("birth", child, "2026-03-01", {"mother_iin": away.iin, "father_iin": dad.iin,
                                              "family_id": "F-1", "sex": "male"})
    ctx = Context(e, "mother", replace(away, children=(child,)), fam, PARAMS)
    assert {d.recipient for d in evaluate(ctx)} == {dad.iin}


def test_birth_goes_to_oldest_adult_when_no_parent() -> None:
    grandma = card(iin_for("1950-01-01", "female"), "1950-01-01", "female")
    aunt = card(iin_for("1995-01-01", "female"), "1995-01-01", "female")
    dead = replace(MUM, died_on=dates.day("2026-03-01"))
    child = iin_for("2026-03-01", "male")
    e = event("birth", child, "2026-03-01", {"mother_iin": MUM.iin, "family_id": "F-1", "sex": "male"})
    ctx = Context(e, "mother", replace(dead, children=(child,)), family_of(grandma, aunt), PARAMS)
    assert {d.recipient for d in evaluate(ctx)} == {grandma.iin}


def ruling_ctx(person: PersonCard, group: str, cause: str, on: str = "2026-04-01", fam: FamilyCard | None = None,
               valid_until: str | None = None) -> Context:
    data: dict[str, object] = {"group": group, "cause": cause, "loss_of_working_capacity_pct": 50}
    if valid_until:
        data["valid_until"] = valid_until
    e = event("disability_ruling", person.iin, on, data)
    after = apply(person, e)
    return Context(e, "subject", after, fam or family_of(after), PARAMS)


@pytest.mark.parametrize(("group", "cause", "amount"), [
    ("I", "general_illness", 111872),     # 2.20 × 50 851 = 111 872.20
    ("II", "work_injury", 89498),         # 1.76 × 50 851 =  89 497.76
    ("III", "other", 61021),              # 1.20 × 50 851 =  61 021.20
    ("I", "since_childhood", 111872),     # 2.20 × 50 851
    ("II", "since_childhood", 93057),     # 1.83 × 50 851 =  93 057.33
    ("III", "since_childhood", 81870),    # 1.61 × 50 851 =  81 870.11
])
def test_disability_benefit_adult_amounts(group: str, cause: str, amount: int) -> None:
    [d] = [d for d in evaluate(ruling_ctx(MUM, group, cause)) if d.code == "disability_benefit"]
    assert d.amount_kzt == amount and d.recipient == MUM.iin and d.period == "monthly"
    assert d.end_month is None


def test_disability_benefit_for_a_child_goes_to_the_guardian() -> None:
    kid = card(iin_for("2018-06-01", "male"), "2018-06-01", "male", mother_iin=MUM.iin)
    ctx = ruling_ctx(kid, "child", "other", fam=family_of(MUM, kid), valid_until="2027-05-31")
    [d] = [d for d in evaluate(ctx) if d.code == "disability_benefit"]
    assert d.recipient == MUM.iin and d.amount_kzt == 81870  # 1.61 × 50 851 = 81 870.11
    assert dates.month_iso(d.end_month) == "2027-05"  # type: ignore[arg-type]


def test_an_older_ruling_arriving_late_offers_nothing() -> None:
    newer = apply(MUM, event("disability_ruling", MUM.iin, "2026-05-01",
                             {"group": "II", "cause": "other", "loss_of_working_capacity_pct": 50}))
    older = event("disability_ruling", MUM.iin, "2026-03-01",
                  {"group": "III", "cause": "other", "loss_of_working_capacity_pct": 40})
    ctx = Context(older, "subject", apply(newer, older), family_of(newer), PARAMS)
    assert evaluate(ctx) == []


def dismissal_ctx(person: PersonCard, on: str, *, same_day_job: bool = False) -> Context:
    if same_day_job:
        person = apply(person, event("employment_started", person.iin, on,
                                     {"employer_bin": "999999999999", "monthly_wage_kzt": 300000}))
    e = event("dismissal", person.iin, on, {"employer_bin": "123456789012", "reason": "staff_reduction"})
    after = apply(person, e)
    return Context(e, "subject", after, family_of(after), PARAMS)


def test_employment_measures_notice() -> None:
    [d] = evaluate(dismissal_ctx(MUM, "2026-06-10"))
    assert (d.code, d.kind, d.amount_kzt, d.reply_by) == ("employment_measures", "notice", None, None)


def test_no_notice_for_a_job_change_on_the_same_day() -> None:
    assert evaluate(dismissal_ctx(MUM, "2026-06-10", same_day_job=True)) == []
