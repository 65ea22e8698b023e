"""The synthetic population: deterministic, contract-shaped, plausible, and in a replayable order."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import io
import random
import statistics
from pathlib import Path
from typing import Any

import orjson
import pytest

from familycard import cli
from familycard.generator import CORRUPTION_KINDS, _World, corrupt, generate, part_families, retirement_day, write_jsonl
from state.iin import birth_date_of, is_valid, sex_of

START = dt.date(2026, 1, 1)
EVE = (START - dt.timedelta(days=1)).isoformat()
ENVELOPE = ("event_id", "type", "iin", "occurred_on", "recorded_at", "data")
TICK = ("event_id", "type", "occurred_on")

# contract §1 "data by type": (required, optional)
DATA_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "person_registered": ({"birth_date", "sex", "family_id"},
                          {"mother_iin", "father_iin", "phone", "language", "region", "iban"}),
    "family_changed": ({"family_id"}, set()),
    "contact_changed": (set(), {"phone", "language", "iban"}),
    "birth": ({"mother_iin", "family_id", "sex"}, {"father_iin", "multiple_birth"}),
    "death": (set(), set()),
    "employment_started": ({"employer_bin", "monthly_wage_kzt"}, set()),
    "dismissal": ({"employer_bin", "reason"}, set()),
    "contribution": ({"month", "income_kzt", "social_contribution_kzt"}, set()),
    "disability_ruling": ({"group", "cause", "loss_of_working_capacity_pct"}, {"valid_until"}),
    "disability_revoked": (set(), set()),
    "award": ({"award"}, set()),
    "kandas_status": ({"valid_until"}, set()),
    "pension_assigned": ({"monthly_amount_kzt"}, set()),
    "unemployed_registered": (set(), set()),
    "unemployed_deregistered": (set(), set()),
}


@pytest.fixture(scope="module")
def year() -> list[dict[str, Any]]:
    """2 000 families over a year: big enough for every event type and the rates."""
    return list(generate(2000, START, 365, seed=1))


def _split(msgs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The population load (recorded before the start) and the period."""
    first = next(i for i, m in enumerate(msgs) if m["type"] == "day" or m["recorded_at"][:10] >= START.isoformat())
    return msgs[:first], msgs[first:]


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text[:10])


def _born(iin: str) -> dt.date:
    born = birth_date_of(iin)
    assert born is not None, iin
    return born


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    a = list(generate(300, START, 60, seed=7))
    b = list(generate(300, START, 60, seed=7))
    c = list(generate(300, START, 60, seed=8))
    assert orjson.dumps(a) == orjson.dumps(b)
    assert orjson.dumps(a) != orjson.dumps(c)


def test_exact_contract_fields(year: list[dict[str, Any]]) -> None:
    for m in year:
        if m["type"] == "day":
            assert tuple(m) == TICK
            continue
        assert tuple(m) == ENVELOPE, m
        required, optional = DATA_FIELDS[m["type"]]
        keys = set(m["data"])
        assert required <= keys <= required | optional, m
        assert m["recorded_at"].endswith("+05:00")


def test_every_message_passes_the_schemas(year: list[dict[str, Any]]) -> None:
    validation = pytest.importorskip("schemas.validation")
    for m in year[::7]:
        assert validation.validate_event(m) is None, m


def test_iins_are_valid_and_agree_with_birth_date_and_sex(year: list[dict[str, Any]]) -> None:
    for m in year:
        if m["type"] == "day":
            continue
        assert is_valid(m["iin"]), m
        data = m["data"]
        for parent in ("mother_iin", "father_iin"):
            if parent in data:
                assert is_valid(data[parent])
        if m["type"] == "person_registered":
            assert _born(m["iin"]).isoformat() == data["birth_date"]
            assert sex_of(m["iin"]) == data["sex"]
        elif m["type"] == "birth":
            assert _born(m["iin"]).isoformat() == m["occurred_on"]
            assert sex_of(m["iin"]) == data["sex"]


def test_unique_iins_and_event_ids(year: list[dict[str, Any]]) -> None:
    people = [m["iin"] for m in year if m["type"] in ("person_registered", "birth")]
    assert len(people) == len(set(people))
    ids = [m["event_id"] for m in year]
    assert len(ids) == len(set(ids))


