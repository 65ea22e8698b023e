"""The insurance, death and family offers of rules.md §3, table-driven, amounts computed by hand.

2026 values: mci 4 325, ПМ 50 851, minimum wage 85 000 (half: 42 500, 7×: 595 000).
2025: mci 3 932. 2023: minimum wage 70 000 (half: 35 000, 7×: 490 000).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from rules import Context, evaluate, load_params, registered_rules
from rules.decisions import Decision
from rules.insurance import amd, insured, participation_months, psc
from rules.retirement import retirement_day
from state import dates
from state.family import FamilyCard
from state.person import PersonCard, new_card
from tests.factories import apply, event, iin_for, registered

PARAMS = load_params()


def card(birth: str, sex: str, family: str = "F-1", **data: object) -> PersonCard:
    iin = iin_for(birth, sex)
    return apply(new_card(iin), registered(iin, birth, sex, family, **data))


def family_of(*cards: PersonCard, fid: str = "F-1") -> FamilyCard:
    return FamilyCard(fid, {c.iin: c for c in cards})


def months_back(last: str, n: int) -> list[str]:
    """``n`` consecutive months ending with ``last`` (YYYY-MM)."""
    end = dates.parse_month(last)
    return [dates.month_iso(m) for m in range(end - n + 1, end + 1)]


def contribute(person: PersonCard, months: list[str], income: int = 300_000) -> PersonCard:
    for m in months:
        person = apply(person, event("contribution", person.iin, f"{m}-28",
                                     {"month": m, "income_kzt": income, "social_contribution_kzt": income // 20}))
    return person


def only(decisions: list[Decision], code: str) -> list[Decision]:
    return [d for d in decisions if d.code == code]


def test_the_six_offers_are_registered() -> None:
    codes = {r.code for r in registered_rules()}
    assert {"working_capacity_loss", "job_loss", "breadwinner_loss", "funeral_payment",
            "large_family_benefit", "mother_award_benefit"} <= codes


# --- §2 insurance definitions ---------------------------------------------------------------

@pytest.mark.parametrize(("months", "coef"), [
    (0, "0.1"), (5, "0.1"), (6, "0.7"), (11, "0.7"), (12, "0.75"), (23, "0.75"), (24, "0.85"),
    (35, "0.85"), (36, "0.9"), (47, "0.9"), (48, "0.95"), (59, "0.95"), (60, "1.0"), (71, "1.0"),
    (72, "1.02"),    # 1 further full 12 months past 60: 1.0 + 0.02
    (83, "1.02"),
    (84, "1.04"),    # 2 further full 12 months
    (239, "1.28"),   # (239 − 60) // 12 = 14 → 1.0 + 14 × 0.02
    (240, "1.30"),   # 15 → 1.30, the cap
    (300, "1.3"),    # 20 → 1.40, capped at 1.3
])
def test_psc_bands(months: int, coef: str) -> None:
    assert psc(months, PARAMS) == Decimal(coef)


def test_amd_caps_each_month_and_divides_by_24() -> None:
    person = card("1980-05-05", "male")
    person = contribute(person, months_back("2026-02", 2), income=1_000_000)   # capped at 595 000 each
    person = contribute(person, ["2025-06"], income=300_000)
    person = contribute(person, ["2024-02", "2026-03"], income=900_000)         # outside the window
    # (2 × 595 000 + 300 000) / 24 = 1 490 000 / 24 = 62 083.33…
    assert amd(person, dates.day("2026-03-10"), PARAMS) == Decimal(1_490_000) / 24
    # participation counts the event month too, and months before the window: 5
    assert participation_months(person, dates.day("2026-03-10")) == 5
    assert participation_months(person, dates.day("2026-02-28")) == 4
    assert insured(person) and not insured(card("1980-05-05", "male"))


# --- working_capacity_loss --------------------------------------------------------------------

def ruling_ctx(person: PersonCard, on: str, pct: int = 50, valid_until: str | None = None,
               group: str = "III") -> Context:
    data: dict[str, object] = {"group": group, "cause": "general_illness", "loss_of_working_capacity_pct": pct}
    if valid_until:
        data["valid_until"] = valid_until
    e = event("disability_ruling", person.iin, on, data)
    after = apply(person, e)
    return Context(e, "subject", after, family_of(after), PARAMS)


MAN = card("1980-05-05", "male")  # reaches 63 on 2043-05-05


def insured_man(window: int, older: int = 0, event_month: bool = False, income: int = 300_000) -> PersonCard:
    """``window`` months in 2024-03..2026-02 (before a March 2026 event), ``older`` before that."""
    person = contribute(MAN, months_back("2026-02", window), income)
    person = contribute(person, months_back("2024-02", older), income)
    return contribute(person, ["2026-03"], income) if event_month else person


# With 300 000 a month: AMD = 12 500 × window months; minus 42 500; × 0.6 × PSC × 50/100.
@pytest.mark.parametrize(("window", "older", "event_month", "amount"), [
    (5, 0, False, 600),        # (62 500 − 42 500) × 0.6 × 0.1 × 0.5 = 600
    (6, 0, False, 6825),       # (75 000 − 42 500) × 0.6 × 0.7 × 0.5 = 6 825
    (11, 0, False, 19950),     # (137 500 − 42 500) × 0.3 × 0.7 = 19 950
    (11, 0, True, 21375),      # 12 participation months with the event month: 95 000 × 0.3 × 0.75 = 21 375
    (12, 0, False, 24188),     # (150 000 − 42 500) × 0.3 × 0.75 = 24 187.5 → 24 188
    (23, 0, False, 55125),     # (287 500 − 42 500) × 0.3 × 0.75 = 55 125
    (24, 0, False, 65663),     # (300 000 − 42 500) × 0.6 × 0.85 × 50/100 = 65 662.5 → 65 663
    (24, 11, False, 65663),    # 35 months: still 0.85
    (24, 12, False, 69525),    # 36: 257 500 × 0.3 × 0.9 = 69 525
    (24, 23, False, 69525),    # 47: 0.9
    (24, 24, False, 73388),    # 48: 257 500 × 0.3 × 0.95 = 73 387.5 → 73 388
    (24, 35, False, 73388),    # 59: 0.95
    (24, 36, False, 77250),    # 60: 257 500 × 0.3 × 1.0 = 77 250
    (24, 47, False, 77250),    # 71: 1.0
    (24, 48, False, 78795),    # 72: 77 250 × 1.02 = 78 795
    (24, 59, False, 78795),    # 83: 1.02
    (24, 60, False, 80340),    # 84: 77 250 × 1.04 = 80 340
    (24, 276, False, 100425),  # 300: capped 1.3 → 77 250 × 1.3 = 100 425
])
def test_working_capacity_loss_amount_by_psc(window: int, older: int, event_month: bool, amount: int) -> None:
    person = insured_man(window, older, event_month)
    [d] = only(evaluate(ruling_ctx(person, "2026-03-10")), "working_capacity_loss")
    assert (d.amount_kzt, d.recipient, d.period) == (amount, MAN.iin, "monthly")
    assert d.occasion == f"wcl:{MAN.iin}:2026-03-10"
    assert d.rule == "working_capacity_loss/2026-01-01"


# 24 months of the same income, 24 participation months (PSC 0.85), 50 %: × 0.6 × 0.85 × 0.5 = × 0.255
@pytest.mark.parametrize(("income", "amount"), [
    (1_000_000, 140888),  # capped at 7 × 85 000: (595 000 − 42 500) × 0.255 = 140 887.5 → 140 888
    (595_000, 140888),    # exactly the cap: the same
    (595_024, 140888),    # 24 tenge over the cap a month: still 595 000
    (594_976, 140881),    # 24 tenge under it: (594 976 − 42 500) × 0.255 = 140 881.38 → 140 881
    (80_000, 9563),       # far below the cap: (80 000 − 42 500) × 0.255 = 9 562.5 → 9 563
])
def test_working_capacity_loss_caps_each_month(income: int, amount: int) -> None:
    person = insured_man(24, income=income)
    [d] = only(evaluate(ruling_ctx(person, "2026-03-10")), "working_capacity_loss")
    assert d.amount_kzt == amount


def test_cap_mixed_months() -> None:
    person = contribute(MAN, months_back("2026-02", 12), 1_000_000)
    person = contribute(person, months_back("2025-02", 12), 300_000)
    # AMD = (12 × 595 000 + 12 × 300 000) / 24 = 447 500; (447 500 − 42 500) × 0.255 = 103 275
    [d] = only(evaluate(ruling_ctx(person, "2026-03-10")), "working_capacity_loss")
    assert d.amount_kzt == 103275


def test_cap_and_deduction_use_the_minimum_wage_of_the_event_date() -> None:
    person = contribute(MAN, months_back("2023-05", 24), 1_000_000)
    # 2023: cap 7 × 70 000 = 490 000; (490 000 − 35 000) × 0.6 × 0.85 × 0.5 = 116 025
    [d] = only(evaluate(ruling_ctx(person, "2023-06-15")), "working_capacity_loss")
    assert d.amount_kzt == 116025 and d.rule == "working_capacity_loss/2023-01-01"


@pytest.mark.parametrize(("pct", "amount"), [
    (29, None),
    (30, 39398),    # 257 500 × 0.6 × 0.85 × 30/100 = 39 397.5 → 39 398
    (100, 131325),  # 257 500 × 0.6 × 0.85 = 131 325
])
def test_working_capacity_loss_from_30_percent(pct: int, amount: int | None) -> None:
    found = only(evaluate(ruling_ctx(insured_man(24), "2026-03-10", pct=pct)), "working_capacity_loss")
    assert [d.amount_kzt for d in found] == ([] if amount is None else [amount])


@pytest.mark.parametrize(("income", "offered"), [
    (85_000, False),   # 6 months: AMD 510 000 / 24 = 21 250 < 42 500
    (170_000, False),  # AMD 1 020 000 / 24 = 42 500: amount exactly 0
    (171_000, True),   # AMD 42 750: (250) × 0.6 × 0.7 × 0.5 = 52.5 → 53
])
def test_working_capacity_loss_needs_a_positive_amount(income: int, offered: bool) -> None:
    person = insured_man(6, income=income)
    found = only(evaluate(ruling_ctx(person, "2026-03-10")), "working_capacity_loss")
    assert [d.amount_kzt for d in found] == ([53] if offered else [])


def test_working_capacity_loss_needs_insurance() -> None:
    assert only(evaluate(ruling_ctx(MAN, "2026-03-10")), "working_capacity_loss") == []


WOMAN_1967 = card("1967-01-10", "female")  # reaches retirement age (61.5) on 2028-07-10


@pytest.mark.parametrize(("on", "offered"), [("2028-07-09", True), ("2028-07-10", False), ("2029-01-05", False)])
def test_working_capacity_loss_only_under_retirement_age(on: str, offered: bool) -> None:
    assert retirement_day(WOMAN_1967.birth, "female", PARAMS) == dates.day("2028-07-10")
    person = contribute(WOMAN_1967, months_back("2028-06", 24))
    found = only(evaluate(ruling_ctx(person, on)), "working_capacity_loss")
    assert len(found) == (1 if offered else 0)
    if offered:
        d = found[0]
        assert d.amount_kzt == 65663  # 257 500 × 0.6 × 0.85 × 0.5 = 65 662.5 → 65 663
        # retirement falls within the ruling's own month: that month is still paid
        assert (dates.month_iso(d.start_month), dates.month_iso(d.end_month)) == ("2028-07", "2028-07")  # type: ignore[arg-type]


@pytest.mark.parametrize(("valid_until", "end"), [
    (None, "2043-04"),            # the month before 63 (2043-05-05)
    ("2027-03-31", "2027-03"),    # valid_until's month comes first
    ("2050-01-01", "2043-04"),    # retirement comes first
])
def test_working_capacity_loss_period(valid_until: str | None, end: str) -> None:
    [d] = only(evaluate(ruling_ctx(insured_man(24), "2026-03-10", valid_until=valid_until)), "working_capacity_loss")
    assert dates.month_iso(d.start_month) == "2026-03"  # type: ignore[arg-type]
    assert dates.month_iso(d.end_month) == end  # type: ignore[arg-type]


def test_working_capacity_loss_reasons_name_amd_and_psc() -> None:
    [d] = only(evaluate(ruling_ctx(insured_man(24), "2026-03-10")), "working_capacity_loss")
    text = " | ".join(d.reasons)
    for fact in ("2026-03-10", "50 %", "AMD 300000.00", "= 257500.00 KZT", "24 contribution months", "2024-03..2026-02",
                 "PSC 0.85", "minimum wage 85000", "0.6", "2043-05-05"):
        assert fact in text, fact


def test_an_older_ruling_arriving_late_pays_no_working_capacity_loss() -> None:
    person = insured_man(24)
    newer = apply(person, event("disability_ruling", person.iin, "2026-05-01",
                                {"group": "II", "cause": "other", "loss_of_working_capacity_pct": 60}))
    older = event("disability_ruling", person.iin, "2026-03-01",
                  {"group": "III", "cause": "other", "loss_of_working_capacity_pct": 40})
    ctx = Context(older, "subject", apply(newer, older), family_of(newer), PARAMS)
    assert only(evaluate(ctx), "working_capacity_loss") == []


# --- job_loss ---------------------------------------------------------------------------------

def unemployed_ctx(person: PersonCard, registered_on: str = "2026-03-05", dismissed_on: str | None = "2026-02-20",
                   job_on: str | None = None) -> Context:
    if dismissed_on is not None:
        person = apply(person, event("dismissal", person.iin, dismissed_on,
                                     {"employer_bin": "123456789012", "reason": "staff_reduction"}))
    if job_on is not None:
        person = apply(person, event("employment_started", person.iin, job_on,
                                     {"employer_bin": "999999999999", "monthly_wage_kzt": 300000}))
    e = event("unemployed_registered", person.iin, registered_on, {})
    after = apply(person, e)
    return Context(e, "subject", after, family_of(after), PARAMS)


# 300 000 a month; AMD = 12 500 × window months; (AMD − 42 500) × 0.45 × PSC; N by participation months.
@pytest.mark.parametrize(("window", "older", "amount", "n_months"), [
    (6, 0, 10238, 1),      # (75 000 − 42 500) × 0.45 × 0.7 = 10 237.5 → 10 238
    (11, 0, 29925, 1),     # (137 500 − 42 500) × 0.315 = 29 925
    (12, 0, 36281, 2),     # (150 000 − 42 500) × 0.45 × 0.75 = 36 281.25 → 36 281
    (23, 0, 82688, 2),     # 245 000 × 0.3375 = 82 687.5 → 82 688
    (24, 0, 98494, 3),     # 257 500 × 0.45 × 0.85 = 98 493.75 → 98 494
    (24, 11, 98494, 3),    # 35 participation months
    (24, 12, 104288, 4),   # 36: 257 500 × 0.405 = 104 287.5 → 104 288
    (24, 23, 104288, 4),   # 47
    (24, 24, 110081, 5),   # 48: 257 500 × 0.4275 = 110 081.25 → 110 081
    (24, 35, 110081, 5),   # 59
    (24, 36, 115875, 6),   # 60: 257 500 × 0.45 = 115 875
    (24, 276, 150638, 6),  # 300: 257 500 × 0.45 × 1.3 = 150 637.5 → 150 638
])
def test_job_loss_amount_and_duration(window: int, older: int, amount: int, n_months: int) -> None:
    [d] = only(evaluate(unemployed_ctx(insured_man(window, older))), "job_loss")
    assert (d.amount_kzt, d.recipient, d.period) == (amount, MAN.iin, "monthly")
    assert d.start_month == dates.parse_month("2026-03")
    assert d.end_month == dates.parse_month("2026-03") + n_months - 1
    assert d.occasion == f"job_loss:{MAN.iin}:2026-02-20"


@pytest.mark.parametrize(("window", "older", "event_month", "offered"), [
    (6, 0, False, True),   # exactly 6 contribution months in 2024-03..2026-02
    (5, 0, False, False),  # 5
    (5, 30, False, False), # 35 participation months, but only 5 in the 24-month window
    (5, 0, True, False),   # the registration month itself is not in the window
])
def test_job_loss_needs_6_months_in_the_window(window: int, older: int, event_month: bool, offered: bool) -> None:
    found = only(evaluate(unemployed_ctx(insured_man(window, older, event_month))), "job_loss")
    assert len(found) == (1 if offered else 0)


@pytest.mark.parametrize(("dismissed", "job", "offered"), [
    ("2026-02-20", None, True),
    ("2026-03-05", None, True),           # dismissed on the registration day itself
    ("2026-02-20", "2025-01-10", True),   # the job he was dismissed from
    ("2026-02-20", "2026-02-20", False),  # a job change on the same day
    ("2026-02-20", "2026-02-25", False),  # employed again after the dismissal
    ("2026-03-06", None, False),          # dismissed only after registering
    (None, None, False),                  # never dismissed
])
def test_job_loss_needs_a_dismissal_without_new_job(dismissed: str | None, job: str | None, offered: bool) -> None:
    found = only(evaluate(unemployed_ctx(insured_man(24), dismissed_on=dismissed, job_on=job)), "job_loss")
    assert len(found) == (1 if offered else 0)


@pytest.mark.parametrize("income", [85_000, 170_000])
def test_job_loss_needs_a_positive_amount(income: int) -> None:
    # 6 × 85 000 / 24 = 21 250 and 6 × 170 000 / 24 = 42 500: nothing above half the minimum wage
    assert only(evaluate(unemployed_ctx(insured_man(6, income=income))), "job_loss") == []


def test_job_loss_occasion_is_the_dismissal_when_registering_twice() -> None:
    person = insured_man(24)
    first = only(evaluate(unemployed_ctx(person)), "job_loss")
    second = only(evaluate(unemployed_ctx(person, registered_on="2026-06-01")), "job_loss")
    assert first[0].occasion == second[0].occasion == f"job_loss:{MAN.iin}:2026-02-20"
    assert first[0].notification_id == second[0].notification_id


def test_job_loss_reasons() -> None:
    [d] = only(evaluate(unemployed_ctx(insured_man(24, 36))), "job_loss")
    text = " | ".join(d.reasons)
    for fact in ("dismissed on 2026-02-20", "registered unemployed on 2026-03-05", "24 contribution months",
                 "60 participation months", "PSC 1.0", "0.45", "6 months", "2026-03..2026-08"):
        assert fact in text, fact


# --- breadwinner_loss and funeral_payment ------------------------------------------------------

DEATH = "2026-05-10"
DAD = card("1980-01-01", "male")
MUM = card("1982-03-03", "female")


def child_of(birth: str, *, mother: PersonCard | None = MUM, father: PersonCard | None = DAD,
             family: str = "F-1", since_childhood: bool = False) -> PersonCard:
    data: dict[str, object] = {}
    if mother is not None:
        data["mother_iin"] = mother.iin
    if father is not None:
        data["father_iin"] = father.iin
    c = card(birth, "female", family, **data)
    if since_childhood:
        c = apply(c, event("disability_ruling", c.iin, "2020-01-01",
                           {"group": "II", "cause": "since_childhood", "loss_of_working_capacity_pct": 60}))
    return c


def death_ctx(deceased: PersonCard, *others: PersonCard, on: str = DEATH) -> Context:
    e = event("death", deceased.iin, on, {})
    dead = apply(deceased, e)
    return Context(e, "subject", dead, family_of(dead, *others), PARAMS)


KIDS = [child_of(f"20{10 + i:02d}-06-15") for i in range(7)]  # born 2010..2016, all under 18 on 2026-05-10


@pytest.mark.parametrize(("n", "amount"), [
    (1, 46783),    # 0.92 × 50 851 = 46 782.92 → 46 783
    (2, 86447),    # 1.70 × 50 851 = 86 446.70 → 86 447
    (3, 114415),   # 2.25 × 50 851 = 114 414.75 → 114 415
    (4, 132213),   # 2.60 × 50 851 = 132 212.60 → 132 213
    (5, 139840),   # 2.75 × 50 851 = 139 840.25 → 139 840
    (6, 152553),   # 3.00 × 50 851 = 152 553
    (7, 152553),   # 6 or more: 3.00
])
def test_breadwinner_loss_by_number_of_dependants(n: int, amount: int) -> None:
    kids = KIDS[:n]
    [d] = only(evaluate(death_ctx(DAD, MUM, *kids)), "breadwinner_loss")
    assert (d.amount_kzt, d.recipient, d.period) == (amount, MUM.iin, "monthly")
    assert d.occasion == f"breadwinner:{DAD.iin}"
    youngest = kids[-1]  # born 20(10+n−1)-06-15: turns 18 in June, paid to May
    assert d.start_month == dates.parse_month("2026-05")
    assert dates.month_iso(d.end_month) == f"{2028 + n - 1}-05"  # type: ignore[arg-type]
    assert all(k.iin in " ".join(d.reasons) for k in kids) and youngest.iin in d.reasons[-1]


def test_an_adult_disabled_since_childhood_is_a_dependant() -> None:
    adult = child_of("2000-02-02", since_childhood=True)
    [d] = only(evaluate(death_ctx(DAD, MUM, adult, KIDS[0])), "breadwinner_loss")
    assert d.amount_kzt == 86447  # 2 dependants: 1.70 × 50 851 = 86 446.70 → 86 447
    assert dates.month_iso(d.end_month) == "2028-05"  # type: ignore[arg-type]  # KIDS[0] turns 18 on 2028-06-15


def test_an_adult_not_disabled_is_no_dependant() -> None:
    adult = child_of("2000-02-02")
    [d] = only(evaluate(death_ctx(DAD, MUM, adult, KIDS[0])), "breadwinner_loss")
    assert d.amount_kzt == 46783  # 1 dependant: 0.92 × 50 851 = 46 782.92 → 46 783
    assert adult.iin not in " ".join(d.reasons)


def test_only_adult_dependants_disabled_since_childhood_is_open_ended() -> None:
    adult = child_of("2000-02-02", since_childhood=True)
    [d] = only(evaluate(death_ctx(DAD, MUM, adult)), "breadwinner_loss")
    assert (d.amount_kzt, d.recipient, d.end_month) == (46783, MUM.iin, None)


def test_a_child_in_another_family_is_no_dependant() -> None:
    elsewhere = child_of("2015-01-01", family="F-2")
    dad = apply(DAD, event("birth", elsewhere.iin, "2015-01-01",
                           {"mother_iin": MUM.iin, "father_iin": DAD.iin, "family_id": "F-2", "sex": "female"}),
                role="father")
    assert elsewhere.iin in dad.children
    [d] = only(evaluate(death_ctx(dad, MUM, KIDS[0])), "breadwinner_loss")
    assert d.amount_kzt == 46783  # 1 dependant
    assert elsewhere.iin not in " ".join(d.reasons)


def test_a_stepchild_is_no_dependant() -> None:
    other_dad = card("1978-01-01", "male", "F-9")
    step = child_of("2014-01-01", father=other_dad)
    assert only(evaluate(death_ctx(DAD, MUM, step)), "breadwinner_loss") == []


def test_when_the_mother_dies_the_father_receives() -> None:
    [d] = only(evaluate(death_ctx(MUM, DAD, KIDS[0], KIDS[1])), "breadwinner_loss")
    assert (d.recipient, d.amount_kzt) == (DAD.iin, 86447)


def test_when_the_father_dies_and_no_mother_in_the_family_the_oldest_adult_receives() -> None:
    grandma = card("1955-01-01", "female")
    aunt = card("1990-01-01", "female")
    kid = child_of("2012-01-01", mother=card("1985-01-01", "female", "F-7"))
    [d] = only(evaluate(death_ctx(DAD, aunt, grandma, kid)), "breadwinner_loss")
    assert d.recipient == grandma.iin


def test_no_breadwinner_loss_without_a_living_adult() -> None:
    kid = child_of("2012-01-01", mother=None)
    assert only(evaluate(death_ctx(DAD, kid)), "breadwinner_loss") == []


def test_no_breadwinner_loss_without_dependants() -> None:
    assert only(evaluate(death_ctx(DAD, MUM)), "breadwinner_loss") == []


GRANDPA = card("1950-01-01", "male")


def ruled(person: PersonCard, decided: str, valid_until: str | None) -> PersonCard:
    data: dict[str, object] = {"group": "II", "cause": "general_illness", "loss_of_working_capacity_pct": 70}
    if valid_until:
        data["valid_until"] = valid_until
    return apply(person, event("disability_ruling", person.iin, decided, data))


PENSIONER = apply(GRANDPA, event("pension_assigned", GRANDPA.iin, "2013-01-01", {"monthly_amount_kzt": 120000}))


@pytest.mark.parametrize(("deceased", "offered"), [
    (PENSIONER, True),
    (ruled(GRANDPA, "2025-01-01", "2027-01-01"), True),
    (ruled(GRANDPA, "2025-01-01", None), True),
    (ruled(GRANDPA, "2025-01-01", DEATH), True),          # valid until the death date inclusive
    (ruled(GRANDPA, "2025-01-01", "2026-05-09"), False),  # expired the day before
    (GRANDPA, False),
])
def test_funeral_payment(deceased: PersonCard, offered: bool) -> None:
    found = only(evaluate(death_ctx(deceased, MUM, DAD, KIDS[0])), "funeral_payment")
    if not offered:
        assert found == []
        return
    [d] = found
    # 35 × 4 325 = 151 375, to the oldest other living adult: DAD (1980) before MUM (1982)
    assert (d.amount_kzt, d.recipient, d.period) == (151375, DAD.iin, "one_time")
    assert d.occasion == f"funeral:{GRANDPA.iin}"


def test_funeral_payment_2025_and_no_adult() -> None:
    [d] = only(evaluate(death_ctx(PENSIONER, MUM, on="2025-11-30")), "funeral_payment")
    assert d.amount_kzt == 137620  # 35 × 3 932 = 137 620
    assert only(evaluate(death_ctx(PENSIONER, KIDS[0])), "funeral_payment") == []


def test_a_pensioner_father_leaves_both_offers() -> None:
    dad = apply(DAD, event("pension_assigned", DAD.iin, "2025-01-01", {"monthly_amount_kzt": 90000}))
    codes = {d.code: d.recipient for d in evaluate(death_ctx(dad, MUM, KIDS[0]))}
    assert codes == {"breadwinner_loss": MUM.iin, "funeral_payment": MUM.iin}


# --- large_family_benefit -------------------------------------------------------------------

BIRTH = "2026-04-02"
MOTHER = card("1985-01-01", "female")
FATHER = card("1983-01-01", "male")


def kids_of(n: int, mother: PersonCard = MOTHER, family: str = "F-1") -> list[PersonCard]:
    return [card(f"20{10 + i % 15:02d}-03-0{1 + i // 15}", "male", family, mother_iin=mother.iin) for i in range(n)]


def birth_ctx(older: list[PersonCard], *adults: PersonCard, on: str = BIRTH,
              twin_of: PersonCard | None = None) -> tuple[Context, PersonCard]:
    """The newborn's own update; ``twin_of`` is a sibling born the same day, already in the family."""
    iin = iin_for(on, "female")
    e = event("birth", iin, on, {"mother_iin": MOTHER.iin, "family_id": "F-1", "sex": "female"})
    baby = apply(new_card(iin), e)
    before = [*older, *([twin_of] if twin_of else [])]
    fam = family_of(*adults, *before, baby)
    return Context(e, "subject", baby, fam, PARAMS, children_before=len(before)), baby


