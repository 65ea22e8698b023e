"""``familycard load`` (the population load as a batch job) builds the state the stream would.

The strongest check compares state: the seed's slots against the snapshots Bytewax stores
after the stream has read the same load (person cards, seen ids, family member order,
calendar). The outputs check runs a year from the seed and from the whole file.
"""

from __future__ import annotations

import datetime as dt
import pickle
import random
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.common import load_split
from familycard.cli import main
from familycard.generator import generate
from flows.bulk_load import LoadRefused, bulk_load
from state.family import FamilyCard, MemberUpdate, apply_update
from state.family_build import FamilyAssembler, VisitLog, order_of
from state.iin import make_iin
from state.person import PersonCard
from store.seed import SeedError, SeedReader

START = dt.date(2026, 1, 1)
SHARDS = 16
OUTPUTS = ("notifications.jsonl", "assignments.jsonl", "dead-letters.jsonl", "outcomes.jsonl")


def _split(families: int, days: int, seed: int = 5) -> tuple[list[bytes], list[bytes]]:
    messages = list(generate(families, START, days, seed))
    at = load_split(messages, START)
    return [orjson.dumps(m) for m in messages[:at]], [orjson.dumps(m) for m in messages[at:]]


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bulk")
    load, year = _split(150, 120)
    paths = {"load": root / "load.jsonl", "year": root / "year.jsonl", "all": root / "all.jsonl", "root": root}
    paths["load"].write_bytes(b"\n".join(load) + b"\n")
    paths["year"].write_bytes(b"\n".join(year) + b"\n")
    paths["all"].write_bytes(b"\n".join(load + year) + b"\n")
    return paths


def _seed(population: dict[str, Path], name: str, workers: int) -> Path:
    seed = population["root"] / name
    if not (seed / "seed.json").exists():
        bulk_load([population["load"]], seed, workers=workers, shards=SHARDS,
                  dead_letters=population["root"] / f"{name}-dead.jsonl")
    return seed


def _seed_state(seed: Path, stage: str) -> dict[str, Any]:
    reader = SeedReader(seed)
    out: dict[str, Any] = {}
    for shard in range(SHARDS):
        out.update({k: pickle.loads(b) for k, b in reader.shard(stage, shard).items()})
    return out


