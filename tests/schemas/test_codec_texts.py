"""The SMS text of a notification record: a kandas notice names the status's expiry date."""

from __future__ import annotations

import pytest

from rules import Context, evaluate, load_params
from rules.decisions import Decision
from schemas.codec import notification_record
from schemas.validation import validate_output
from state.events import KANDAS_NOTICE_DUE
from state.family import FamilyCard
from state.person import PersonCard, new_card
from tests.factories import apply, event, iin_for, registered

PARAMS = load_params()


def kandas_person(valid_until: str) -> PersonCard:
    iin = iin_for("1980-02-03", "female")
    person = apply(new_card(iin), registered(iin, "1980-02-03", "female", "F-1", phone="+77011234567"))
    return apply(person, event("kandas_status", iin, "2025-08-15", {"valid_until": valid_until}))


def kandas_notice(person: PersonCard, on: str) -> Decision:
    e = event(KANDAS_NOTICE_DUE, person.iin, on)
    [d] = evaluate(Context(e, "subject", person, FamilyCard("F-1", {person.iin: person}), PARAMS))
    assert d.code == "kandas_status_expiry"
    return d


@pytest.mark.parametrize(("valid_until", "on", "shown"), [
    ("2026-08-15", "2026-07-16", "15.08.2026"),
    ("2027-01-05", "2026-12-20", "05.01.2027"),
])
def test_kandas_notice_record_names_the_expiry_date(valid_until: str, on: str, shown: str) -> None:
    person = kandas_person(valid_until)
    rec = notification_record(kandas_notice(person, on), person.phone, person.language, "F-1")
    assert shown in rec["text"]["ru"] and shown in rec["text"]["kk"]
    assert "скоро" not in rec["text"]["ru"] and "жақында" not in rec["text"]["kk"]
    assert f"Срок статуса кандаса истекает {shown}." in rec["text"]["ru"]
    assert f"Қандас мәртебеңіз {shown} дейін жарамды." in rec["text"]["kk"]
    assert validate_output("notification", rec) is None


def test_other_codes_are_rendered_as_before() -> None:
    iin = iin_for("1990-01-01", "male")
    person = apply(new_card(iin), registered(iin, "1990-01-01", "male", "F-1"))
    e = event("dismissal", iin, "2026-06-10", {"employer_bin": "123456789012", "reason": "staff_reduction"})
    after = apply(person, e)
    [d] = evaluate(Context(e, "subject", after, FamilyCard("F-1", {iin: after}), PARAMS))
    rec = notification_record(d, after.phone, after.language, "F-1")
    assert "Карьерный центр" in rec["text"]["ru"] and "кандас" not in rec["text"]["ru"].lower()
