"""The disabled child's carer benefit (rules.md §3 ``disabled_child_carer``), amounts computed by hand.

1.61 × ПМ of the ruling date: 2026 1.61 × 50 851 = 81 870.11 → 81 870; 2025 1.61 × 46 228 =
74 427.08 → 74 427. Monthly from the ruling's month until the month of ``valid_until`` or the
month before the child's 18th birthday month, whichever is first.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from rules import Context, evaluate, load_params
from rules.decisions import Decision, notification_id
from state import dates
from state.family import FamilyCard
from state.person import PersonCard, new_card
from tests.factories import apply, event, iin_for, registered

PARAMS = load_params()


def card(birth: str, sex: str, family: str = "F-1", **data: str) -> PersonCard:
    iin = iin_for(birth, sex)
    return apply(new_card(iin), registered(iin, birth, sex, family, **data))


def family_of(*cards: PersonCard, fid: str = "F-1") -> FamilyCard:
    return FamilyCard(fid, {c.iin: c for c in cards})


MUM = card("1985-04-02", "female", phone="+77011234567")
DAD = card("1983-07-15", "male")
GRANDMA = card("1955-01-20", "female")


def kid(birth: str, **data: str) -> PersonCard:
    return card(birth, "male", mother_iin=MUM.iin, father_iin=DAD.iin, **data)


def ruling(child: PersonCard, on: str, *, group: str = "child", cause: str = "other", valid_until: str | None = None,
           others: tuple[PersonCard, ...] = (MUM, DAD), recorded: str | None = None) -> Context:
    data: dict[str, object] = {"group": group, "cause": cause, "loss_of_working_capacity_pct": 0}
    if valid_until:
        data["valid_until"] = valid_until
    e = event("disability_ruling", child.iin, on, data, recorded=recorded)
    after = apply(child, e)
    return Context(e, "subject", after, family_of(*others, after), PARAMS)


def carer(ctx: Context) -> list[Decision]:
    return [d for d in evaluate(ctx) if d.code == "disabled_child_carer"]


def month(d: Decision, which: str) -> str | None:
    m = getattr(d, which)
    return None if m is None else dates.month_iso(m)


@pytest.mark.parametrize(("birth", "on", "valid_until", "amount", "end"), [
    # 2026 ПМ: 1.61 × 50 851 = 81 870.11; turns 18 on 2036-06-01, so the last month is 2036-05
    ("2018-06-01", "2026-04-01", None, 81870, "2036-05"),
    # 2025 ПМ: 1.61 × 46 228 = 74 427.08
    ("2018-06-01", "2025-06-10", None, 74427, "2036-05"),
    # the last day of 2025 still takes the 2025 ПМ
    ("2018-06-01", "2025-12-31", None, 74427, "2036-05"),
    # a 17-year-old: turns 18 on 2026-09-15, paid to 2026-08
    ("2008-09-15", "2026-04-01", None, 81870, "2026-08"),
    # valid_until before the 18th birthday: the ruling's month ends it
    ("2018-06-01", "2026-04-01", "2027-05-31", 81870, "2027-05"),
    ("2018-06-01", "2026-04-01", "2027-05-01", 81870, "2027-05"),
    # valid_until after the 18th birthday: the month before the birthday month ends it
    ("2008-09-15", "2026-04-01", "2027-12-31", 81870, "2026-08"),
    # valid_until in the month of the 18th birthday: still the month before it
    ("2008-09-15", "2026-04-01", "2026-09-30", 81870, "2026-08"),
    # valid_until in the month before the birthday month: both give the same month
    ("2008-09-15", "2026-04-01", "2026-08-31", 81870, "2026-08"),
    # born on 29 February: turns 18 on 2026-03-01 (non-leap year), paid in 2026-02 only
    ("2008-02-29", "2026-02-10", None, 81870, "2026-02"),
])
def test_amount_and_period(birth: str, on: str, valid_until: str | None, amount: int, end: str) -> None:
    child = kid(birth)
    [d] = carer(ruling(child, on, valid_until=valid_until))
    assert d.amount_kzt == amount and d.period == "monthly" and d.kind == "offer"
    assert d.recipient == MUM.iin
    assert month(d, "start_month") == on[:7] and month(d, "end_month") == end
    assert d.reply_by == dates.day(on) + 3


def test_occasion_names_the_child_and_the_ruling_date() -> None:
    child = kid("2018-06-01")
    [d] = carer(ruling(child, "2026-04-01", recorded="2026-04-03"))
    assert d.occasion == f"carer:{child.iin}:2026-04-01"
    assert d.grounds == (child.iin,)  # the ledger re-checks the right whenever the child's state changes
    assert d.notification_id == notification_id(MUM.iin, "disabled_child_carer", d.occasion)
    assert d.rule == "disabled_child_carer/2026-01-01"
    assert d.issued_on == dates.day("2026-04-03") and d.reply_by == dates.day("2026-04-06")


def test_reasons_name_the_child_the_ruling_and_the_parameter() -> None:
    child = kid("2018-06-01")
    [d] = carer(ruling(child, "2026-04-01", valid_until="2027-05-31"))
    text = "\n".join(d.reasons)
    assert child.iin in d.reasons[0] and "2026-04-01" in d.reasons[0] and "group child" in d.reasons[0]
    assert "valid until 2027-05-31" in d.reasons[0]
    assert "disabled_child_carer 1.61 x subsistence minimum 50851 KZT" in text
    assert "2026-04..2027-05" in text and MUM.iin in text


def test_offered_besides_the_childs_own_disability_benefit() -> None:
    child = kid("2018-06-01")
    decisions = {d.code: d for d in evaluate(ruling(child, "2026-04-01"))}
    assert set(decisions) == {"disability_benefit", "disabled_child_carer"}
    assert decisions["disability_benefit"].occasion != decisions["disabled_child_carer"].occasion
    assert {d.recipient for d in decisions.values()} == {MUM.iin}


@pytest.mark.parametrize(("group", "cause"), [
    ("II", "other"),
    ("I", "since_childhood"),
    ("III", "since_childhood"),
])
def test_a_minor_with_an_adult_group_gets_no_carer_offer(group: str, cause: str) -> None:
    child = kid("2015-03-01")
    decisions = evaluate(ruling(child, "2026-04-01", group=group, cause=cause))
    assert [d.code for d in decisions] == ["disability_benefit"]  # the child's own benefit only


def test_group_ii_minor_amount_is_the_adult_rate_not_the_carer_rate() -> None:
    child = kid("2015-03-01")
    [d] = evaluate(ruling(child, "2026-04-01", group="II", cause="other"))
    assert d.code == "disability_benefit" and d.amount_kzt == 89498  # 1.76 × 50 851 = 89 497.76


@pytest.mark.parametrize(("birth", "on"), [
    ("2008-04-01", "2026-04-01"),   # turns 18 on the ruling date: no longer a child
    ("2005-01-01", "2026-04-01"),   # an adult with a "child" ruling
])
def test_not_for_18_or_older(birth: str, on: str) -> None:
    assert carer(ruling(kid(birth), on)) == []


def test_turning_18_later_in_the_ruling_month_pays_that_month() -> None:
    # under 18 on 2026-04-01, turns 18 on 2026-04-20: the month before the birthday month
    # would end the period before it starts, so the ruling's month alone is paid
    [d] = carer(ruling(kid("2008-04-20"), "2026-04-01"))
    assert month(d, "start_month") == month(d, "end_month") == "2026-04"


def test_no_guardian_no_offer() -> None:
    alone = card("2016-05-05", "female")  # no parents named, no adult in the family
    sibling = card("2012-01-01", "male")
    assert evaluate(ruling(alone, "2026-04-01", others=(sibling,))) == []


def test_mother_not_in_the_family_goes_to_the_father() -> None:
    away = replace(MUM, family_id="F-9")
    child = kid("2018-06-01")
    [d] = carer(ruling(child, "2026-04-01", others=(DAD, GRANDMA)))  # mother is not a member
    assert d.recipient == DAD.iin
    [d] = carer(ruling(child, "2026-04-01", others=(away, DAD, GRANDMA)))  # listed, but of another family
    assert d.recipient == DAD.iin


def test_dead_mother_goes_to_the_father_and_no_parent_to_the_oldest_adult() -> None:
    dead = replace(MUM, died_on=dates.day("2026-01-10"))
    child = kid("2018-06-01")
    [d] = carer(ruling(child, "2026-04-01", others=(dead, DAD, GRANDMA)))
    assert d.recipient == DAD.iin
    aunt = card("1995-01-01", "female")
    [d] = carer(ruling(child, "2026-04-01", others=(aunt, GRANDMA)))
    assert d.recipient == GRANDMA.iin


def test_an_older_ruling_arriving_late_offers_nothing() -> None:
    child = kid("2018-06-01")
    newer = apply(child, event("disability_ruling", child.iin, "2026-05-01",
                               {"group": "child", "cause": "other", "loss_of_working_capacity_pct": 0}))
    older = event("disability_ruling", child.iin, "2026-03-01",
                  {"group": "child", "cause": "other", "loss_of_working_capacity_pct": 0})
    ctx = Context(older, "subject", apply(newer, older), family_of(MUM, DAD, newer), PARAMS)
    assert evaluate(ctx) == []  # neither the carer offer nor the child's own benefit


def test_a_ruling_expired_before_it_was_decided_offers_nothing() -> None:
    assert carer(ruling(kid("2018-06-01"), "2026-04-01", valid_until="2026-03-31")) == []


def test_a_dead_child_gets_nothing() -> None:
    child = replace(kid("2018-06-01"), died_on=dates.day("2026-04-01"))
    assert carer(ruling(child, "2026-04-01")) == []