def test_large_family_3_to_4_by_birth() -> None:
    ctx, baby = birth_ctx(kids_of(3), MOTHER, FATHER)
    [d] = only(evaluate(ctx), "large_family_benefit")
    # 16.03 × 4 325 = 69 329.75 → 69 330
    assert (d.amount_kzt, d.recipient, d.period, d.end_month) == (69330, MOTHER.iin, "monthly", None)
    assert d.start_month == dates.parse_month("2026-04")
    assert d.occasion == f"large_family:F-1:{BIRTH}"
    assert baby.iin in d.reasons[0] and "F-1: 4:" in d.reasons[1] and baby.iin in d.reasons[1]


def test_no_large_family_offer_from_4_to_5() -> None:
    ctx, _ = birth_ctx(kids_of(4), MOTHER, FATHER)
    assert only(evaluate(ctx), "large_family_benefit") == []


def test_large_family_3_to_4_by_family_changed() -> None:
    mover = card("2014-08-08", "male", "F-2", mother_iin=MOTHER.iin)
    e = event("family_changed", mover.iin, "2026-06-15", {"family_id": "F-1"})
    moved = apply(mover, e)
    ctx = Context(e, "subject", moved, family_of(MOTHER, FATHER, *kids_of(3), moved), PARAMS, children_before=3)
    [d] = only(evaluate(ctx), "large_family_benefit")
    assert (d.amount_kzt, d.recipient) == (69330, MOTHER.iin)  # 16.03 × 4 325 = 69 329.75 → 69 330
    assert d.occasion == "large_family:F-1:2026-06-15" and mover.iin in d.reasons[0]


