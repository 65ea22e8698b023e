"""Rights that follow the state (rules.md §5a): one scenario per observation of issue 12.

Each test is a small history fed through the flow's own stages (``tests.inprocess.Pipeline``),
with ticks, SMS replies and late or out-of-order records, and asserts the notifications and
assignments a ministry would expect. The numbered comments name the observation.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.history import contributions, days, ev, lines, person, reg, reply
from tests.inprocess import Pipeline

MUM, DAD = person("1990-04-02", "female"), person("1985-01-01", "male")
WORKER = person("1985-03-10", "male")
OTHER = person("1987-05-05", "female")  # the head of another family
KID = person("2015-06-01", "male")
BABY = person("2026-02-10", "male")
THREE = [(person(b, s), b, s) for b, s in (("2014-05-01", "male"), ("2017-09-12", "female"), ("2020-02-29", "male"))]
OLD = person("1963-01-15", "male")
OLD_LATE = person("1963-03-05", "male")
TODDLER = person("2022-06-01", "female")
BIN, BIN2 = "123456789012", "123456789013"


def run(*steps: list[dict[str, Any]] | str) -> Pipeline:
    """Feed ``steps`` in order; a string step "consent@DATE" consents to every open offer then."""
    p = Pipeline()
    for step in steps:
        if isinstance(step, str):
            verb, at = step.split("@")
            answered = {a["notification_id"] for a in p.assignments}
            for n in list(p.notifications):
                if n["kind"] == "offer" and n["notification_id"] not in answered:
                    p.feed_lines(lines([reply(n, {"consent": "1", "refuse": "2"}[verb], at)]))
        else:
            p.feed_lines(lines(step))
    return p.finish()


def notes(p: Pipeline, code: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    return [n for n in p.notifications if (code is None or n["code"] == code) and (kind is None or n["kind"] == kind)]


def assigned(p: Pipeline, code: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    return [a for a in p.assignments if (code is None or a["code"] == code) and (kind is None or a["kind"] == kind)]


def dismissal(iin: str, on: str, **kw: Any) -> dict[str, Any]:
    return ev("dismissal", iin, on, {"employer_bin": BIN, "reason": "staff_reduction"}, **kw)


def job(iin: str, on: str, **kw: Any) -> dict[str, Any]:
    return ev("employment_started", iin, on, {"employer_bin": BIN2, "monthly_wage_kzt": 300_000}, **kw)


def ruling(iin: str, on: str, group: str = "II", until: str | None = None, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"group": group, "cause": "other", "loss_of_working_capacity_pct": 0}
    if until:
        data["valid_until"] = until
    return ev("disability_ruling", iin, on, data, **kw)


def job_loss_granted() -> list[list[dict[str, Any]] | str]:
    """A worker with 38 months of contributions, dismissed on 5 March and registered on the 6th,
    who consents to the job-loss offer on the 7th."""
    return [[reg(WORKER, "1985-03-10", "male", "F-1"), reg(OTHER, "1987-05-05", "female", "F-2"),
             *contributions(WORKER, "2023-01", "2026-02"), *days("2026-03-01", "2026-03-05"),
             dismissal(WORKER, "2026-03-05"), ev("unemployed_registered", WORKER, "2026-03-06"),
             *days("2026-03-06", "2026-03-06")], "consent@2026-03-07"]


# -- 1. a running benefit is withdrawn wherever its recipient now lives ------------------------

def test_1_a_job_after_job_loss_closes_it_after_a_move() -> None:
    p = run(*job_loss_granted(), [*days("2026-03-07", "2026-03-08"),
                                  ev("family_changed", WORKER, "2026-03-09", {"family_id": "F-2"}),
                                  *days("2026-03-09", "2026-03-31"), job(WORKER, "2026-04-01"),
                                  *days("2026-04-01", "2026-04-02")])
    start, = assigned(p, "job_loss", "start")
    close, = assigned(p, "job_loss", "close")
    assert (start["start_month"], start["end_month"]) == ("2026-03", "2026-06")
    assert close["end_month"] == "2026-04" and close["notification_id"] == start["notification_id"]
    withdrawal, = notes(p, "job_loss", "withdrawal")
    assert withdrawal["issued_on"] == "2026-04-01"
    assert [o["outcome"] for o in p.outcomes if o["code"] == "job_loss"] == ["offered", "consented", "closed"]


def test_1_death_after_a_move_closes_and_no_reminder_goes_to_the_dead() -> None:
    p = run([reg(WORKER, "1985-03-10", "male", "F-1"), reg(OTHER, "1987-05-05", "female", "F-2"),
             *days("2026-03-01", "2026-03-02"), ruling(WORKER, "2026-03-02")],
            [ev("family_changed", WORKER, "2026-03-03", {"family_id": "F-2"}), *days("2026-03-03", "2026-03-03"),
             ev("death", WORKER, "2026-03-04"), *days("2026-03-04", "2026-03-10")])
    offer, = notes(p, "disability_benefit", "offer")
    assert notes(p, "disability_benefit", "reminder") == []  # due on the 4th, the day of death
    withdrawal, = notes(p, "disability_benefit", "withdrawal")
    assert withdrawal["issued_on"] == "2026-03-04" and withdrawal["iin"] == WORKER
    assert assigned(p) == []


def test_1_revocation_after_a_move_closes_the_running_benefit() -> None:
    p = run([reg(WORKER, "1985-03-10", "male", "F-1"), reg(OTHER, "1987-05-05", "female", "F-2"),
             *days("2026-03-01", "2026-03-02"), ruling(WORKER, "2026-03-02")], "consent@2026-03-03",
            [ev("family_changed", WORKER, "2026-03-05", {"family_id": "F-2"}), *days("2026-03-03", "2026-05-10"),
             ev("disability_revoked", WORKER, "2026-05-11"), *days("2026-05-11", "2026-05-11")])
    close, = assigned(p, "disability_benefit", "close")
    assert close["end_month"] == "2026-05"


# -- 2. breadwinner loss ends with its last dependant --------------------------------------------

def _breadwinner(*after: dict[str, Any]) -> Pipeline:
    return run([reg(MUM, "1990-04-02", "female", "F-1"), reg(DAD, "1985-01-01", "male", "F-1"),
                reg(KID, "2015-06-01", "male", "F-1", mother_iin=MUM, father_iin=DAD),
                reg(OTHER, "1987-05-05", "female", "F-2"),
                *days("2026-03-01", "2026-03-02"), ev("death", DAD, "2026-03-02")], "consent@2026-03-03",
               [*days("2026-03-03", "2026-06-09"), *after, *days("2026-06-10", "2026-06-11")])


def test_2_breadwinner_loss_closes_when_the_only_dependant_dies() -> None:
    p = _breadwinner(ev("death", KID, "2026-06-10"))
    start, = assigned(p, "breadwinner_loss", "start")
    assert start["iin"] == MUM
    close, = assigned(p, "breadwinner_loss", "close")
    assert close["end_month"] == "2026-06"


def test_2_breadwinner_loss_closes_when_the_dependant_leaves_the_recipient() -> None:
    p = _breadwinner(ev("family_changed", KID, "2026-06-10", {"family_id": "F-2"}))
    close, = assigned(p, "breadwinner_loss", "close")
    assert close["end_month"] == "2026-06"


def test_2_breadwinner_loss_keeps_running_when_mother_and_child_move_together() -> None:
    p = _breadwinner(ev("family_changed", MUM, "2026-06-10", {"family_id": "F-3"}),
                     ev("family_changed", KID, "2026-06-10", {"family_id": "F-3"}))
    assert assigned(p, "breadwinner_loss", "close") == []
    assert notes(p, "breadwinner_loss", "withdrawal") == []


# -- 3. the 18th birthday changes a large family's benefit ---------------------------------------

KIDS = [(person(b, s), b, s) for b, s in (("2010-05-01", "male"), ("2012-09-12", "female"),
                                          ("2015-02-28", "male"), ("2008-03-05", "female"))]


def _large_family(extra_child: bool) -> Pipeline:
    """Three children at home, a fourth (turning 18 on 5 March) joins on 2 February."""
    load = [reg(MUM, "1990-04-02", "female", "F-1"), reg(DAD, "1985-01-01", "male", "F-1"),
            *(reg(k, b, s, "F-1" if i < 3 else "F-9", mother_iin=MUM, father_iin=DAD)
              for i, (k, b, s) in enumerate(KIDS))]
    birth = [ev("birth", BABY, "2026-02-10", {"mother_iin": MUM, "father_iin": DAD, "family_id": "F-1",
                                               "sex": "male"})] if extra_child else []
    return run([*load, *days("2026-02-01", "2026-02-01"),
                ev("family_changed", KIDS[3][0], "2026-02-02", {"family_id": "F-1"}),
                *days("2026-02-02", "2026-02-02")], "consent@2026-02-03",
               [*days("2026-02-03", "2026-02-09"), *birth, *days("2026-02-10", "2026-03-10")])


def test_3_an_18th_birthday_below_four_children_closes_the_large_family_benefit() -> None:
    p = _large_family(extra_child=False)
    start, = assigned(p, "large_family_benefit", "start")
    assert start["amount_kzt"] == 69330  # 16.03 x 4 325
    close, = assigned(p, "large_family_benefit", "close")
    assert close["end_month"] == "2026-03"
    assert notes(p, "large_family_benefit", "withdrawal")[0]["issued_on"] == "2026-03-05"


def test_3_and_12_the_amount_follows_the_number_of_children() -> None:
    p = _large_family(extra_child=True)
    changes = assigned(p, "large_family_benefit", "change")
    # 5 children from the birth (20.04 x 4 325), back to 4 from the 18th birthday
    assert [(c["amount_kzt"], c["start_month"]) for c in changes] == [(86673, "2026-03"), (69330, "2026-04")]
    assert [n["amount_kzt"] for n in notes(p, "large_family_benefit", "change")] == [86673, 69330]
    assert assigned(p, "large_family_benefit", "close") == []


# -- 4. a consent in reply to the reminder -------------------------------------------------------

def test_4_a_consent_to_the_reminder_assigns_the_offer() -> None:
    p = Pipeline()
    p.feed_lines(lines([reg(WORKER, "1985-03-10", "male", "F-1"), *days("2026-03-01", "2026-03-02"),
                        ruling(WORKER, "2026-03-02"), *days("2026-03-03", "2026-03-05")]))
    offer, = notes(p, "disability_benefit", "offer")
    reminder, = notes(p, "disability_benefit", "reminder")
    assert reminder["notification_id"] != offer["notification_id"]
    p.feed_lines(lines([reply(reminder, "1", "2026-03-05T18:00:00+05:00"), *days("2026-03-06", "2026-03-08")]))
    p.finish()
    start, = assigned(p, "disability_benefit", "start")
    assert start["notification_id"] == offer["notification_id"]
    assert [o["outcome"] for o in p.outcomes] == ["offered", "reminded", "consented"]
    assert p.dead == []


# -- 5. within a day, order does not matter ------------------------------------------------------

def _same_day(order: list[int]) -> Pipeline:
    day_msgs = [
        reg(MUM, "1990-04-02", "female", "F-1", on="2026-02-10"),
        ev("birth", BABY, "2026-02-10", {"mother_iin": MUM, "father_iin": DAD, "family_id": "F-1", "sex": "male"}),
        reg(BABY, "2026-02-10", "male", "F-1", on="2026-02-10", mother_iin=MUM, father_iin=DAD),
    ]
    load = [reg(DAD, "1985-01-01", "male", "F-1"),
            *(reg(k, b, s, "F-1", mother_iin=MUM, father_iin=DAD) for k, b, s in THREE)]
    return run([*load, *days("2026-02-01", "2026-02-09"), *(day_msgs[i] for i in order),
                *days("2026-02-10", "2026-02-12")])


def _summary(p: Pipeline) -> set[tuple[Any, ...]]:
    return {(n["kind"], n["code"], n["iin"], n["amount_kzt"], n["notification_id"]) for n in p.notifications}


@pytest.mark.parametrize("order", [[0, 1, 2], [0, 2, 1], [2, 0, 1]])
def test_5_same_day_registrations_and_birth_in_any_order(order: list[int]) -> None:
    # the mother registered first, the newborn's registration before or after its birth
    p = _same_day(order)
    assert _summary(p) == _summary(_same_day([0, 1, 2]))
    assert {(n["code"], n["iin"]) for n in notes(p, kind="offer")} == {
        ("birth_benefit", MUM), ("childcare_benefit", MUM), ("large_family_benefit", MUM)}
    assert p.dead == []


@pytest.mark.parametrize("order", [[1, 0, 2], [2, 1, 0], [1, 2, 0]])
def test_5_a_birth_before_its_mothers_same_day_registration_still_offers_her_the_birth_benefits(
        order: list[int]) -> None:
    p = _same_day(order)
    offers = {(n["code"], n["iin"]) for n in notes(p, kind="offer")}
    assert {("birth_benefit", MUM), ("childcare_benefit", MUM)} <= offers
    assert p.dead == []


@pytest.mark.parametrize("order", [[1, 0, 2], [2, 1, 0], [1, 2, 0]])
def test_5_the_large_family_recipient_does_not_depend_on_the_mothers_arrival_order(order: list[int]) -> None:
    p = _same_day(order)
    assert ("large_family_benefit", MUM) in {(n["code"], n["iin"]) for n in notes(p, kind="offer")}
    assert _summary(p) == _summary(_same_day([0, 1, 2]))


# -- 6. dates already past when they become known ------------------------------------------------

def test_6_a_kandas_notice_due_before_the_first_tick_fires_at_it() -> None:
    p = run([reg(WORKER, "1985-03-10", "male", "F-1"),
             ev("kandas_status", WORKER, "2026-01-10", {"valid_until": "2026-02-20"}),
             *days("2026-02-01", "2026-02-02")])
    notice, = notes(p, "kandas_status_expiry")
    assert notice["issued_on"] == "2026-02-01"  # due 2026-01-21, fired at the first tick


def test_6_a_man_turning_63_before_the_first_tick_gets_his_pension_notice() -> None:
    p = run([reg(OLD, "1963-01-15", "male", "F-1"), *days("2026-02-01", "2026-02-02")])
    notice, = notes(p, "pension_eligibility")
    assert notice["iin"] == OLD and notice["issued_on"] == "2026-02-01"


def test_6_a_registration_recorded_late_within_the_limit_catches_up_the_retirement_date() -> None:
    p = run([*days("2026-03-01", "2026-03-15"),
             reg(OLD_LATE, "1963-03-05", "male", "F-1", on="2026-03-01") | {"recorded_at": "2026-03-12T10:00:00+05:00"},
             *days("2026-03-16", "2026-03-16")])
    notice, = notes(p, "pension_eligibility")
    assert notice["iin"] == OLD_LATE and notice["issued_on"] == "2026-03-16"


# -- 7. targeted assistance on the quarter's first day -------------------------------------------

def _assistance(registered: str, deregistered: str) -> Pipeline:
    return run([reg(MUM, "1990-04-02", "female", "F-1"),
                reg(TODDLER, "2022-06-01", "female", "F-1", mother_iin=MUM),
                *days("2026-03-28", registered), ev("unemployed_registered", MUM, registered),
                *days(registered, deregistered)[1:], ev("unemployed_deregistered", MUM, deregistered),
                *days(deregistered, "2026-04-20")])


def test_7_assistance_is_judged_on_the_state_of_the_quarters_first_day() -> None:
    # unemployed on 1 April, deregistered on the 5th: the state of 1 April qualifies her. The
    # assessment runs on the settle day (the 16th: ``tsa_settle_days``, so the last quarter's
    # contributions recorded in the first half of the month are in), on the state of the 1st.
    offer, = notes(_assistance("2026-03-30", "2026-04-05"), "targeted_social_assistance", "offer")
    assert offer["iin"] == MUM and offer["issued_on"] == "2026-04-16"
    assert "for 2026-Q2" in offer["reasons"][-1]
    # registered only on 2 April: on the 1st she was neither working nor registered
    assert notes(_assistance("2026-04-02", "2026-04-10"), "targeted_social_assistance") == []


# -- 8. an older fact never removes a newer right ------------------------------------------------

def test_8_an_old_jobs_start_dated_before_the_dismissal_withdraws_nothing() -> None:
    steps = job_loss_granted()
    p = run(*steps, [job(WORKER, "2025-06-01", recorded="2026-03-08"), *days("2026-03-07", "2026-03-10")])
    assert assigned(p, "job_loss", "start") and assigned(p, "job_loss", "close") == []
    assert notes(p, "job_loss", "withdrawal") == []


def test_8_a_revocation_dated_before_the_ruling_withdraws_nothing() -> None:
    p = run([reg(WORKER, "1985-03-10", "male", "F-1"), *days("2026-03-01", "2026-03-02"),
             ruling(WORKER, "2026-03-02"), ev("disability_revoked", WORKER, "2026-02-15", recorded="2026-03-02"),
             *days("2026-03-03", "2026-03-03")], "consent@2026-03-03", days("2026-03-04", "2026-03-05"))
    assert notes(p, "disability_benefit", "withdrawal") == []
    assert assigned(p, "disability_benefit", "start") and assigned(p, "disability_benefit", "close") == []


# -- 9. a ruling already expired is no offer -----------------------------------------------------

def test_9_a_ruling_expired_when_decided_gives_no_offer() -> None:
    p = run([reg(WORKER, "1985-03-10", "male", "F-1"), *days("2026-03-01", "2026-03-02"),
             ruling(WORKER, "2026-02-01", until="2026-02-28", recorded="2026-03-02"),
             *days("2026-03-03", "2026-03-05")])
    assert notes(p, "disability_benefit") == [] and assigned(p) == []


def test_9_no_assignment_ends_before_it_starts() -> None:
    p = run([reg(WORKER, "1985-03-10", "male", "F-1"), *days("2026-03-01", "2026-03-02"),
             ruling(WORKER, "2026-03-02", until="2026-03-20")], "consent@2026-03-03",
            days("2026-03-04", "2026-03-25"))
    start, = assigned(p, "disability_benefit", "start")
    assert start["start_month"] == "2026-03" and start["end_month"] == "2026-03"
    assert all(a.get("end_month") is None or a["end_month"] >= a["start_month"] for a in p.assignments)


# -- 10. a re-sent dismissal after a move ---------------------------------------------------------

def test_10_a_resent_dismissal_after_a_move_is_no_second_notice() -> None:
    p = run([reg(WORKER, "1985-03-10", "male", "F-1"), reg(OTHER, "1987-05-05", "female", "F-2"),
             *days("2026-03-01", "2026-03-05"), dismissal(WORKER, "2026-03-05", eid="emp-1"),
             ev("family_changed", WORKER, "2026-03-06", {"family_id": "F-2"}), *days("2026-03-06", "2026-03-06"),
             dismissal(WORKER, "2026-03-05", eid="emp-1-resent"), *days("2026-03-07", "2026-03-07")])
    assert len(notes(p, "employment_measures")) == 1


# -- 11. a withdrawal is dated by its cause's record --------------------------------------------

def test_11_a_withdrawal_is_issued_on_the_day_its_cause_was_recorded() -> None:
    p = run([reg(WORKER, "1985-03-10", "male", "F-1"), *days("2026-03-01", "2026-03-02"),
             ruling(WORKER, "2026-03-02"), *days("2026-03-03", "2026-03-03"),
             # revoked on the 3rd, recorded on the 4th at 23:30 UTC: the 5th in Kazakhstan
             ev("disability_revoked", WORKER, "2026-03-03", recorded="2026-03-04T23:30:00+00:00"),
             *days("2026-03-04", "2026-03-06")])
    withdrawal, = notes(p, "disability_benefit", "withdrawal")
    assert (withdrawal["occurred_on"], withdrawal["issued_on"]) == ("2026-03-03", "2026-03-05")


# -- 12. the open questions of v1 -----------------------------------------------------------------

def test_12_a_reexamination_changes_the_one_running_disability_benefit() -> None:
    p = run([reg(WORKER, "1985-03-10", "male", "F-1"), *days("2026-03-01", "2026-03-02"),
             ruling(WORKER, "2026-03-02", group="III")], "consent@2026-03-03",
            [*days("2026-03-03", "2026-05-04"), ruling(WORKER, "2026-05-05", group="I"),
             *days("2026-05-05", "2026-05-06")])
    assert len(notes(p, "disability_benefit", "offer")) == 1
    start, = assigned(p, "disability_benefit", "start")
    change, = assigned(p, "disability_benefit", "change")
    assert start["amount_kzt"] == 61021  # III, other cause: 1.20 x 50 851
    assert (change["amount_kzt"], change["start_month"]) == (111872, "2026-06")  # I: 2.20 x 50 851
    assert change["notification_id"] == start["notification_id"]


def test_12_a_higher_award_changes_the_one_mothers_award_benefit() -> None:
    p = run([reg(MUM, "1990-04-02", "female", "F-1"), *days("2026-03-01", "2026-03-02"),
             ev("award", MUM, "2026-03-02", {"award": "kumis_alka"})], "consent@2026-03-03",
            [*days("2026-03-03", "2026-04-10"), ev("award", MUM, "2026-04-10", {"award": "altyn_alka"}),
             *days("2026-04-11", "2026-04-11")])
    assert len(notes(p, "mother_award_benefit", "offer")) == 1
    start, = assigned(p, "mother_award_benefit", "start")
    change, = assigned(p, "mother_award_benefit", "change")
    assert (start["amount_kzt"], change["amount_kzt"], change["start_month"]) == (27680, 32005, "2026-05")


def test_12_a_death_recorded_late_closes_the_benefit_late() -> None:
    p = run([reg(WORKER, "1985-03-10", "male", "F-1"), *days("2026-03-01", "2026-03-02"),
             ruling(WORKER, "2026-03-02")], "consent@2026-03-03",
            [*days("2026-03-03", "2026-06-10"), ev("death", WORKER, "2026-04-20", recorded="2026-06-10"),
             *days("2026-06-11", "2026-06-11")])
    close, = assigned(p, "disability_benefit", "close")
    assert close["end_month"] == "2026-04" and close["late"] is True


def test_12_a_mother_moving_with_her_newborn_keeps_both_child_benefits() -> None:
    p = run([reg(MUM, "1990-04-02", "female", "F-1"), reg(DAD, "1985-01-01", "male", "F-1"),
             *days("2026-02-01", "2026-02-09"),
             ev("birth", BABY, "2026-02-10", {"mother_iin": MUM, "father_iin": DAD, "family_id": "F-1",
                                              "sex": "male"}), *days("2026-02-10", "2026-02-10")],
            "consent@2026-02-11",
            [*days("2026-02-11", "2026-03-01"), ev("family_changed", MUM, "2026-03-02", {"family_id": "F-5"}),
             ev("family_changed", BABY, "2026-03-02", {"family_id": "F-5"}), *days("2026-03-02", "2026-03-05")])
    assert {a["code"] for a in assigned(p, kind="start")} == {"birth_benefit", "childcare_benefit"}
    assert assigned(p, kind="close") == [] and notes(p, kind="withdrawal") == []


def test_a_separation_waiting_for_its_days_end_takes_effect_when_the_input_ends() -> None:
    p2 = Pipeline()
    # the same history, cut right after the dependant moves out: no tick closes that day
    steps: list[dict[str, Any]] = [reg(MUM, "1990-04-02", "female", "F-1"), reg(DAD, "1985-01-01", "male", "F-1"),
                                   reg(KID, "2015-06-01", "male", "F-1", mother_iin=MUM, father_iin=DAD),
                                   *days("2026-03-01", "2026-03-02"), ev("death", DAD, "2026-03-02"),
                                   *days("2026-03-03", "2026-03-04")]
    p2.feed_lines(lines(steps))
    offer, = notes(p2, "breadwinner_loss", "offer")
    p2.feed_lines(lines([ev("family_changed", KID, "2026-03-05", {"family_id": "F-2"})]))
    assert notes(p2, "breadwinner_loss", "withdrawal") == []  # waits: the mother may follow today
    p2.finish()
    withdrawal, = notes(p2, "breadwinner_loss", "withdrawal")
    assert withdrawal["issued_on"] == "2026-03-05" and offer["notification_id"] in withdrawal["reasons"][-1]
