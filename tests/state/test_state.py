"""The person card and person stage: every event type, duplicates, late and out-of-order facts."""

from __future__ import annotations

from state import dates
from state.events import DAY_END
from state.family import FamilyCard, MemberUpdate, apply_update
from state.iin import is_valid, make_iin
from state.person import new_card
from state.person_slot import PersonSettings, PersonSlot, Rejection
from tests.factories import apply, event, iin_for, registered

MUM = iin_for("1990-04-02", "female")
SETTINGS = PersonSettings(30, 18)
DAD = iin_for("1988-07-15", "male")
KID = iin_for("2026-03-01", "male")


def test_iin_examples_from_the_contract() -> None:
    assert is_valid("260301600127") and is_valid("870512400129")
    assert not is_valid("260301600128")  # wrong check digit
    assert not is_valid("260230600127")  # 30 February
    assert not is_valid("26030160012")   # 11 digits
    import datetime as dt
    assert make_iin(dt.date(1987, 5, 12), "female", 12) == "870512400129"


def test_registration_sets_the_card() -> None:
    card = apply(new_card(MUM), registered(MUM, "1990-04-02", "female", "F-1", phone="+77011234567", language="ru"))
    assert card.registered and card.family_id == "F-1" and card.sex == "female"
    assert card.phone == "+77011234567" and card.language == "ru"
    assert card.birth == dates.day("1990-04-02")


def test_family_changed_moves_and_ignores_an_older_move() -> None:
    card = apply(new_card(MUM), registered(MUM, "1990-04-02", "female", "F-1"))
    card = apply(card, event("family_changed", MUM, "2026-05-01", {"family_id": "F-2"}))
    assert card.family_id == "F-2"
    card = apply(card, event("family_changed", MUM, "2026-04-01", {"family_id": "F-3"}))
    assert card.family_id == "F-2"  # the older move arrived late


def test_contributions_are_by_month_whatever_the_order() -> None:
    card = apply(new_card(MUM), registered(MUM, "1990-04-02", "female", "F-1"))
    for month in ("2026-03", "2026-01", "2026-02", "2026-01"):
        card = apply(card, event("contribution", MUM, f"{month}-28",
                                 {"month": month, "income_kzt": 300000, "social_contribution_kzt": 15000}))
    assert [dates.month_iso(m) for m in sorted(card.contributions)] == ["2026-01", "2026-02", "2026-03"]
    assert card.participation_months(dates.parse_month("2026-02")) == 2


def test_rulings_newest_wins_and_revocation() -> None:
    card = apply(new_card(MUM), registered(MUM, "1990-04-02", "female", "F-1"))
    ruling = {"group": "II", "cause": "general_illness", "loss_of_working_capacity_pct": 60}
    card = apply(card, event("disability_ruling", MUM, "2026-05-01", ruling))
    card = apply(card, event("disability_ruling", MUM, "2026-03-01", {**ruling, "group": "III"}))
    assert card.ruling is not None and card.ruling.group == "II"
    older = apply(card, event("disability_revoked", MUM, "2026-04-01"))  # dated before the ruling: older news
    assert older.ruling == card.ruling
    card = apply(card, event("disability_revoked", MUM, "2026-06-01"))
    # kept, marked revoked: "was it in force on D?" stays answerable (targeted assistance, rules.md §5a)
    assert card.ruling is not None and card.ruling.revoked_on == dates.day("2026-06-01")
    assert card.ruling.in_force(dates.day("2026-05-31")) and not card.ruling.in_force(dates.day("2026-06-01"))


def test_a_re_examination_continues_the_episode_a_ruling_after_a_gap_starts_one() -> None:
    card = apply(new_card(MUM), registered(MUM, "1990-04-02", "female", "F-1"))
    ruling = {"group": "II", "cause": "general_illness", "loss_of_working_capacity_pct": 60,
              "valid_until": "2026-12-31"}
    card = apply(card, event("disability_ruling", MUM, "2026-05-01", ruling))
    card = apply(card, event("disability_ruling", MUM, "2026-11-20", {**ruling, "group": "I"}))
    assert card.ruling is not None and card.ruling.episode == dates.day("2026-05-01")
    card = apply(card, event("disability_revoked", MUM, "2027-02-01"))
    card = apply(card, event("disability_ruling", MUM, "2027-06-01", ruling))
    assert card.ruling is not None and card.ruling.episode == dates.day("2027-06-01")


def test_every_type_is_applied() -> None:
    card = apply(new_card(MUM), registered(MUM, "1990-04-02", "female", "F-1"))
    steps = [
        ("employment_started", "2026-01-10", {"employer_bin": "123456789012", "monthly_wage_kzt": 400000}),
        ("dismissal", "2026-02-10", {"employer_bin": "123456789012", "reason": "staff_reduction"}),
        ("unemployed_registered", "2026-02-12", {}),
        ("award", "2026-02-13", {"award": "kumis_alka"}),
        ("kandas_status", "2026-02-14", {"valid_until": "2026-12-31"}),
        ("pension_assigned", "2026-02-15", {"monthly_amount_kzt": 120000}),
        ("contact_changed", "2026-02-16", {"phone": "+77019998877"}),
        ("death", "2026-03-01", {}),
    ]
    for type_, on, data in steps:
        card = apply(card, event(type_, MUM, on, data))
    assert card.employed_since == dates.day("2026-01-10")
    assert card.dismissed_on == dates.day("2026-02-10") and card.dismissal_reason == "staff_reduction"
    assert card.is_unemployed(dates.day("2026-02-20"))
    assert card.awards == ("kumis_alka",) and card.kandas_until == dates.day("2026-12-31")
    assert card.pension_kzt == 120000 and card.phone == "+77019998877"
    assert not card.alive


