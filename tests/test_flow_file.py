"""End to end over a file: ``familycard run --input`` through every stage to the output files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from familycard.cli import main
from schemas.validation import validate_output
from tests import scenario


def run_file(tmp_path: Path, lines: list[bytes], *extra: str) -> tuple[list[dict], list[dict]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    src = tmp_path / "events.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"
    assert main(["run", "--input", str(src), "--output", str(out), *extra]) == 0
    notes = [orjson.loads(x) for x in (out / "notifications.jsonl").read_bytes().splitlines()]
    dead = [orjson.loads(x) for x in (out / "dead-letters.jsonl").read_bytes().splitlines()]
    return notes, dead


def test_scenario_offers_and_dead_letters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes, dead = run_file(tmp_path, scenario.lines())
    assert {(n["code"], n["kind"], n["iin"], n["amount_kzt"]) for n in notes} == scenario.EXPECTED
    assert Counter(d["error"]["code"] for d in dead) == scenario.EXPECTED_DEAD
    for n in notes:
        assert validate_output("notification", n) is None, n
        assert n["sender"] == "1414" and n["text"]["kk"] and n["text"]["ru"]
    for d in dead:
        assert validate_output("dead_letter", d) is None, d
    birth = next(n for n in notes if n["code"] == "birth_benefit")
    assert (birth["issued_on"], birth["reply_by"], birth["phone"]) == ("2026-03-02", "2026-03-05", "+77011234567")
    assert birth["family_id"] == "F-0000001" and birth["rule"] == "birth_benefit/2026-01-01"
    summary = capsys.readouterr().out
    assert "birth_benefit" in summary and "duplicate" in summary


def test_every_bad_line_is_dead_lettered_with_its_text(tmp_path: Path) -> None:
    _, dead = run_file(tmp_path, scenario.lines())
    received = {d["received"] for d in dead}
    for raw in scenario.BAD_LINES.values():
        assert raw.decode() in received
    invalid = next(d for d in dead if d["error"]["code"] == "schema")
    assert invalid["error"]["path"] == "data.group"


def test_replaying_the_same_file_gives_the_same_ids(tmp_path: Path) -> None:
    a, _ = run_file(tmp_path / "a", scenario.lines())
    b, _ = run_file(tmp_path / "b", scenario.lines())
    assert sorted(n["notification_id"] for n in a) == sorted(n["notification_id"] for n in b)
    assert len({n["notification_id"] for n in a}) == len(a)


def test_events_replayed_twice_in_one_stream_offer_once(tmp_path: Path) -> None:
    # The same birth re-sent under a new event_id (a registry re-delivery) is the same occasion.
    lines = scenario.lines()
    birth = next(x for x in lines if b'"civ-1"' in x)
    again = birth.replace(b'"civ-1"', b'"civ-1-resent"')
    notes, _ = run_file(tmp_path, lines + [again])
    assert Counter(n["code"] for n in notes)["birth_benefit"] == 1