def test_every_subject_is_known_before_its_events(year: list[dict[str, Any]]) -> None:
    known: set[str] = set()
    for m in year:
        if m["type"] in ("person_registered", "birth"):
            known.add(m["iin"])
        elif m["type"] != "day":
            assert m["iin"] in known, m
        for parent in ("mother_iin", "father_iin"):
            if parent in m.get("data", {}):
                assert m["data"][parent] in known


def test_population_load_comes_first_as_registrations_then_late_records(year: list[dict[str, Any]]) -> None:
    load, _ = _split(year)
    kinds = [m["type"] == "person_registered" for m in load]
    assert kinds == sorted(kinds, reverse=True)  # every registration before any other record
    for m in load:
        if m["type"] == "person_registered":
            assert m["occurred_on"] == EVE and m["recorded_at"] == f"{EVE}T08:00:00+05:00"
            continue
        assert m["recorded_at"] == f"{EVE}T09:00:00+05:00"
        if m["type"] == "contribution":  # month-end, 5 % of income; the last month is on time
            month_end = _day(m["occurred_on"])
            assert (month_end + dt.timedelta(days=1)).day == 1
            assert m["data"]["month"] == m["occurred_on"][:7]
            assert m["data"]["social_contribution_kzt"] == (m["data"]["income_kzt"] * 5 + 50) // 100
        else:  # facts from before the period are late records
            assert (START - _day(m["occurred_on"])).days > 31, m
    months = {m["data"]["month"] for m in load if m["type"] == "contribution"}
    assert len(months) == 24 and max(months) == "2025-12"


def test_one_tick_per_day_last_and_nothing_before_its_date(year: list[dict[str, Any]]) -> None:
    load, period = _split(year)
    assert all(m["type"] != "day" for m in load)
    ticks = [m for m in period if m["type"] == "day"]
    assert [t["occurred_on"] for t in ticks] == [(START + dt.timedelta(days=i)).isoformat() for i in range(365)]
    assert all(t["event_id"] == f"day-{t['occurred_on']}" for t in ticks)
    assert period[-1]["type"] == "day"
    today = START
    batch: list[dict[str, Any]] = []
    for m in period:
        if m["type"] == "day":
            assert _day(m["occurred_on"]) == today
            keys = [(e["occurred_on"], e["recorded_at"]) for e in batch]
            assert keys == sorted(keys)  # within a day by (occurred_on, recorded_at)
            today += dt.timedelta(days=1)
            batch = []
            continue
        assert _day(m["recorded_at"]) == today  # emitted on the day the registry recorded it
        assert _day(m["occurred_on"]) <= today
        batch.append(m)


def test_recorded_at_never_before_occurred_on_and_some_records_are_late(year: list[dict[str, Any]]) -> None:
    _, period = _split(year)
    events = [m for m in period if m["type"] != "day"]
    delays = [(_day(m["recorded_at"]) - _day(m["occurred_on"])).days for m in events]
    assert min(delays) >= 0
    late = sum(1 for d in delays if d > 30) / len(delays)
    assert 0.001 < late < 0.012
    others = [d for m, d in zip(events, delays) if m["type"] != "contribution"]
    assert sum(1 for d in others if d == 0) / len(others) > 0.6  # mostly recorded the same day


def test_every_event_type_of_the_contract_appears(year: list[dict[str, Any]]) -> None:
    _, period = _split(year)
    seen = {m["type"] for m in period}
    assert seen == set(DATA_FIELDS) - {"person_registered"} | {"day"}
    assert "person_registered" in {m["type"] for m in year}