def _stream_state(recovery: Path, step: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for db in sorted(recovery.glob("*.sqlite3")):
        con = sqlite3.connect(db)
        try:
            rows = con.execute(
                "SELECT ser_change FROM snaps WHERE step_id = ? AND ser_change IS NOT NULL AND "
                "(state_key, snap_epoch) IN (SELECT state_key, max(snap_epoch) FROM snaps WHERE step_id = ? "
                "GROUP BY state_key)", (step, step)).fetchall()
        finally:
            con.close()
        for (blob,) in rows:
            change = pickle.loads(blob)
            if change is not None:
                out.update({k: pickle.loads(b) for k, b in change[1].items()})
    return out


def _family_view(f: FamilyCard) -> tuple[Any, ...]:
    return f.family_id, list(f.members.items()), f.former  # member order matters to the rules


@pytest.mark.parametrize("workers", [1, 2])
def test_seed_is_the_state_the_stream_builds(population: dict[str, Path], tmp_path: Path, workers: int) -> None:
    recovery = tmp_path / "rec"
    assert main(["run", "--input", str(population["load"]), "--output", str(tmp_path / "out"),
                 "--shards", str(SHARDS), "--recovery", str(recovery)]) == 0
    seed = _seed(population, f"seed{workers}", workers)
    people = _seed_state(seed, "person")
    assert len(people) > 400
    assert people == _stream_state(recovery, "familycard.person_shards")
    families = _seed_state(seed, "family")
    stream_families = _stream_state(recovery, "familycard.family_shards")
    assert families.keys() == stream_families.keys() and len(families) >= 150
    assert {k: _family_view(v) for k, v in families.items()} == {k: _family_view(v) for k, v in stream_families.items()}
    calendar = {k: (pickle.dumps(v)) for k, v in _seed_state(seed, "calendar").items()}
    assert calendar == {k: pickle.dumps(v) for k, v in _stream_state(recovery, "familycard.calendar_shards").items()}
    manifest = SeedReader(seed).manifest
    assert manifest["people"] == len(people) and manifest["families"] == len(families)
    assert manifest["last_recorded"] == "2025-12-31" and manifest["shards"] == SHARDS


def _outputs(out: Path) -> dict[str, list[bytes]]:
    return {name: sorted((out / name).read_bytes().splitlines()) if (out / name).exists() else [] for name in OUTPUTS}


@pytest.mark.parametrize("state", ["live", "packed"])
def test_a_year_from_the_seed_gives_the_streams_outputs(population: dict[str, Path], tmp_path: Path,
                                                          state: str) -> None:
    whole, seeded = tmp_path / "whole", tmp_path / "seeded"
    assert main(["run", "--input", str(population["all"]), "--output", str(whole), "--shards", str(SHARDS),
                 "--state", state]) == 0
    assert main(["run", "--input", str(population["year"]), "--output", str(seeded), "--shards", str(SHARDS),
                 "--state", state, "--initial-state", str(_seed(population, "seed2", 2))]) == 0
    a, b = _outputs(whole), _outputs(seeded)
    assert len(a["notifications.jsonl"]) > 20
    assert a == b


def test_seed_with_two_processes_and_recovery(population: dict[str, Path], tmp_path: Path) -> None:
    whole, seeded = tmp_path / "whole", tmp_path / "seeded"
    assert main(["run", "--input", str(population["all"]), "--output", str(whole), "--shards", str(SHARDS)]) == 0
    assert main(["run", "--input", str(population["year"]), "--output", str(seeded), "--shards", str(SHARDS),
                 "--workers", "2", "--recovery", str(tmp_path / "rec"),
                 "--initial-state", str(_seed(population, "seed1", 1))]) == 0
    a, b = _outputs(whole), _outputs(seeded)
    assert a["notifications.jsonl"] and a["outcomes.jsonl"] == b["outcomes.jsonl"]
    # 2 processes may differ from 1 only in the reasons of same-day events (contract §1)
    ids = lambda lines: sorted(orjson.loads(x)["notification_id"] for x in lines)  # noqa: E731
    assert ids(a["notifications.jsonl"]) == ids(b["notifications.jsonl"])


def test_bad_load_lines_are_dead_lettered_as_the_stream_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load, _ = _split(30, 1)
    regs = [x for x in load if b'"person_registered"' in x]
    bad = [
        b"{not json",
        b'{"event_id":"cut","type":"death","iin":"850101390010"',  # cut short: its IIN is read raw, not parsed
        orjson.dumps({**orjson.loads(regs[0]), "event_id": "pop-bad-iin", "iin": "123456789012"}),
        regs[1],  # a redelivery: duplicate
        orjson.dumps({"event_id": "late-unknown", "type": "pension_assigned", "iin": NOBODY,
                      "occurred_on": "2025-06-01", "recorded_at": "2025-12-31T09:00:00+05:00",
                      "data": {"monthly_amount_kzt": 100000}}),
    ]
    lines = load[:40] + bad + load[40:]
    src = tmp_path / "load.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["run", "--input", str(src), "--output", str(tmp_path / "out"), "--shards", str(SHARDS)]) == 0
    stream_dead = sorted((tmp_path / "out" / "dead-letters.jsonl").read_bytes().splitlines())
    report = bulk_load([src], tmp_path / "seed", workers=2, shards=SHARDS, dead_letters=tmp_path / "dead.jsonl")
    assert sorted((tmp_path / "dead.jsonl").read_bytes().splitlines()) == stream_dead
    codes = {orjson.loads(x)["error"]["code"] for x in stream_dead}
    assert {"invalid_json", "bad_iin", "duplicate", "unknown_person"} <= codes
    assert sum(report.dead_letters.values()) == len(stream_dead)
    assert SeedReader(tmp_path / "seed").manifest["dead_letters"] == report.dead_letters
    # the command line names the counts by code and where the records went
    assert main(["load", "--input", str(src), "--seed-dir", str(tmp_path / "seed2"), "--shards", str(SHARDS)]) == 0
    said = capsys.readouterr().out
    assert "duplicate 1" in said and "unknown_person 1" in said and str(tmp_path / "seed2" / "dead-letters.jsonl") in said


NOBODY = make_iin(dt.date(1985, 1, 1), "male", 9001)


def _on_time_birth(load: list[bytes]) -> bytes:
    mother = next(orjson.loads(x) for x in load if b'"female"' in x and b'"1990' in x)
    return orjson.dumps({"event_id": "civ-new", "type": "birth", "iin": make_iin(dt.date(2026, 2, 1), "female", 1),
                         "occurred_on": "2026-02-01", "recorded_at": "2026-02-02T10:00:00+05:00",
                         "data": {"mother_iin": mother["iin"], "family_id": mother["data"]["family_id"],
                                  "sex": "female"}})


def test_a_message_that_would_fire_stops_the_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load, _ = _split(30, 1)
    src = tmp_path / "load.jsonl"
    src.write_bytes(b"\n".join([*load, _on_time_birth(load)]) + b"\n")
    with pytest.raises(LoadRefused, match=rf"load.jsonl:{len(load) + 1}: birth 'civ-new' would fire rules"):
        bulk_load([src], tmp_path / "seed", shards=SHARDS)
    assert main(["load", "--input", str(src), "--seed", str(tmp_path / "seed2"), "--shards", str(SHARDS)]) == 2
    assert "would fire rules" in capsys.readouterr().err
    assert not (tmp_path / "seed2" / "seed.json").exists()  # no manifest: never a usable half seed


def test_ticks_and_replies_belong_to_the_stream(tmp_path: Path) -> None:
    load, _ = _split(10, 1)
    src = tmp_path / "load.jsonl"
    src.write_bytes(b"\n".join([*load, b'{"event_id":"day-2026-01-01","type":"day","occurred_on":"2026-01-01"}']))
    with pytest.raises(LoadRefused, match="'day' message is no part of a population load"):
        bulk_load([src], tmp_path / "seed", workers=2, shards=SHARDS)


def test_cli_load_then_run(population: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed = tmp_path / "seed"
    assert main(["load", "--input", str(population["load"]), "--seed-dir", str(seed), "--shards", str(SHARDS),
                 "--workers", "2"]) == 0
    said = capsys.readouterr().out
    assert "families" in said and "last recorded 2025-12-31" in said
    assert main(["load", "--input", str(population["load"]), "--seed", str(seed), "--shards", str(SHARDS)]) == 2
    assert "not empty" in capsys.readouterr().err
    # a seed is tied to its shard count, like a recovery directory
    assert main(["run", "--input", str(population["year"]), "--output", str(tmp_path / "out"),
                 "--initial-state", str(seed)]) == 2
    assert f"built with {SHARDS} shards" in capsys.readouterr().err
    with pytest.raises(SeedError, match="not a finished seed"):
        SeedReader(tmp_path)


# --- state.family_build against the family stage's own fold ---------------------------------

def _card(iin: str, family: str | None, registered: bool, alive: bool) -> PersonCard:
    return PersonCard(iin=iin, registered=registered, family_id=family, birth=700_000 + int(iin),
                      died_on=None if alive else 739_000)


def _stage_fold(updates: list[MemberUpdate]) -> dict[str, FamilyCard]:
    """What flows.stages.FamilyLogic.on_update does when nothing fires."""
    families: dict[str, FamilyCard] = {}
    for u in updates:
        family = families.setdefault(u.family_id, FamilyCard(u.family_id))
        apply_update(family, u)
        if u.card is not None and not u.card.alive:
            family.members.pop(u.card.iin, None)
    return families


@pytest.mark.parametrize("seed", range(40))
def test_family_build_folds_like_the_family_stage(seed: int) -> None:
    r = random.Random(seed)
    fams, iins = ["F1", "F2", "F3"], [f"{i:012d}" for i in range(1, 7)]
    updates: list[MemberUpdate] = []
    for _ in range(r.randint(1, 40)):
        iin = r.choice(iins)
        card = None if r.random() < 0.1 else _card(iin, r.choice([*fams, None]), r.random() < 0.85, r.random() < 0.9)
        updates.append(MemberUpdate(r.choice(fams), iin, card, None, r.choice(["subject", "subject", "mother", "father"])))
    # the bulk load: people visited in runs of their consecutive updates, records replayed in order
    assembler = FamilyAssembler()
    visit: VisitLog | None = None
    for position, u in enumerate(updates):
        if visit is None or visit.iin != u.iin or r.random() < 0.3:
            for record in visit.records() if visit else []:
                assembler.add(record)
            visit = VisitLog(u.iin)
        visit.add(u, order_of(position, u.role))
    for record in visit.records() if visit else []:
        assembler.add(record)
    built = assembler.families()
    expected = _stage_fold(updates)
    assert {k: list(v.members.items()) for k, v in built.items()} == \
        {k: list(v.members.items()) for k, v in expected.items()}


def test_quick_subject_is_the_parsed_subject_or_undecided() -> None:
    """Workers skip other workers' lines unparsed: the raw read must never name another subject."""
    from familycard.generator import corrupt
    from flows.bulk_load import _quick_subject

    lines = list(corrupt(generate(40, START, 30, 3), 0.2, 3))
    lines += [b'{"iin" : "850101300011"}', b'{"\\u0069in":"850101300011","data":{"iin":"260201600014"}}',
              b'{"iin":"8501\\u00301300011"}', b'{"iin":"850101300011","data":{"mother_iin":"1"}}',
              b'{"iin":"850101300011","data":{"iin":"260201600014"}}', b'{"iin":"850101300011"',
              b'{"iin":"85010130\\"0011"}', b'{"iin":12}', b'\xff{"iin":"\xff"}']
    decided = 0
    for line in lines:
        quick = _quick_subject(line)
        if quick is None:
            continue
        decided += 1
        try:
            parsed = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # one worker (the quick owner) dead-letters it
        assert type(parsed) is dict and parsed.get("iin") == quick, line
    assert decided > len(lines) // 2


@pytest.mark.kafka
def test_live_mode_starts_from_the_seed(population: dict[str, Path], tmp_path: Path, kafka_bootstrap: str,
                                        unique_topic_prefix: str) -> None:
    from flows.kafka.admin import ensure_topics, produce_all, read_topic
    from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS, topic_of

    p = unique_topic_prefix
    ensure_topics(kafka_bootstrap, [p + t for t in (*INPUT_TOPICS, *OUTPUT_TOPICS.values())])
    messages = []
    for line in population["year"].read_bytes().splitlines():
        obj = orjson.loads(line)
        key = obj.get("iin") or obj.get("phone") or "day"
        messages.append((p + topic_of(obj), key.encode(), line))
    produce_all(kafka_bootstrap, messages)
    assert main(["run", "--kafka", kafka_bootstrap, "--stop-at-end", "--input-prefix", p, "--output-prefix", p,
                 "--shards", str(SHARDS), "--initial-state", str(_seed(population, "seed2", 2))]) == 0
    whole = tmp_path / "whole"
    assert main(["run", "--input", str(population["all"]), "--output", str(whole), "--shards", str(SHARDS)]) == 0
    live = sorted(orjson.loads(v)["notification_id"] for _, v in read_topic(kafka_bootstrap, p + "notifications"))
    replayed = sorted(orjson.loads(x)["notification_id"] for x in (whole / "notifications.jsonl").read_bytes().splitlines())
    assert len(replayed) > 20 and live == replayed


def test_state_gauges_count_what_the_seed_brought(population: dict[str, Path], tmp_path: Path) -> None:
    """A seeded run ends with the same state sizes as the whole-file run (timers from the seed included)."""
    from flows import metrics

    kinds = (metrics.PERSONS, metrics.FAMILIES, metrics.CALENDAR_TIMERS, metrics.OPEN_OFFERS)

    def sizes() -> dict[str, float]:
        return {k: metrics.state_size(k)._value.get() for k in kinds}

    before = sizes()
    assert main(["run", "--input", str(population["all"]), "--output", str(tmp_path / "a"), "--shards", str(SHARDS)]) == 0
    middle = sizes()
    assert main(["run", "--input", str(population["year"]), "--output", str(tmp_path / "b"), "--shards", str(SHARDS),
                 "--initial-state", str(_seed(population, "seed2", 2))]) == 0
    after = sizes()
    whole = {k: middle[k] - before[k] for k in kinds}
    seeded = {k: after[k] - middle[k] for k in kinds}
    assert whole[metrics.CALENDAR_TIMERS] > 0 and whole[metrics.PERSONS] > 400
    assert seeded == whole


@pytest.mark.parametrize("workers", [1, 2])
def test_whatif_from_a_seed(population: dict[str, Path], tmp_path: Path, workers: int) -> None:
    """``familycard whatif --initial-state SEED`` (issue 15): its base side is the seeded stream's run,
    on 1 and 2 processes, and the report is written."""
    reform = tmp_path / "mci.json"
    reform.write_text('{"label": "mci 5000", "dated": {"mci": {"values": {"2026-01-01": 5000}}}}')
    seeded, whatif = tmp_path / "seeded", tmp_path / "whatif"
    seed = _seed(population, "seed2", 2)
    assert main(["run", "--input", str(population["year"]), "--output", str(seeded), "--shards", str(SHARDS),
                 "--initial-state", str(seed), "--simulate-citizens"]) == 0
    assert main(["whatif", "--input", str(population["year"]), "--output", str(whatif), "--shards", str(SHARDS),
                 "--initial-state", str(seed), "--reform", str(reform), "--workers", str(workers)]) == 0
    base = _outputs(whatif / "runs" / "base")
    assert base["notifications.jsonl"] == _outputs(seeded)["notifications.jsonl"]
    if workers == 1:  # 2 processes may differ in the reasons of same-day events (contract §1)
        assert base == _outputs(seeded)
    assert (whatif / "summary.json").exists() and (whatif / "report.html").exists()


def test_load_seed_is_a_deprecated_alias_of_seed_dir(population: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``load --seed DIR`` (the old name; ``--seed`` is a random number for run and generate) still works."""
    assert main(["load", "--input", str(population["load"]), "--seed", str(tmp_path / "old"),
                 "--shards", str(SHARDS)]) == 0
    assert "deprecated, use --seed-dir" in capsys.readouterr().err
    assert (tmp_path / "old").is_dir()


