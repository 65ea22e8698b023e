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
    dead_file = out / "dead-letters.jsonl"  # a sink writes no file when nothing reached it
    dead = [orjson.loads(x) for x in dead_file.read_bytes().splitlines()] if dead_file.exists() else []
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


def test_the_real_sources_catch_up_dates_missed_before_the_first_tick(tmp_path: Path) -> None:
    """rules.md §5a "Dates are never missed", through ``familycard run --input`` (the file source
    stamps the first tick and the open day, ``flows.tick_clock``), not only the in-process pipeline:
    a kandas notice due before the first tick and a 63rd birthday before it fire at it; a
    registration read after the retirement date's tick fires at the next tick."""
    from tests.history import days, ev, lines, person, reg

    worker, old, late = person("1985-03-10", "male"), person("1963-01-15", "male"), person("1963-03-05", "male")
    history = [reg(worker, "1985-03-10", "male", "F-1"), reg(old, "1963-01-15", "male", "F-2"),
               ev("kandas_status", worker, "2026-01-10", {"valid_until": "2026-02-20"}),
               *days("2026-02-01", "2026-03-15"),
               reg(late, "1963-03-05", "male", "F-3", on="2026-03-01") | {"recorded_at": "2026-03-12T10:00:00+05:00"},
               *days("2026-03-16", "2026-03-16")]
    notes, _ = run_file(tmp_path, lines(history))
    got = {(n["code"], n["iin"], n["issued_on"]) for n in notes if n["kind"] == "notice"}
    assert got == {("kandas_status_expiry", worker, "2026-02-01"), ("pension_eligibility", old, "2026-02-01"),
                   ("pension_eligibility", late, "2026-03-16")}
