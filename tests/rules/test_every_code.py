"""End to end: a generated year through ``familycard run --input`` fires every code of the policy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from familycard.cli import main
from familycard.generator import generate, write_jsonl
from schemas.validation import validate_output

pytestmark = pytest.mark.slow

OFFERS = {"working_capacity_loss", "job_loss", "breadwinner_loss", "birth_benefit", "childcare_benefit",
          "disabled_child_carer", "disability_benefit", "large_family_benefit", "mother_award_benefit",
          "targeted_social_assistance", "funeral_payment"}
NOTICES = {"pension_eligibility", "kandas_status_expiry", "employment_measures"}


def test_a_generated_year_fires_every_code(tmp_path: Path) -> None:
    src = tmp_path / "year.jsonl"
    with open(src, "wb") as fh:
        write_jsonl(generate(2500, dt.date(2026, 1, 1), 365, seed=11), fh)
    out = tmp_path / "out"
    assert main(["run", "--input", str(src), "--output", str(out), "--simulate-citizens"]) == 0
    notes = [orjson.loads(x) for x in (out / "notifications.jsonl").read_bytes().splitlines()]
    by_kind = {(n["code"], n["kind"]) for n in notes}
    assert {c for c, k in by_kind if k == "offer"} == OFFERS
    assert {c for c, k in by_kind if k == "notice"} == NOTICES
    assert {k for _, k in by_kind} == {"offer", "notice", "reminder", "withdrawal", "change"}  # every kind of v2
    assert all(validate_output("notification", n) is None for n in notes)
    for n in notes:  # "why did this person get this?" — every record says
        assert n["reasons"] and n["rule"].startswith(n["code"] + "/")
    assignments = [orjson.loads(x) for x in (out / "assignments.jsonl").read_bytes().splitlines()]
    assert assignments and all(validate_output("assignment", a) is None for a in assignments)
