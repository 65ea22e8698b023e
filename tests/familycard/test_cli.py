"""The command line end to end: generated input, bad lines accounted for, 1 vs 2 processes."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import orjson
import pytest

from familycard.cli import main
from familycard.generator import corrupt, generate

pytestmark = pytest.mark.slow

START = dt.date(2026, 1, 1)


def _read(path: Path) -> list[bytes]:
    return [ln for ln in path.read_bytes().splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def corrupted_input(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes], set[bytes]]:
    clean = [orjson.dumps(m) for m in generate(800, START, 180, seed=5)]
    lines = list(corrupt(generate(800, START, 180, seed=5), 0.01, seed=5))
    path = tmp_path_factory.mktemp("in") / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, lines, set(clean)


def _run(path: Path, out: Path, workers: int) -> tuple[list[dict], list[dict]]:
    assert main(["run", "--input", str(path), "--output", str(out), "--workers", str(workers)]) == 0
    return ([orjson.loads(x) for x in _read(out / "notifications.jsonl")],
            [orjson.loads(x) for x in _read(out / "dead-letters.jsonl")])


def test_every_bad_line_is_dead_lettered_and_the_run_goes_on(
        corrupted_input: tuple[Path, list[bytes], set[bytes]], tmp_path: Path) -> None:
    path, lines, clean = corrupted_input
    notes, dead = _run(path, tmp_path / "out", 1)
    bad = [ln for ln in lines if ln not in clean]
    repeats = sum(n - 1 for n in Counter(ln for ln in lines if ln in clean).values())
    assert bad and repeats, "the corrupted input should hold both kinds"
    received = Counter(d["received"] for d in dead if d["error"]["code"] != "duplicate")
    for ln in bad:
        assert received[ln.decode("utf-8", errors="replace")] >= 1, ln
    codes = Counter(d["error"]["code"] for d in dead)
    assert codes["duplicate"] == repeats
    assert {"invalid_json", "schema", "bad_iin", "unknown_type"} <= set(codes)
    # every dead letter is a bad line, a repeat, or a fact about a person nobody registered
    assert sum(codes.values()) == len(bad) + repeats + codes["unknown_person"]
    assert len(notes) > 30, "the run went on past the bad lines"


def test_every_input_message_is_accounted_for(corrupted_input: tuple[Path, list[bytes], set[bytes]],
                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from familycard.summary import accounted_now

    path, lines, _ = corrupted_input
    before = accounted_now()
    _, dead = _run(path, tmp_path / "acc", 1)
    after = accounted_now()
    got = {k: after[k] - before[k] for k in after}
    codes = Counter(d["error"]["code"] for d in dead)
    assert got["processed"] + got["deduplicated"] + got["dead_lettered"] == len(lines)
    assert got["deduplicated"] == codes["duplicate"]
    assert got["dead_lettered"] == sum(n for c, n in codes.items() if c not in ("duplicate", "rule_error"))
    assert "(adds up)" in capsys.readouterr().out


def test_one_and_two_worker_processes_give_the_same_outputs(
        corrupted_input: tuple[Path, list[bytes], set[bytes]], tmp_path: Path) -> None:
    path, _, _ = corrupted_input
    one = _run(path, tmp_path / "one", 1)
    two = _run(path, tmp_path / "two", 2)
    for a, b in zip(one, two):
        assert sorted(orjson.dumps(x, option=orjson.OPT_SORT_KEYS) for x in a) == \
            sorted(orjson.dumps(x, option=orjson.OPT_SORT_KEYS) for x in b)
    codes = {n["code"] for n in one[0]}
    assert {"birth_benefit", "disability_benefit", "employment_measures"} <= codes


def test_generate_command_writes_valid_lines(tmp_path: Path) -> None:
    out = tmp_path / "g.jsonl"
    assert main(["generate", "--families", "50", "--days", "10", "--seed", "3", "--output", str(out)]) == 0
    lines = _read(out)
    assert lines and all(orjson.loads(x)["event_id"] for x in lines)
    assert lines == [orjson.dumps(m) for m in generate(50, START, 10, seed=3)]