def test_no_large_family_offer_to_the_family_left() -> None:
    mover = card("2014-08-08", "male", "F-1", mother_iin=MOTHER.iin)
    e = event("family_changed", mover.iin, "2026-06-15", {"family_id": "F-2"})
    ctx = Context(e, "subject", apply(mover, e), family_of(MOTHER, *kids_of(4)), PARAMS, children_before=3)
    assert only(evaluate(ctx), "large_family_benefit") == []


@pytest.mark.parametrize(("n", "on", "amount"), [
    (4, BIRTH, 69330),          # 16.03 × 4 325 = 69 329.75 → 69 330
    (5, BIRTH, 86673),          # 20.04 × 4 325 = 86 673
    (6, BIRTH, 104016),         # 24.05 × 4 325 = 104 016.25 → 104 016
    (7, BIRTH, 121360),         # 28.06 × 4 325 = 121 359.50 → 121 360
    (8, BIRTH, 138400),         # 4 × 4 325 × 8 = 138 400
    (10, BIRTH, 173000),        # 4 × 4 325 × 10 = 173 000
    (4, "2025-09-01", 63030),   # 2025: 16.03 × 3 932 = 63 029.96 → 63 030
])
def test_large_family_amounts(n: int, on: str, amount: int) -> None:
    # the amount counts the children the family has now (children_before only says the threshold was crossed)
    iin = iin_for(on, "female")
    e = event("birth", iin, on, {"mother_iin": MOTHER.iin, "family_id": "F-1", "sex": "female"})
    baby = apply(new_card(iin), e)
    fam = family_of(MOTHER, *kids_of(n - 1), baby)
    [d] = only(evaluate(Context(e, "subject", baby, fam, PARAMS, children_before=3)), "large_family_benefit")
    assert d.amount_kzt == amount


