"""Targeted social assistance and the date-driven notices, table-driven, amounts computed by hand.

2026 figures (rules.md §1): subsistence minimum 50 851, so the poverty line is
0.70 × 50 851 = 35 595.7; MCI 4 325, so the child supplement is 1.5 × 4 325 = 6 487.5.
2025: subsistence minimum 46 228, poverty line 0.70 × 46 228 = 32 359.6.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from rules import Context, evaluate, load_params
from rules.decisions import notification_id
from rules.notices import kandas_valid_until
from state import dates
from state.family import FamilyCard
from state.person import PersonCard, new_card
from tests.factories import apply, event, iin_for, registered

PARAMS = load_params()
Q2 = "2026-04-01"


@dataclass(frozen=True)
class P:
    """A family member as a test writes it."""

    birth: str
    sex: str = "female"
    wages: dict[str, int] = field(default_factory=dict)   # "YYYY-MM" -> income_kzt
    pension: int | None = None
    unemployed: bool = False
    deregistered: bool = False
    ruling_until: str | None = "-"                        # "-": no ruling; None: open-ended
    mother: int | None = None                             # index of the mother among the members
    father: int | None = None
    died: bool = False


def build(specs: list[P], fid: str = "F-1") -> tuple[FamilyCard, list[PersonCard]]:
    iins = [iin_for(s.birth, s.sex) for s in specs]
    cards = []
    for iin, s in zip(iins, specs):
        data: dict[str, object] = {}
        if s.mother is not None:
            data["mother_iin"] = iins[s.mother]
        if s.father is not None:
            data["father_iin"] = iins[s.father]
        c = apply(new_card(iin), registered(iin, s.birth, s.sex, fid, on="2025-01-01", **data))
        for month, income in s.wages.items():
            c = apply(c, event("contribution", iin, f"{month}-28",
                               {"month": month, "income_kzt": income, "social_contribution_kzt": income // 20}))
        if s.pension is not None:
            c = apply(c, event("pension_assigned", iin, "2025-02-01", {"monthly_amount_kzt": s.pension}))
        if s.unemployed:
            c = apply(c, event("unemployed_registered", iin, "2025-11-01"))
        if s.deregistered:
            c = apply(c, event("unemployed_deregistered", iin, "2026-02-01"))
        if s.ruling_until != "-":
            data = {"group": "II", "cause": "general_illness", "loss_of_working_capacity_pct": 60}
            if s.ruling_until is not None:
                data["valid_until"] = s.ruling_until
            c = apply(c, event("disability_ruling", iin, "2025-06-01", data))
        if s.died:
            c = apply(c, event("death", iin, "2026-02-10"))
        cards.append(c)
    return FamilyCard(fid, {c.iin: c for c in cards}), cards


def quarter_ctx(family: FamilyCard, on: str = Q2) -> Context:
    return Context(event("quarter_start", "", on), "family", None, family, PARAMS)


def tsa(specs: list[P], on: str = Q2) -> list:
    family, _ = build(specs)
    return [d for d in evaluate(quarter_ctx(family, on)) if d.code == "targeted_social_assistance"]


def q2_wages(*monthly: int) -> dict[str, int]:
    return dict(zip(("2026-01", "2026-02", "2026-03"), monthly))


MUM = P("1990-04-02", wages=q2_wages(30000, 30000, 30000))   # 90 000 in the quarter: 30 000 a month
DAD = "1985-05-05"

# Ten members, none of the children aged 1 to under 6 on 2026-04-01: the poverty line times ten is whole.
TEN_KIDS = [P(f"{y}-06-15", "male" if y % 2 else "female", mother=0, father=1) for y in range(2010, 2018)]


def ten(dad_january: int) -> list[P]:
    return [P("1980-01-01", wages=q2_wages(200000, 200000, 200000)),
            P("1980-02-02", "male", wages=q2_wages(dad_january, 0, 0)), *TEN_KIDS]


CASES = [
    # --- the poverty line, strictly below ---------------------------------------------------
    # 10 members; line × 3 months × 10 = 35 595.7 × 30 = 1 067 871 = 600 000 + 467 871: exactly at the line
    ("exactly at the line", ten(467871), None),
    # 1 067 841 / 3 / 10 = 35 594.7, one tenge below: 10 × (35 595.7 − 35 594.7) = 10
    ("per-capita one tenge below", ten(467841), 10),
    # 1 067 870 / 30 = 35 595.666…, below, but 10 × 35 595.7 − 1 067 870 / 3 = 0.333… rounds to 0: no offer
    ("below by a third of a tenge in total", ten(467870), None),
    # one person, 35 595 a month: 35 595.7 − 35 595 = 0.7 -> 1
    ("single earner just below", [P("1990-04-02", wages=q2_wages(35595, 35595, 35595))], 1),
    ("single earner just above", [P("1990-04-02", wages=q2_wages(35596, 35596, 35596))], None),
    # --- pensions count three times ---------------------------------------------------------
    # pensioner (71) alone, 30 000 a month: (3 × 30 000) / 3 = 30 000; 35 595.7 − 30 000 = 5 595.7 -> 5 596
    ("pensioner alone", [P("1955-01-01", pension=30000)], 5596),
    # retired man 50 000 pension + woman 20 000 in February: (20 000 + 3 × 50 000) / 3 = 56 666.67;
    # 2 × 35 595.7 − 56 666.666… = 14 524.733… -> 14 525
    ("pension and wages", [P("1960-01-01", "male", pension=50000), P("1970-06-01", wages=q2_wages(0, 20000, 0))],
     14525),
    # --- the work condition (every adult of working age has income or an excuse) ---------------
    ("idle working-age man blocks it", [MUM, P(DAD, "male")], None),
    # 2 × 35 595.7 − 90 000 / 3 = 71 191.4 − 30 000 = 41 191.4 -> 41 191
    ("unemployed-registered man", [MUM, P(DAD, "male", unemployed=True)], 41191),
    ("deregistered again: idle", [MUM, P(DAD, "male", unemployed=True, deregistered=True)], None),
    ("disabled man, open-ended ruling", [MUM, P(DAD, "male", ruling_until=None)], 41191),
    ("disabled man, ruling still in force on the day", [MUM, P(DAD, "male", ruling_until="2026-04-01")], 41191),
    ("ruling expired the day before", [MUM, P(DAD, "male", ruling_until="2026-03-31")], None),
    ("man above retirement age (63 since 2023-01-01)", [MUM, P("1960-01-01", "male")], 41191),
    # a woman born 1964-12-01 reaches 61 on 2025-12-01 (61 in force): retired on 2026-04-01
    ("woman of 61 is retired", [MUM, P("1964-12-01")], 41191),
    # born 1965-04-02: 61 only on 2026-04-02, one day later: still of working age and idle
    ("woman one day short of 61", [MUM, P("1965-04-02")], None),
    # 17-year-old: a child, not subject to the condition; no supplement (aged 17)
    ("idle 17-year-old", [MUM, P("2008-06-01", "male", mother=0)], 41191),
    # turns 18 on the quarter day: an adult without income
    ("idle 18-year-old", [MUM, P("2008-04-01", "male", mother=0)], None),
    # father of a 2-year-old: 3 members, 1 supplement: 3 × 35 595.7 − 30 000 + 6 487.5 = 83 274.6 -> 83 275
    ("father of a child under 3", [MUM, P(DAD, "male"), P("2024-01-15", mother=0, father=1)], 83275),
    # the child turned 3 on 2026-03-15: the idle father blocks it
    ("father of a child of 3", [MUM, P(DAD, "male"), P("2023-03-15", mother=0, father=1)], None),
    # mother of a baby, no income at all: 2 × 35 595.7 − 0 = 71 191.4 -> 71 191 (baby aged 0: no supplement)
    ("mother of a baby without income", [P("1995-05-05"), P("2025-12-01", mother=0)], 71191),
    # --- the child supplement, ages on 2026-04-01 -------------------------------------------
    # 2 × 35 595.7 − 30 000 = 41 191.4 without, + 6 487.5 = 47 678.9 -> 47 679 with one supplement
    ("child aged 0", [MUM, P("2026-03-01", mother=0)], 41191),
    ("child one day short of 1", [MUM, P("2025-04-02", mother=0)], 41191),
    ("child turning 1 on the day", [MUM, P("2025-04-01", mother=0)], 47679),
    ("child aged 5", [MUM, P("2020-04-02", mother=0)], 47679),
    ("child turning 6 on the day", [MUM, P("2020-04-01", mother=0)], 41191),
    # 3 members, two supplements: 3 × 35 595.7 − 30 000 + 2 × 6 487.5 = 89 762.1 -> 89 762
    ("children aged 1 and 5", [MUM, P("2025-01-01", mother=0), P("2021-01-01", mother=0)], 89762),
    # --- members who do not count -----------------------------------------------------------
    # the dead father is not a member: 2 members as with "child aged 0"
    ("dead member", [MUM, P(DAD, "male", died=True), P("2026-03-01", mother=0)], 41191),
    ("only children", [P("2012-01-01"), P("2015-01-01")], None),
    ("nobody alive", [P("1990-01-01", died=True)], None),
]


@pytest.mark.parametrize(("name", "specs", "amount"), CASES, ids=[c[0] for c in CASES])
def test_targeted_social_assistance_amounts(name: str, specs: list[P], amount: int | None) -> None:
    found = tsa(specs)
    if amount is None:
        assert found == []
    else:
        assert [d.amount_kzt for d in found] == [amount]


@pytest.mark.parametrize(("on", "child_birth", "amount"), [
    # 29 February: the birthday is 1 March in other years. Born 2020-02-29: 5 on 2025-03-01, 6 on 2026-03-01.
    # Q1 2026 incomes are Oct–Dec 2025 (30 000 a month): 2 × 35 595.7 − 30 000 + 6 487.5 = 47 678.9 -> 47 679
    ("2026-01-01", "2020-02-29", 47679),
    # Q2 2026: aged 6, no supplement: 2 × 35 595.7 − 30 000 = 41 191.4 -> 41 191
    ("2026-04-01", "2020-02-29", 41191),
    # born 2024-02-29, aged 1 on 2025-03-01: a supplement on 2025-04-01 (2025 line 32 359.6, incomes Jan–Mar 2025)
    # 2 × 32 359.6 − 30 000 + 1.5 × 3 932 = 64 719.2 − 30 000 + 5 898 = 40 617.2 -> 40 617
    ("2025-04-01", "2024-02-29", 40617),
])
def test_twenty_ninth_of_february(on: str, child_birth: str, amount: int) -> None:
    months = ("2025-01", "2025-02", "2025-03", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03")
    mum = P("1990-04-02", wages={m: 30000 for m in months})
    assert [d.amount_kzt for d in tsa([mum, P(child_birth, mother=0)], on)] == [amount]


def test_parent_of_a_29_february_child_under_3() -> None:
    # born 2024-02-29: turns 3 on 2027-03-01, so on 2027-01-01 the idle father is excused, on 2027-04-01 not
    family = [P("1990-04-02", wages={"2026-10": 30000, "2027-01": 30000}), P(DAD, "male"),
              P("2024-02-29", mother=0, father=1)]
    # 2027 still uses the 2026 figures: 3 × 35 595.7 − 30 000 / 3 + 6 487.5 = 106 787.1 − 10 000 + 6 487.5
    # = 103 274.6 -> 103 275
    assert [d.amount_kzt for d in tsa(family, "2027-01-01")] == [103275]
    assert tsa(family, "2027-04-01") == []


def test_q1_uses_october_to_december_of_the_previous_year() -> None:
    mum = P("1990-04-02", wages={"2025-09": 500000, "2025-10": 30000, "2025-11": 30000, "2025-12": 30000,
                                 "2026-01": 500000})
    [d] = tsa([mum], "2026-01-01")
    # 2026 line on 2026-01-01 with Oct–Dec 2025 incomes only: 35 595.7 − 30 000 = 5 595.7 -> 5 596
    assert d.amount_kzt == 5596
    assert (dates.month_iso(d.start_month), dates.month_iso(d.end_month)) == ("2026-01", "2026-03")  # type: ignore[arg-type]
    assert d.occasion == "tsa:F-1:2026-Q1"
    assert d.rule == "targeted_social_assistance/2026-01-01"


def test_q4_uses_the_year_s_own_figures() -> None:
    mum = P("1990-04-02", wages={"2025-07": 30000, "2025-08": 30000, "2025-09": 30000})
    [d] = tsa([mum], "2025-10-01")
    # 2025 line 0.70 × 46 228 = 32 359.6; 32 359.6 − 30 000 = 2 359.6 -> 2 360
    assert d.amount_kzt == 2360 and d.occasion == "tsa:F-1:2025-Q4"


def test_offer_shape_period_and_reasons() -> None:
    family, cards = build([MUM, P(DAD, "male", unemployed=True), P("2025-01-01", mother=0, father=1)])
    ctx = quarter_ctx(family)
    [d] = evaluate(ctx)
    # 3 × 35 595.7 − 30 000 + 6 487.5 = 83 274.6 -> 83 275
    assert (d.code, d.kind, d.period, d.amount_kzt) == ("targeted_social_assistance", "offer", "monthly", 83275)
    assert d.recipient == cards[0].iin          # the baby's mother
    assert d.issued_on == dates.day(Q2) and d.reply_by == dates.day(Q2) + 3
    assert (dates.month_iso(d.start_month), dates.month_iso(d.end_month)) == ("2026-04", "2026-06")  # type: ignore[arg-type]
    assert d.occasion == "tsa:F-1:2026-Q2"
    assert d.notification_id == notification_id(cards[0].iin, "targeted_social_assistance", "tsa:F-1:2026-Q2")
    text = "\n".join(d.reasons)
    assert "poverty line 35595.70" in text
    assert "per-capita 10000.00" in text        # 90 000 / 3 / 3
    assert "children aged 1 to under 6: 1," in text
    assert f"{cards[0].iin}: income 90 000 KZT in 2026-01..2026-03" in text


W = q2_wages(10000, 0, 0)


def test_a_wake_delivered_later_in_the_quarter_judges_the_quarter_s_first_day() -> None:
    # the calendar may wake families tsa_settle_days into the quarter; the baby born on 2026-04-10 was not a
    # member on 2026-04-01, the son turning 18 on 2026-04-05 was still a child then
    family, cards = build([MUM, P("2008-04-05", "male", mother=0), P("2026-04-10", mother=0)])
    [d] = evaluate(quarter_ctx(family, "2026-04-16"))
    # as on 2026-04-01: 2 members, 2 × 35 595.7 − 30 000 = 41 191.4 -> 41 191
    assert d.amount_kzt == 41191 and d.occasion == "tsa:F-1:2026-Q2"
    assert d.issued_on == dates.day("2026-04-16") and d.reply_by == dates.day("2026-04-19")
    assert (dates.month_iso(d.start_month), dates.month_iso(d.end_month)) == ("2026-04", "2026-06")  # type: ignore[arg-type]


@pytest.mark.parametrize(("specs", "recipient"), [
    # the youngest child's mother (both parents excused by the baby)
    ([P("1990-04-02"), P("1988-01-01", "male"), P("2025-01-01", mother=0, father=1)], 0),
    # two mothers: grandmother (index 0) with a 16-year-old, daughter (index 2) with a baby -> the daughter
    ([P("1970-01-01", wages=W), P("2010-01-01", mother=0), P("2000-05-05"), P("2025-06-01", mother=2)], 2),
    # the mother lives elsewhere (not a member): the father
    ([P("1988-01-01", "male", wages=W), P("2020-01-01", father=0)], 0),
    # neither parent in the family: the oldest adult
    ([P("1995-01-01", "male", wages=W), P("1960-01-01"), P("2020-01-01")], 1),
    # no children: the oldest adult
    ([P("1995-01-01", "male", wages=W), P("1975-01-01", wages=W)], 1),
])
def test_recipient(specs: list[P], recipient: int) -> None:
    family, cards = build(specs)
    [d] = [d for d in evaluate(quarter_ctx(family))]
    assert d.recipient == cards[recipient].iin


def test_family_card_without_members() -> None:
    assert evaluate(quarter_ctx(FamilyCard("F-9"))) == []


def test_only_fires_for_the_family_role() -> None:
    family, cards = build([P("1955-01-01", pension=30000)])
    ctx = Context(event("quarter_start", "", Q2), "subject", cards[0], family, PARAMS)
    assert evaluate(ctx) == []


# --- notices -------------------------------------------------------------------------------

def person(birth: str, sex: str, registered_on: str = "2025-01-01") -> PersonCard:
    iin = iin_for(birth, sex)
    return apply(new_card(iin), registered(iin, birth, sex, "F-1", on=registered_on))


def wake(kind: str, card: PersonCard, on: str) -> list:
    return evaluate(Context(event(kind, card.iin, on), "subject", card, FamilyCard("F-1", {card.iin: card}), PARAMS))


WOMAN_1967 = person("1967-01-10", "female")


def test_pension_notice_on_the_retirement_date() -> None:
    # born 1967-01-10: 61 on 2028-01-10, but 61.5 is in force from 2028-01-01 -> 61.5 on 2028-07-10
    [d] = wake("retirement_age", WOMAN_1967, "2028-07-10")
    assert (d.code, d.kind, d.amount_kzt, d.reply_by, d.period) == ("pension_eligibility", "notice", None, None, None)
    assert d.recipient == WOMAN_1967.iin and d.occasion == f"pension:{WOMAN_1967.iin}"
    assert d.issued_on == dates.day("2028-07-10")
    assert any("2028-07-10" in r for r in d.reasons)


@pytest.mark.parametrize(("card", "on"), [
    (apply(WOMAN_1967, event("pension_assigned", WOMAN_1967.iin, "2028-01-15", {"monthly_amount_kzt": 90000})),
     "2028-07-10"),
    (apply(WOMAN_1967, event("death", WOMAN_1967.iin, "2028-03-01")), "2028-07-10"),
    (person("1967-01-10", "female", registered_on="2028-07-10"), "2028-07-10"),   # registered that day
    (person("1967-01-10", "female", registered_on="2028-08-01"), "2028-08-01"),   # registered after
    (WOMAN_1967, "2028-01-10"),    # 61st birthday: 61.5 already in force
    (WOMAN_1967, "2028-07-09"),    # a day early
])
def test_no_pension_notice(card: PersonCard, on: str) -> None:
    assert wake("retirement_age", card, on) == []


def test_pension_notice_delivered_late() -> None:
    [d] = wake("retirement_age", WOMAN_1967, "2028-07-12")
    assert d.occasion == f"pension:{WOMAN_1967.iin}"


def test_pension_notice_for_a_man_born_on_29_february() -> None:
    man = person("1964-02-29", "male")
    assert wake("retirement_age", man, "2027-02-28") == []       # 2027 is not a leap year: 63 on 1 March
    [d] = wake("retirement_age", man, "2027-03-01")
    assert d.recipient == man.iin


def kandas(card: PersonCard, granted: str, until: str) -> PersonCard:
    return apply(card, event("kandas_status", card.iin, granted, {"valid_until": until}))


KANDAS = kandas(person("1985-03-03", "male"), "2025-08-15", "2026-08-15")


def test_kandas_notice_thirty_days_before() -> None:
    [d] = wake("kandas_notice_due", KANDAS, "2026-07-16")          # 2026-08-15 − 30 days
    assert (d.code, d.kind, d.amount_kzt, d.reply_by) == ("kandas_status_expiry", "notice", None, None)
    assert d.occasion == f"kandas:{KANDAS.iin}:2026-08-15"


def test_kandas_occasion_gives_the_date_for_the_text() -> None:
    [d] = wake("kandas_notice_due", KANDAS, "2026-07-16")
    assert kandas_valid_until(d.occasion) == dates.day("2026-08-15")
    assert kandas_valid_until(f"pension:{KANDAS.iin}") is None
    assert kandas_valid_until("kandas:x:not-a-date") is None


def test_kandas_extended_then_a_new_notice_for_the_new_date() -> None:
    extended = kandas(KANDAS, "2026-07-01", "2027-02-15")
    assert wake("kandas_notice_due", extended, "2026-07-16") == []  # extended before the old notice day
    [d] = wake("kandas_notice_due", extended, "2027-01-16")         # 2027-02-15 − 30 days
    assert d.occasion == f"kandas:{KANDAS.iin}:2027-02-15"
    [old] = wake("kandas_notice_due", KANDAS, "2026-07-16")
    assert d.notification_id != old.notification_id


@pytest.mark.parametrize(("card", "on", "fires"), [
    (KANDAS, "2026-08-01", True),           # granted with less than 30 days left: delivered later
    (KANDAS, "2026-08-15", True),           # the last valid day
    (KANDAS, "2026-08-16", False),          # expired
    (KANDAS, "2026-07-15", False),          # 31 days before
    (apply(KANDAS, event("death", KANDAS.iin, "2026-05-01")), "2026-07-16", False),
    (person("1985-03-03", "male"), "2026-07-16", False),   # no status at all
])
def test_kandas_notice_window(card: PersonCard, on: str, fires: bool) -> None:
    assert bool(wake("kandas_notice_due", card, on)) is fires


def test_notices_need_the_subject_role_and_a_card() -> None:
    assert evaluate(Context(event("retirement_age", WOMAN_1967.iin, "2028-07-10"), "family", None,
                            FamilyCard("F-1"), PARAMS)) == []


def test_cards_are_not_changed_by_rules() -> None:
    before = replace(WOMAN_1967)
    wake("retirement_age", WOMAN_1967, "2028-07-10")
    assert WOMAN_1967 == before