def test_demographics_are_plausible(year: list[dict[str, Any]]) -> None:
    load, period = _split(year)
    reg = [m["data"] for m in load if m["type"] == "person_registered"]
    n = len(reg)
    families = collections.Counter(d["family_id"] for d in reg)
    assert 2.9 <= n / len(families) <= 3.5
    minor_cut = dt.date(START.year - 18, START.month, START.day).isoformat()
    minors = collections.Counter(d["family_id"] for d in reg if d["birth_date"] > minor_cut)
    assert 0.07 <= sum(1 for c in minors.values() if c >= 4) / len(families) <= 0.13
    adults = [d for d in reg if d["birth_date"] <= minor_cut]
    children = [d for d in reg if d["birth_date"] > minor_cut]
    assert min(d["birth_date"] for d in adults) >= "1945-01-01"
    assert sum("phone" in d for d in adults) / len(adults) >= 0.85
    assert not any("phone" in d for d in children)
    assert 0.72 <= sum("iban" in d for d in adults) / len(adults) <= 0.88
    assert 0.62 <= sum(d["language"] == "kk" for d in reg) / n <= 0.78
    assert len({d["phone"] for d in adults if "phone" in d}) == sum("phone" in d for d in adults)
    assert all(d["family_id"][:2] == "F-" and len(d["family_id"]) == 9 for d in reg)

    types = collections.Counter(m["type"] for m in period)
    assert 15 <= types["birth"] / n * 1000 <= 25
    assert 4.5 <= types["death"] / n * 1000 <= 9.5
    ruled_before = {m["iin"] for m in load if m["type"] == "disability_ruling"}
    assert 0.028 <= len(ruled_before) / n <= 0.042  # ~3.5 %, +-3 sd at this size
    groups = collections.Counter(m["data"]["group"] for m in load if m["type"] == "disability_ruling")
    share = {g: c / sum(groups.values()) for g, c in groups.items()}  # I 10 / II 40 / III 35 / child 15 %
    assert 0.04 <= share["I"] <= 0.18 and 0.30 <= share["II"] <= 0.50
    assert 0.25 <= share["III"] <= 0.45 and 0.08 <= share["child"] <= 0.28
    new_rulings = {m["iin"] for m in period if m["type"] == "disability_ruling"} - ruled_before
    assert 3 <= len(new_rulings) / n * 1000 <= 8
    twins = [m for m in period if m["type"] == "birth" and m["data"]["multiple_birth"] == 2]
    assert len(twins) % 2 == 0

    incomes = [m["data"]["income_kzt"] for m in load if m["type"] == "contribution"]
    assert 300_000 <= statistics.median(incomes) <= 400_000
    wages = [m["data"]["monthly_wage_kzt"] for m in year if m["type"] == "employment_started"]
    assert min(wages) >= 85_000


def test_births_name_the_mother_and_her_partner_in_the_family(year: list[dict[str, Any]]) -> None:
    family = {m["iin"]: m["data"]["family_id"] for m in year if m["type"] == "person_registered"}
    births = [m for m in year if m["type"] == "birth"]
    moved = {m["iin"] for m in year if m["type"] == "family_changed"}
    assert sum("father_iin" in m["data"] for m in births) / len(births) > 0.7
    for m in births:
        mother = m["data"]["mother_iin"]
        assert sex_of(mother) == "female"
        assert (_day(m["occurred_on"]) - _born(mother)).days / 365.25 >= 18
        if mother in family and mother not in moved:
            assert m["data"]["family_id"] == family[mother]


def test_retirement_day_follows_the_schedule() -> None:
    woman = dt.date(1967, 1, 10).toordinal()
    assert dt.date.fromordinal(retirement_day(woman, False)) == dt.date(2028, 7, 10)  # rules.md §1 example
    assert dt.date.fromordinal(retirement_day(dt.date(1964, 3, 5).toordinal(), False)) == dt.date(2025, 3, 5)
    assert dt.date.fromordinal(retirement_day(dt.date(1963, 5, 1).toordinal(), True)) == dt.date(2026, 5, 1)


def test_write_jsonl_writes_one_orjson_line_per_message() -> None:
    msgs = list(generate(50, START, 10, seed=3))
    out = io.BytesIO()
    assert write_jsonl(msgs, out) == len(msgs)
    assert out.getvalue() == b"".join(orjson.dumps(m) + b"\n" for m in msgs)