def test_the_4th_child_is_a_twin() -> None:
    older = kids_of(2)
    first, twin1 = birth_ctx(older, MOTHER)
    assert only(evaluate(first), "large_family_benefit") == []               # 2 → 3
    second, _ = birth_ctx(older, MOTHER, twin_of=twin1)
    [d] = only(evaluate(second), "large_family_benefit")                     # 3 → 4
    assert d.amount_kzt == 69330 and d.occasion == f"large_family:F-1:{BIRTH}"


def test_twins_after_3_children_fire_once() -> None:
    older = kids_of(3)
    first, twin1 = birth_ctx(older, MOTHER)
    second, _ = birth_ctx(older, MOTHER, twin_of=twin1)
    assert len(only(evaluate(first), "large_family_benefit")) == 1           # 3 → 4
    assert only(evaluate(second), "large_family_benefit") == []              # 4 → 5


def test_large_family_goes_to_the_oldest_adult_when_most_childrens_mother_is_away() -> None:
    away = card("1984-01-01", "female", "F-5")
    ctx, _ = birth_ctx(kids_of(3, mother=away), MOTHER, FATHER)  # 3 of the 4 children are away's
    [d] = only(evaluate(ctx), "large_family_benefit")
    assert d.recipient == FATHER.iin  # born 1983, older than MOTHER (1985)


