"""``familycard whatif`` end to end on a generated population: exact, one pass, and right about
what a reform changes (issue 15)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from familycard.cli import main
from familycard.generator import generate, write_jsonl
from rules import load_params
from state import dates

OUTPUTS = ("notifications.jsonl", "assignments.jsonl", "outcomes.jsonl")
MCI_CODES = {"birth_benefit", "childcare_benefit", "large_family_benefit", "mother_award_benefit", "funeral_payment"}
UNTOUCHED_BY_MCI = {"disability_benefit", "disabled_child_carer", "breadwinner_loss", "job_loss", "working_capacity_loss"}


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("whatif") / "events.jsonl"
    with open(path, "wb") as fh:
        write_jsonl(generate(400, dates.to_date(dates.day("2026-01-01")), 120, 3), fh)
    return path


def _reform(tmp: Path, name: str, body: dict[str, Any]) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(body))
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


def _canon(path: Path) -> list[bytes]:
    return sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in _lines(path))


def _whatif(events: Path, out: Path, *reforms: Path) -> None:
    argv = ["whatif", "--input", str(events), "--output", str(out), "--shards", "16"]
    for r in reforms:
        argv += ["--reform", str(r)]
    assert main(argv) == 0


@pytest.fixture(scope="module")
def mci(events: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("mci")
    reform = _reform(tmp, "mci", {"label": "МРП 5 000 from 2026", "dated": {"mci": {"values": {"2026-01-01": 5000}}}})
    _whatif(events, tmp / "out", reform)
    return tmp / "out"


def test_the_base_side_is_exactly_familycard_run(events: Path, mci: Path, tmp_path: Path) -> None:
    assert main(["run", "--input", str(events), "--output", str(tmp_path / "run"), "--shards", "16",
                 "--simulate-citizens"]) == 0
    for name in OUTPUTS:
        assert _canon(mci / "runs" / "base" / name) == _canon(tmp_path / "run" / name), name


def test_the_reform_side_is_exactly_a_run_with_the_overlaid_parameters(events: Path, mci: Path, tmp_path: Path) -> None:
    from familycard.whatif import Side, run_sides
    from rules.reform import load_reform

    reform = load_reform(mci.parent / "mci.json")
    alone = Side("alone", reform.params(), tmp_path / "alone", reform)
    run_sides(events, [alone], simulate=True)
    for name in OUTPUTS:
        assert _canon(mci / "runs" / "mci" / name) == _canon(tmp_path / "alone" / name), name


def test_an_mci_reform_scales_exactly_the_mci_amounts_and_nothing_else(mci: Path) -> None:
    base = load_params().mci(dates.day("2026-06-01"))
    ratio = Decimal(5000) / base
    diff = _lines(mci / "diff.jsonl")
    assert diff, "an МРП reform changes something"
    changed = {d["code"] for d in diff}
    assert changed & MCI_CODES and not changed & UNTOUCHED_BY_MCI, changed
    for d in diff:
        assert d["base_amount_kzt"] is not None and d["reform_amount_kzt"] is not None, d  # no offer appears or goes
        if d["code"] in MCI_CODES:
            assert abs(Decimal(d["reform_amount_kzt"]) - Decimal(d["base_amount_kzt"]) * ratio) <= 1, d
    summary = json.loads((mci / "summary.json").read_text())
    for code in UNTOUCHED_BY_MCI & set(summary["codes"]):
        assert summary["codes"][code]["delta"] == {"offers": 0, "offered_kzt": 0, "families": 0}, code


def test_a_poverty_line_reform_adds_exactly_the_families_between_the_two_lines(events: Path, tmp_path: Path) -> None:
    reform = _reform(tmp_path, "line", {"label": "poverty line at 75 % of ПМ",
                                        "scalars": {"poverty_line_share": {"value": "0.75"}}})
    _whatif(events, tmp_path / "out", reform)
    pm = load_params().subsistence_minimum(dates.day("2026-01-01"))
    old, new = Decimal("0.70") * pm, Decimal("0.75") * pm
    diff = _lines(tmp_path / "out" / "diff.jsonl")
    assert {d["code"] for d in diff} == {"targeted_social_assistance"}
    added = [d for d in diff if d["base_amount_kzt"] is None]
    assert added, "a higher line adds families"
    assert not [d for d in diff if d["reform_amount_kzt"] is None], "a higher line removes nobody"
    for d in added:
        per_capita = next(Decimal(m.group(1)) for r in d["reasons"]
                          if (m := re.search(r"per-capita ([0-9.]+) KZT", r)))
        assert old <= per_capita < new, d
    base = {n["notification_id"]: n for n in _lines(tmp_path / "out" / "runs" / "base" / "notifications.jsonl")
            if n["kind"] == "offer" and n["code"] == "targeted_social_assistance"}
    reform_offers = {n["notification_id"]: n for n in _lines(tmp_path / "out" / "runs" / "line" / "notifications.jsonl")
                     if n["kind"] == "offer" and n["code"] == "targeted_social_assistance"}
    assert set(base) <= set(reform_offers)
    for nid, n in base.items():  # members × (line − per-capita): each member gains the lines' difference
        members = int(next(m.group(1) for r in n["reasons"] if (m := re.search(r"for (\d+) living members", r))))
        gain = members * (new - old)
        assert abs(Decimal(reform_offers[nid]["amount_kzt"] - n["amount_kzt"]) - gain) <= 1, n


def test_an_empty_reform_gives_an_empty_diff(events: Path, tmp_path: Path) -> None:
    _whatif(events, tmp_path / "out", _reform(tmp_path, "nothing", {"label": "nothing"}))
    assert (tmp_path / "out" / "diff.jsonl").read_bytes() == b""
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert all(c["delta"] == {"offers": 0, "offered_kzt": 0, "families": 0} for c in summary["codes"].values())
    assert summary["families"]["gain"] == summary["families"]["lose"] == 0


def test_several_reforms_are_each_compared_with_the_baseline_in_one_pass(events: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    a = _reform(tmp_path, "a", {"label": "A", "coefficients": {"birth_benefit": {"values": {"1": "40"}}}})
    b = _reform(tmp_path, "b", {"label": "B", "scalars": {"poverty_line_share": {"value": "0.72"}}})
    _whatif(events, tmp_path / "out", a, b)
    for name in ("a", "b"):
        assert (tmp_path / "out" / name / "summary.json").exists()
        assert (tmp_path / "out" / name / "report.html").exists()
    assert "1 pass(es)" in capsys.readouterr().out


@pytest.mark.parametrize("body, path", [
    ({"dated": {"mcii": {"values": {"2026-01-01": 5000}}}}, "dated.mcii"),
    ({"scalars": {"consent_days": {"value": "three"}}}, "scalars.consent_days"),
    ({"dated": {"mci": {"values": {"2026-13-01": 5000}}}}, "dated.mci.values.2026-13-01"),
    ({"colours": {}}, "colours"),
])
def test_a_bad_reform_is_refused_naming_the_path_and_nothing_runs(events: Path, tmp_path: Path, body: dict[str, Any],
                                                                  path: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["whatif", "--input", str(events), "--output", str(out), "--reform", str(_reform(tmp_path, "bad", body))])
    assert code == 2
    assert path in capsys.readouterr().err
    assert not out.exists()