def _kind(line: bytes, original: dict[str, Any]) -> str:
    """Classify a replaced line the way the codec would see it."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "invalid_json"
    if obj.get("type") not in DATA_FIELDS:
        return "unknown_type"
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    iins = [obj.get("iin")] + [data.get(k) for k in ("mother_iin", "father_iin") if k in data]
    if all(isinstance(i, str) for i in iins) and not all(is_valid(i) for i in iins):
        return "bad_iin"
    assert obj != original
    return "schema"


def test_corrupt_produces_every_kind_and_keeps_the_rest_byte_identical() -> None:
    msgs = list(generate(200, START, 90, seed=5))
    lines = list(corrupt(msgs, 0.05, seed=5))
    kinds: collections.Counter[str] = collections.Counter()
    seen: set[bytes] = set()
    i = 0
    for line in lines:
        assert b"\n" not in line
        if i < len(msgs) and line == orjson.dumps(msgs[i]):
            i += 1
        elif line in seen:
            kinds["duplicate"] += 1
        else:
            assert msgs[i]["type"] != "day"  # ticks are never corrupted
            kinds[_kind(line, msgs[i])] += 1
            i += 1
        seen.add(line)
    assert i == len(msgs)
    assert set(kinds) == set(CORRUPTION_KINDS)
    bad = sum(kinds.values())
    assert 0.035 < bad / len(msgs) < 0.065
    assert list(corrupt(msgs, 0.05, seed=5)) == lines
    assert list(corrupt(msgs, 0.0)) == [orjson.dumps(m) for m in msgs]


def test_corrupted_lines_get_the_expected_dead_letter_codes() -> None:
    codec = pytest.importorskip("schemas.codec")
    msgs = [m for m in generate(100, START, 60, seed=9)]
    by_line = {orjson.dumps(m): m for m in msgs}
    codes: collections.Counter[str] = collections.Counter()
    for line in corrupt(msgs, 0.2, seed=9):
        if line in by_line:
            continue
        result = codec.decode(codec.RawMessage("registry.population", line))
        assert isinstance(result, codec.DeadLetter), line
        codes[result.code] += 1
    assert {"invalid_json", "schema", "bad_iin", "unknown_type"} <= set(codes)


# --- generating a population in parts ----------------------------------------------------------

# write_jsonl(generate(300, START, 60, seed=7)) before parts existed: the default must not move
PINNED_SHA256 = "bd0db8fd8033cea65ee93e36d2efdc595ab9ce1e9c390150e19e5806ea1ca593"


def _sha256(msgs: Any) -> str:
    out = io.BytesIO()
    write_jsonl(msgs, out)
    return hashlib.sha256(out.getvalue()).hexdigest()


def test_one_part_is_the_unchanged_single_process_stream() -> None:
    assert _sha256(generate(300, START, 60, seed=7)) == PINNED_SHA256
    assert _sha256(generate(300, START, 60, seed=7, part=0, parts=1)) == PINNED_SHA256


def _identities(msgs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Every family id, IIN, non-tick event id and phone a stream hands out."""
    got: dict[str, list[str]] = {"families": [], "iins": [], "event_ids": [], "phones": []}
    for m in msgs:
        if m["type"] == "day":
            continue
        got["event_ids"].append(m["event_id"])
        data = m["data"]
        if m["type"] in ("person_registered", "birth"):
            got["iins"].append(m["iin"])
        if m["type"] == "person_registered" or (m["type"] == "family_changed"
                                                 and data["family_id"] not in got["families"]):
            got["families"].append(data["family_id"])
        if "phone" in data:
            got["phones"].append(data["phone"])
    return got


@pytest.mark.parametrize("parts", [2, 3])
def test_parts_never_collide_and_together_hold_every_family(parts: int) -> None:
    families = 300
    streams = [list(generate(families, START, 90, seed=7, part=k, parts=parts)) for k in range(parts)]
    ids = [_identities(s) for s in streams]
    for kind in ("families", "iins", "event_ids", "phones"):
        per_part = [set(i[kind]) for i in ids]
        if kind != "families":  # within a part too (a family id recurs: one registration per member)
            assert all(len(set(i[kind])) == len(i[kind]) for i in ids), kind
        assert sum(map(len, per_part)) == len(set().union(*per_part)), kind  # disjoint across parts
    for k, s in enumerate(streams):
        assert all(m["event_id"].startswith(tuple(f"{p}{k}-" for p in ("pop", "civ", "emp", "dis", "sta")))
                   for m in s if m["type"] != "day")
        for m in s:
            if m["type"] in ("person_registered", "birth"):
                assert is_valid(m["iin"]), m
                assert _born(m["iin"]).isoformat() == m["data"].get("birth_date", m["occurred_on"])
                assert sex_of(m["iin"]) == m["data"]["sex"]
    registered = [{m["data"]["family_id"] for m in s if m["type"] == "person_registered"} for s in streams]
    assert [len(r) for r in registered] == [part_families(families, k, parts) for k in range(parts)]
    assert set().union(*registered) == {f"F-{i:07d}" for i in range(1, families + 1)}
    people = sum(len(i["iins"]) for i in ids)
    assert 2.9 * families <= people <= 3.6 * families
    formed = set().union(*(i["families"] for i in ids)) - set().union(*registered)  # households formed in the period
    assert all(int(f[2:]) > families for f in formed)