def test_large_family_needs_children_before() -> None:
    ctx, _ = birth_ctx(kids_of(3), MOTHER)
    ctx = Context(ctx.event, ctx.role, ctx.person, ctx.family, PARAMS, children_before=None)
    assert only(evaluate(ctx), "large_family_benefit") == []


# --- mother_award_benefit ---------------------------------------------------------------------

HEROINE = card("1970-01-01", "female")


def award_decisions(person: PersonCard, *awards: tuple[str, str]) -> list[Decision]:
    out: list[Decision] = []
    for award, on in awards:
        e = event("award", person.iin, on, {"award": award})
        person = apply(person, e)
        out += only(evaluate(Context(e, "subject", person, family_of(person), PARAMS)), "mother_award_benefit")
    return out


@pytest.mark.parametrize(("award", "amount"), [
    ("kumis_alka", 27680),              # 6.40 × 4 325 = 27 680
    ("altyn_alka", 32005),              # 7.40 × 4 325 = 32 005
    ("mother_heroine", 32005),
    ("materinskaya_slava_1", 32005),
    ("materinskaya_slava_2", 32005),
])
def test_award_amounts(award: str, amount: int) -> None:
    [d] = award_decisions(HEROINE, (award, "2026-03-08"))
    assert (d.amount_kzt, d.recipient, d.period, d.end_month) == (amount, HEROINE.iin, "monthly", None)
    assert d.start_month == dates.parse_month("2026-03") and d.occasion == f"award:{HEROINE.iin}"
    assert dict(d.facts)["award"] == award