def test_person_slot_rejects_duplicates() -> None:
    slot = PersonSlot.empty(MUM)
    e = registered(MUM, "1990-04-02", "female", "F-1")
    assert len(slot.on_event(e, "subject", SETTINGS)) == 1
    out = slot.on_event(e, "subject", SETTINGS)
    assert len(out) == 1 and isinstance(out[0], Rejection) and out[0].code == "duplicate"


def test_facts_before_registration_are_held_then_released() -> None:
    slot = PersonSlot.empty(MUM)
    dismissal = event("dismissal", MUM, "2026-02-10", {"employer_bin": "123456789012", "reason": "other"})
    assert slot.on_event(dismissal, "subject", SETTINGS) == []
    out = slot.on_event(registered(MUM, "1990-04-02", "female", "F-1", on="2026-02-11"), "subject", SETTINGS)
    assert [u.event.type for u in out] == ["dismissal", "person_registered"]  # type: ignore[union-attr]
    assert out[0].fire and not out[1].fire  # type: ignore[union-attr]


def test_unregistered_facts_become_unknown_person_at_end() -> None:
    slot = PersonSlot.empty(MUM)
    slot.on_event(event("death", MUM, "2026-02-10"), "subject", SETTINGS)
    [r] = slot.held_rejections()
    assert r.code == "unknown_person"


def test_late_records_update_state_but_do_not_fire() -> None:
    slot = PersonSlot.empty(MUM)
    slot.on_event(registered(MUM, "1990-04-02", "female", "F-1"), "subject", SETTINGS)
    late = event("dismissal", MUM, "2026-01-01", {"employer_bin": "1" * 12, "reason": "other"}, recorded="2026-02-15")
    [u] = slot.on_event(late, "subject", SETTINGS)
    assert not u.fire and slot.card.dismissed_on == dates.day("2026-01-01")  # type: ignore[union-attr]
    on_time = event("dismissal", MUM, "2026-01-20", {"employer_bin": "1" * 12, "reason": "other"}, recorded="2026-02-19")
    assert slot.on_event(on_time, "subject", SETTINGS) == []  # on time: decided at the day's end
    [u] = slot.on_event(event(DAY_END, MUM, "2026-02-19"), "subject", SETTINGS)
    assert u.fire and u.event is on_time  # 30 days exactly is on time  # type: ignore[union-attr]


def test_a_dismissal_is_decided_at_the_days_end_on_the_days_whole_card() -> None:
    slot = PersonSlot.empty(MUM)
    slot.on_event(registered(MUM, "1990-04-02", "female", "F-1"), "subject", SETTINGS)
    dismissal = event("dismissal", MUM, "2026-03-05", {"employer_bin": "1" * 12, "reason": "other"})
    job = event("employment_started", MUM, "2026-03-05", {"employer_bin": "2" * 12, "monthly_wage_kzt": 300000})
    assert slot.on_event(dismissal, "subject", SETTINGS) == []
    assert slot.on_event(job, "subject", SETTINGS)  # the new job goes to the family at once
    assert slot.on_event(event(DAY_END, MUM, "2026-03-04"), "subject", SETTINGS) == []  # not its day yet
    [u] = slot.on_event(event(DAY_END, MUM, "2026-03-05"), "subject", SETTINGS)
    assert u.event is dismissal and u.fire  # type: ignore[union-attr]
    assert u.card.employed_since == dates.day("2026-03-05")  # type: ignore[union-attr]


def test_family_change_sends_leave_and_join() -> None:
    slot = PersonSlot.empty(MUM)
    slot.on_event(registered(MUM, "1990-04-02", "female", "F-1"), "subject", SETTINGS)
    out = slot.on_event(event("family_changed", MUM, "2026-05-01", {"family_id": "F-2"}), "subject", SETTINGS)
    assert [(u.family_id, u.card.family_id) for u in out] == [("F-1", "F-2"), ("F-2", "F-2")]  # type: ignore[union-attr]


def test_birth_counts_children_on_the_mothers_card() -> None:
    mum = PersonSlot.empty(MUM)
    mum.on_event(registered(MUM, "1990-04-02", "female", "F-1"), "subject", SETTINGS)
    older = iin_for("2020-01-01", "female")
    mum.on_event(registered(older, "2020-01-01", "female", "F-1", mother_iin=MUM), "mother", SETTINGS)
    birth = event("birth", KID, "2026-03-01", {"mother_iin": MUM, "family_id": "F-1", "sex": "male"})
    [u] = mum.on_event(birth, "mother", SETTINGS)
    assert u.role == "mother" and u.fire and u.card.children == (older, KID)  # type: ignore[union-attr]
    assert mum.on_event(birth, "mother", SETTINGS) == []  # re-delivered: the child's own slot reports it


def test_family_replica_members_follow_updates() -> None:
    fam = FamilyCard("F-1")
    card = apply(new_card(MUM), registered(MUM, "1990-04-02", "female", "F-1"))
    apply_update(fam, MemberUpdate("F-1", MUM, card))
    assert MUM in fam.members
    moved = apply(card, event("family_changed", MUM, "2026-05-01", {"family_id": "F-2"}))
    apply_update(fam, MemberUpdate("F-1", MUM, None))
    apply_update(FamilyCard("F-2"), MemberUpdate("F-2", MUM, moved))
    assert MUM not in fam.members