def test_a_part_is_reproducible_and_differs_from_the_others() -> None:
    a = list(generate(60, START, 20, seed=3, part=1, parts=3))
    assert orjson.dumps(a) == orjson.dumps(list(generate(60, START, 20, seed=3, part=1, parts=3)))
    b = list(generate(60, START, 20, seed=3, part=2, parts=3))
    assert {m["iin"] for m in a if "iin" in m}.isdisjoint({m["iin"] for m in b if "iin" in m})


def test_a_part_out_of_iin_serials_moves_the_birth_day_or_fails_loudly() -> None:
    world = _World(random.Random(1), 0, START.toordinal(), START.toordinal() + 9, part=2, parts=4000, total=0)
    born = dt.date(1990, 5, 17).toordinal()  # serials 3, 4003 and 8003 (the ones with a check digit) a date
    got = [world.new_iin(born, True) for _ in range(9)]
    assert len({iin for iin, _ in got}) == 9 and all(is_valid(iin) for iin, _ in got)
    assert all(_born(iin).toordinal() == day and sex_of(iin) == "male" for iin, day in got)
    assert got[0][1] == born and born < got[-1][1] <= born + 9  # moved on to the next days once full
    newborn = START.toordinal() + 3  # a birth of the period keeps its date: no IIN left is an error
    with pytest.raises(RuntimeError, match="IIN serials exhausted"):
        for _ in range(4):
            world.new_iin(newborn, False)
    with pytest.raises(ValueError):
        next(generate(10, START, 5, part=3, parts=3))


@pytest.mark.parametrize(("part", "parts"), [(0, 1), (1, 2)])
def test_load_only_is_exactly_the_load_of_the_full_stream(part: int, parts: int) -> None:
    full = [orjson.dumps(m) for m in generate(200, START, 90, seed=4, part=part, parts=parts)]
    load = [orjson.dumps(m) for m in generate(200, START, 90, seed=4, part=part, parts=parts, load_only=True)]
    assert load == full[:len(load)]
    first = orjson.loads(full[len(load)])  # the full stream goes on with the period
    assert first["type"] == "day" or first["recorded_at"][:10] >= START.isoformat()
    assert len(_split([orjson.loads(line) for line in full])[0]) == len(load)


def test_cli_generates_one_part_of_the_load(tmp_path: Path) -> None:
    out = tmp_path / "part.jsonl"
    assert cli.main(["generate", "--families", "100", "--part", "1", "--parts", "2", "--load-only",
                     "--output", str(out)]) == 0
    lines = out.read_bytes().splitlines()
    expected = generate(100, dt.date.fromisoformat(cli.DEFAULT_START), cli.DEFAULT_DAYS, 1,
                        part=1, parts=2, load_only=True)
    assert lines == [orjson.dumps(m) for m in expected]
    msgs = [orjson.loads(line) for line in lines]
    assert msgs[0]["event_id"] == "pop1-0000001" and all(m["type"] != "day" for m in msgs)
    assert {m["data"]["family_id"] for m in msgs if m["type"] == "person_registered"} == \
        {f"F-{i:07d}" for i in range(2, 101, 2)}
    assert cli.main(["generate", "--families", "10", "--part", "2", "--parts", "2", "--output", str(out)]) == 2


def test_family_ids_of_parts_interleave_and_households_formed_later_come_after_all() -> None:
    def ids(part: int, parts: int, families: int, extra: int) -> list[str]:
        n = part_families(families, part, parts)
        world = _World(random.Random(1), n, START.toordinal(), START.toordinal(), part=part, parts=parts,
                       total=families)
        return [world.family_id(fam) for fam in range(n + extra)]

    assert ids(0, 1, 3, 2) == ["F-0000001", "F-0000002", "F-0000003", "F-0000004", "F-0000005"]
    every = [ids(k, 3, 10, 4) for k in range(3)]
    assert every[1] == ["F-0000002", "F-0000005", "F-0000008", "F-0000012", "F-0000015", "F-0000018", "F-0000021"]
    flat = [f for part in every for f in part]
    assert len(flat) == len(set(flat))
    assert {f for part in every for f in part[:part_families(10, every.index(part), 3)]} == \
        {f"F-{i:07d}" for i in range(1, 11)}