def test_kumis_then_altyn_decides_the_one_occasion_again_at_the_higher_rate() -> None:
    found = award_decisions(HEROINE, ("kumis_alka", "2024-03-08"), ("altyn_alka", "2026-03-08"))
    # 2024: 6.40 × 3 692 = 23 628.80 → 23 629; 2026: 7.40 × 4 325 = 32 005. rules.md §5a: one
    # mother's-award benefit per woman; the ledger makes the second decision a change of the first.
    assert [(dict(d.facts)["award"], d.amount_kzt) for d in found] == [("kumis_alka", 23629), ("altyn_alka", 32005)]
    assert found[0].notification_id == found[1].notification_id
    assert "kumis_alka 6.40" in " ".join(found[1].reasons)


def test_altyn_then_kumis_one_offer() -> None:
    found = award_decisions(HEROINE, ("altyn_alka", "2024-03-08"), ("kumis_alka", "2026-03-08"))
    # 2024: 7.40 × 3 692 = 27 320.80 → 27 321; the later kumis_alka (6.40) is lower: nothing
    assert [(dict(d.facts)["award"], d.amount_kzt) for d in found] == [("altyn_alka", 27321)]


def test_an_equal_award_later_is_no_new_offer() -> None:
    found = award_decisions(HEROINE, ("altyn_alka", "2026-01-08"), ("mother_heroine", "2026-03-08"))
    assert len(found) == 1


def test_award_only_for_a_living_woman() -> None:
    man = card("1970-01-01", "male")
    assert award_decisions(man, ("altyn_alka", "2026-03-08")) == []
    dead = apply(HEROINE, event("death", HEROINE.iin, "2026-03-01", {}))
    assert award_decisions(dead, ("altyn_alka", "2026-03-08")) == []
