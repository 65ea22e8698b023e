"""The fast decode path (``schemas.fastpath``) gives exactly ``decode_reference``'s results.

``decode`` and ``decode_reference`` must return equal results (the same ``Event``, origin
included, or the same ``DeadLetter``; where the reference raises, the same exception) over:
(a) every message of a generated population and year, clean and with the generator's typical
corruptions; (b) thousands of messages mutated by the fuzz tests' mutators; (c) hypothesis-made
near-valid messages (boundary dates, instants, IINs, numbers, lengths, stray fields); and
exhaustive single-character changes of the dates and instants. Plus: the fast IIN check equals
the readable one, every event type has a fast path, and the generator refuses what it does not
understand.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from familycard.generator import corrupt, generate
from schemas import fastpath
from schemas.codec import DeadLetter, RawMessage, decode, decode_reference
from schemas.validation import EVENT_TYPES, validate_event
from state.events import Event, Origin
from state.iin import check_digit, is_valid, is_valid_reference, make_iin
from tests.schemas.test_fuzz import _seeds, mutate

MUM = "870512400129"
DAD = "850101300015"
CHILD = "260301600127"


# --- comparing the two paths -----------------------------------------------------------

def _outcome(fn: Callable[[RawMessage], Any], raw: RawMessage) -> tuple[Any, ...]:
    try:
        return ("result", fn(raw))
    except Exception as exc:  # the reference raises on a few inputs; the fast path must raise alike
        return ("raises", type(exc), str(exc))


def _raw(value: bytes, parsed: Any = None, i: int = 0, phase: int = 1, topic: str = "t") -> RawMessage:
    return RawMessage(topic, value, value[:12] or None, i % 7, 1000 + i, 1_700_000_000_000 + i, parsed, i, phase)


def assert_same(raw: RawMessage) -> Any:
    """Both paths on ``raw``; equal results or a failure naming the message. Returns the result."""
    fast = _outcome(decode, raw)
    ref = _outcome(decode_reference, raw)
    assert fast == ref, f"{raw.value[:300]!r}: fast {fast!r} != reference {ref!r}"
    result = fast[-1] if fast[0] == "result" else None
    if isinstance(result, Event):  # dataclass equality compares every field; the types too
        assert type(result) is type(ref[1]) is Event and type(result.origin) is Origin
        assert type(result.occurred_on) is type(result.recorded_on) is int
    return result


def assert_same_message(msg: Any, i: int = 0) -> Any:
    """As parsed by the source (``parsed`` set) and as bare bytes; both must agree."""
    try:
        value = orjson.dumps(msg)
    except TypeError:  # integers beyond 64 bits: only the parsed form
        value = repr(msg).encode()
    first = assert_same(_raw(value, msg, i))
    assert_same(_raw(value, None, i, phase=2))
    return first


# --- (a) a generated population and year -----------------------------------------------

@pytest.fixture(scope="module")
def population() -> list[dict[str, Any]]:
    msgs = list(generate(2000, dt.date(2026, 1, 1), 365, seed=11))
    msgs.append({"event_id": "sms-1", "type": "sms_reply", "phone": "+77011234567", "in_reply_to": "n-1",
                 "text": "иә", "received_at": "2026-01-20T10:00:00+05:00"})
    return msgs


def test_population_and_year(population: list[dict[str, Any]]) -> None:
    types = set()
    for i, msg in enumerate(population):
        value = orjson.dumps(msg)
        raw = _raw(value, orjson.loads(value), i, phase=1 + i % 2)
        result = assert_same(raw)
        assert isinstance(result, Event), result
        types.add(result.type)
        # every valid message of the mix takes the fast path (else it is no faster)
        assert fastpath.FAST_DECODERS[msg["type"]](raw.parsed, raw) is not None, msg
        if i % 10 == 0:  # the bytes-only form (the source did not parse) on a sample
            assert_same(_raw(value, None, i))
    assert types >= {"person_registered", "contribution", "birth", "day", "sms_reply", "death"}, types


def test_population_with_typical_corruptions(population: list[dict[str, Any]]) -> None:
    codes: dict[str, int] = {}
    for i, line in enumerate(corrupt(population[:15000], 0.2, seed=5)):
        try:
            parsed = orjson.loads(line)
        except orjson.JSONDecodeError:
            parsed = None
        result = assert_same(_raw(line, parsed, i))
        key = result.code if isinstance(result, DeadLetter) else "event"
        codes[key] = codes.get(key, 0) + 1
    assert {"event", "invalid_json", "schema", "bad_iin", "unknown_type"} <= set(codes), codes


# --- (b) the fuzz tests' mutations -----------------------------------------------------

def test_mutated_messages() -> None:
    r = random.Random(20261124)
    seeds = _seeds()
    codes: dict[str, int] = {}
    for i in range(5000):
        value = mutate(r, r.choice(seeds))
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = None
        for p in (parsed, None):
            result = assert_same(_raw(value, p, i))
        key = result.code if isinstance(result, DeadLetter) else "event"
        codes[key] = codes.get(key, 0) + 1
    assert {"event", "schema", "invalid_json", "too_large"} <= set(codes), codes


# --- (c) hypothesis: near-valid messages -----------------------------------------------

TEMPLATES: dict[str, dict[str, Any]] = {
    "person_registered": {"birth_date": "2026-03-01", "sex": "female", "family_id": "F-000042",
                          "mother_iin": MUM, "father_iin": DAD, "phone": "+77011234567", "language": "kk",
                          "region": "Almaty", "iban": "KZ12ABCD000000000001"},
    "family_changed": {"family_id": "F-000043"},
    "contact_changed": {"phone": "+77011234567", "language": "ru", "iban": "KZ12ABCD000000000001"},
    "birth": {"mother_iin": MUM, "father_iin": DAD, "family_id": "F-000042", "sex": "female", "multiple_birth": 2},
    "death": {},
    "employment_started": {"employer_bin": "123456789012", "monthly_wage_kzt": 350000},
    "dismissal": {"employer_bin": "123456789012", "reason": "staff_reduction"},
    "contribution": {"month": "2026-02", "income_kzt": 350000, "social_contribution_kzt": 17500},
    "disability_ruling": {"group": "II", "cause": "general_illness", "loss_of_working_capacity_pct": 60,
                          "valid_until": "2027-03-31"},
    "disability_revoked": {},
    "award": {"award": "altyn_alka"},
    "kandas_status": {"valid_until": "2027-03-01"},
    "pension_assigned": {"monthly_amount_kzt": 150000},
    "unemployed_registered": {},
    "unemployed_deregistered": {},
}


def _template(etype: str) -> dict[str, Any]:
    if etype == "day":
        return {"event_id": "day-2026-03-02", "type": "day", "occurred_on": "2026-03-02"}
    if etype == "sms_reply":
        return {"event_id": "sms-9f1c", "type": "sms_reply", "phone": "+77011234567", "in_reply_to": "n-1",
                "text": "1", "received_at": "2026-03-03T12:00:00+05:00"}
    return {"event_id": "civ-2026-000123", "type": etype, "iin": CHILD, "occurred_on": "2026-03-01",
            "recorded_at": "2026-03-02T09:15:00+05:00", "data": copy.deepcopy(TEMPLATES[etype])}


def test_templates_are_valid_and_fast() -> None:
    assert set(TEMPLATES) | {"day", "sms_reply"} == EVENT_TYPES
    for etype in sorted(EVENT_TYPES):
        msg = _template(etype)
        assert validate_event(msg) is None, etype
        assert isinstance(assert_same_message(msg), Event), etype
        assert fastpath.FAST_DECODERS[etype](msg, _raw(orjson.dumps(msg), msg)) is not None, etype


YEARS = ["0000", "0001", "0999", "1799", "1800", "1801", "1899", "1900", "1999", "2000", "2026", "2100",
         "2199", "2200", "9999", "２０２６", "2O26", "+026", " 026"]
TWO = [f"{n:02d}" for n in (0, 1, 2, 9, 10, 12, 13, 23, 24, 28, 29, 30, 31, 32, 59, 60, 61, 99)] + ["1", "١٢", " 1", "+1"]


@st.composite
def date_texts(draw: st.DrawFn) -> str:
    return f"{draw(st.sampled_from(YEARS))}-{draw(st.sampled_from(TWO))}-{draw(st.sampled_from(TWO))}"


@st.composite
def instant_texts(draw: st.DrawFn) -> str:
    date = draw(st.one_of(date_texts(), st.sampled_from(["2026-03-02", "2024-02-29", "2199-12-31", "1800-01-01"])))
    sep = draw(st.sampled_from(["T", "T", "T", "t", " "]))
    h, m, s = (draw(st.sampled_from(TWO)) for _ in range(3))
    frac = draw(st.sampled_from(["", "", "", ".5", ".123456", ".123456789", ".1234567890", "."]))
    off = draw(st.sampled_from(["Z", "+05:00", "-00:00", "+23:59", "-23:59", "+24:00", "+05:60", "+05:75", "z",
                                "", "+0500", "+05", "+05:00:00", "+5:00", "+05:0"]))
    if draw(st.booleans()):
        off = f"{draw(st.sampled_from('+-'))}{draw(st.sampled_from(TWO))}:{draw(st.sampled_from(TWO))}"
    return f"{date}{sep}{h}:{m}:{s}{frac}{off}"


@st.composite
def iins(draw: st.DrawFn) -> str:
    born = draw(st.dates(dt.date(1800, 1, 1), dt.date(2099, 12, 31)))
    found = None
    serial = draw(st.integers(0, 9999))
    while found is None:
        found = make_iin(born, draw(st.sampled_from(["male", "female"])), serial)
        serial += 1
    kind = draw(st.integers(0, 5))
    if kind == 0:  # one digit changed (check digit or date)
        pos = draw(st.integers(0, 11))
        found = found[:pos] + str(draw(st.integers(0, 9))) + found[pos + 1:]
    elif kind == 1:
        found = draw(st.sampled_from([found[:11], found + "0", found[:6] + "٣" + found[7:], found[:6] + "7" + found[7:],
                                      found[:6] + "0" + found[7:], " " + found[1:]]))
    return found


LENGTHY = [""] + ["x" * n for n in (1, 7, 12, 20, 64, 65, 100, 101, 200, 201, 1000, 1001)]
SCALARS: list[Any] = [None, True, False, 0, -1, 1, 2, 10, 11, 100, 101, 10**12, 10**12 + 1, 2**63, 5.0, 1.5,
                      "5", [], {}, {"a": 1}, [1], "male", "female", "Male", "kk", "ru", "KK", "I", "II", "III", "IV",
                      "child", "altyn_alka", "staff_reduction", "other", "general_illness", "2026-02", "2026-13",
                      "2026-00", "20260-1", "+77011234567", "+7701123456", "87011234567", "+7701123456７",
                      "KZ12ABCD000000000001", "KZ12abcd000000000001", "KZ12ABCD0000000000011", "123456789012",
                      "12345678901", "F-1", "sms_reply", "day", "birth", "death"]


def values() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(SCALARS), st.sampled_from(LENGTHY), date_texts(), instant_texts(), iins(),
                     st.integers(-5, 10**13), st.text(max_size=14))


ENVELOPE_KEYS = ["event_id", "type", "iin", "occurred_on", "recorded_at", "data", "phone", "in_reply_to", "text",
                 "received_at", "extra"]
DATA_KEYS = sorted({k for t in TEMPLATES.values() for k in t}) + ["valid_until", "birth_date", "mother_iin",
                                                                   "father_iin", "extension"]


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    msg = _template(draw(st.sampled_from(sorted(EVENT_TYPES))))
    if msg["type"] not in ("day", "sms_reply") and draw(st.booleans()):  # a real person, sometimes
        born = draw(st.dates(dt.date(1800, 1, 1), dt.date(2099, 12, 31)))
        sex = draw(st.sampled_from(["male", "female"]))
        subject = make_iin(born, sex, 1) or make_iin(born, sex, 2) or CHILD
        msg["iin"] = subject
        if msg["type"] == "person_registered":
            msg["data"]["birth_date"], msg["data"]["sex"] = born.isoformat(), sex
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["root", "data", "data", "data"]))
        target = msg if where == "root" or not isinstance(msg.get("data"), dict) else msg["data"]
        key = draw(st.sampled_from(ENVELOPE_KEYS if target is msg else DATA_KEYS))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(values())
    return msg


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=near_valid())
def test_near_valid_messages(msg: dict[str, Any]) -> None:
    assert_same_message(msg)


# --- exhaustive single-character changes of dates and instants --------------------------

CHARS = [chr(c) for c in range(128)] + ["٣", "３", "é", "\u2009", "𝟙"]


def _each_char_at(text: str) -> list[str]:
    return [text[:i] + c + text[i + 1:] for i in range(len(text)) for c in CHARS]


@pytest.mark.parametrize("field", ["occurred_on", "recorded_at", "data.valid_until", "data.birth_date"])
def test_every_character_in_dates(field: str) -> None:
    msg = _template("disability_ruling" if field == "data.valid_until" else "person_registered")
    if field == "data.birth_date":
        msg["iin"], msg["data"]["birth_date"], msg["data"]["sex"] = CHILD, "2026-03-01", "female"
    texts = {"recorded_at": ["2026-03-02T09:15:00+05:00", "2026-03-02T09:15:00Z"]}.get(field, ["2026-03-01"])
    accepted = 0
    for base in texts:
        for text in _each_char_at(base) + [base[:-1], base + "0", base + "\n"]:
            if "." in field:
                msg["data"][field.split(".")[1]] = text
            else:
                msg[field] = text
            accepted += isinstance(assert_same(_raw(orjson.dumps(msg), msg)), Event)
    assert accepted > 0


def test_every_time_and_offset() -> None:
    msg = _template("death")
    texts = [f"2026-03-02T{h:02d}:{m:02d}:{s:02d}+05:00" for h in range(26) for m in (0, 59, 60, 61) for s in (0, 59)]
    texts += [f"2026-03-02T09:{m:02d}:{s:02d}Z" for m in range(62) for s in range(62)]
    texts += [f"2026-03-02T09:15:00{sign}{h:02d}:{m:02d}" for sign in "+-" for h in range(26) for m in range(62)]
    texts += [f"{y}-{mo:02d}-{d:02d}T00:00:00Z" for y in (1800, 1900, 2000, 2024, 2026, 2100)
              for mo in range(14) for d in range(33)]
    for text in texts:
        msg["recorded_at"] = text
        msg["occurred_on"] = text[:10] if text[:10] <= "2026-03-02" else "2026-03-01"
        assert_same(_raw(orjson.dumps(msg), msg))


ODD_DATES = ["2026-W09-1", "2026W091", "20260301", "2026-060", "2026-03-01T", "2026-03-01 ", " 2026-03-01",
             "2026-3-1", "2026-03-1", "+2026-03-01", "2026-02-29", "2024-02-29", "1900-02-29", "2000-02-29",
             "2100-02-29", "1800-02-29", "2026-04-31", "2026-00-10", "1799-12-31", "1800-01-01", "2199-12-31",
             "2200-01-01", "0001-01-01", "9999-12-31"]


@pytest.mark.parametrize("text", ODD_DATES)
def test_odd_dates_in_every_date_field(text: str) -> None:
    for etype, path in [("day", "occurred_on"), ("death", "occurred_on"), ("disability_ruling", "data.valid_until"),
                        ("kandas_status", "data.valid_until"), ("person_registered", "data.birth_date"),
                        ("contribution", "data.valid_until"), ("death", "data.birth_date")]:
        msg = _template(etype)
        if path == "occurred_on" and etype == "death":
            msg["recorded_at"] = "2300-01-01T00:00:00Z" if text[:1] == "9" else "2199-12-31T23:00:00Z"
        target = msg["data"] if path.startswith("data.") else msg
        target[path.split(".")[-1]] = text
        if etype == "person_registered" and len(text) == 10 and text[4:5] == "-":
            born = _date_or_none(text)
            if born is not None and 1800 <= born.year <= 2099:  # a subject whose IIN agrees with it
                msg["iin"] = make_iin(born, "female", 1) or make_iin(born, "female", 2) or CHILD
                msg["data"]["sex"] = "female"
        assert_same_message(msg)


def _date_or_none(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def test_person_registered_birth_date_and_sex_against_the_iin() -> None:
    events = 0
    for born in [dt.date(1800, 1, 1), dt.date(1899, 12, 31), dt.date(1900, 3, 1), dt.date(1987, 5, 12),
                 dt.date(2000, 2, 29), dt.date(2026, 3, 1), dt.date(2099, 12, 31)]:
        for sex in ("male", "female"):
            subject = make_iin(born, sex, 7) or make_iin(born, sex, 8)
            assert subject is not None and is_valid(subject)
            other_century = born.year - 100 if born.year > 1900 else born.year + 100
            shifted = born.replace(year=other_century, day=28) if born.day == 29 else born.replace(year=other_century)
            for birth_date in (born, born + dt.timedelta(days=1), shifted):
                for claimed in ("male", "female"):
                    msg = _template("person_registered")
                    msg["iin"] = subject
                    msg["data"]["birth_date"], msg["data"]["sex"] = birth_date.isoformat(), claimed
                    events += isinstance(assert_same_message(msg), Event)
    assert events == 14


def test_date_bounds_and_order() -> None:
    for occurred, recorded in [("1800-01-01", "1800-01-01T00:00:00Z"), ("1799-12-31", "1800-01-01T00:00:00Z"),
                               ("2199-12-31", "2199-12-31T23:59:59-23:59"), ("2199-12-31", "2200-01-01T00:00:00Z"),
                               ("2026-03-02", "2026-03-01T23:59:59-12:00"), ("2026-03-02", "2026-03-02T00:00:00+14:00")]:
        for etype in ("death", "day", "sms_reply"):
            msg = _template(etype)
            msg["occurred_on" if etype != "sms_reply" else "received_at"] = occurred if etype == "day" else recorded
            if etype == "death":
                msg["occurred_on"], msg["recorded_at"] = occurred, recorded
            assert_same_message(msg)


# --- the pieces ------------------------------------------------------------------------

def test_iin_check_equals_the_reference() -> None:
    day = dt.date(1800, 1, 1)
    while day.year < 2100:  # every birth date an IIN can hold, both sexes: valid
        for sex in ("male", "female"):
            made = make_iin(day, sex, day.toordinal() % 9973) or make_iin(day, sex, day.toordinal() % 9973 + 1)
            assert made is not None and is_valid(made) and is_valid_reference(made), made
        day += dt.timedelta(days=1)
    r = random.Random(7)
    for yy in range(100):  # around the month ends, every century digit, with the right check digit
        for mm in (0, 1, 2, 3, 4, 12, 13):
            for dd in (0, 1, 28, 29, 30, 31, 32):
                for c in range(10):
                    first11 = f"{yy:02d}{mm:02d}{dd:02d}{c}{r.randrange(10000):04d}"
                    k = check_digit(first11)
                    text = first11 + str(k if k is not None else r.randrange(10))
                    assert is_valid(text) == is_valid_reference(text), text
    for yy in range(100):  # every date part around the month ends, every century digit
        for mm in (0, 1, 2, 3, 4, 12, 13):
            for dd in (0, 1, 28, 29, 30, 31, 32):
                for c in range(10):
                    text = f"{yy:02d}{mm:02d}{dd:02d}{c}{r.randrange(10000):04d}{r.randrange(10)}"
                    assert is_valid(text) == is_valid_reference(text), text
    for _ in range(100_000):
        text = "".join(r.choice("0123456789") for _ in range(12))
        assert is_valid(text) == is_valid_reference(text), text
    for text in ["", "26030160012", "2603016001270", "26030160012x", "２60301600127", "26030160012٧"]:
        assert is_valid(text) == is_valid_reference(text), text


def test_every_event_type_has_a_fast_path() -> None:
    assert fastpath.SLOW_TYPES == {}
    assert set(fastpath.FAST_DECODERS) == EVENT_TYPES


def test_known_patterns_imply_their_regex() -> None:
    import re

    samples = ["260301600127", "2026-02", "2026-12", "+77011234567", "123456789012"]
    for pattern, (check, length) in fastpath._KNOWN_PATTERNS.items():
        regex = re.compile(pattern.replace("$", "\\Z"))
        fn = eval(f"lambda v: {check.format(v='v')}", {"_MONTHS": fastpath._MONTHS})  # noqa: S307
        tried = 0
        for base in samples:
            for text in _each_char_at(base) + [base, base + "0", base[:-1], base + "\n"]:
                if fn(text):
                    tried += 1
                    assert regex.search(text) and len(text) == length, (pattern, text)
        assert tried > 0, pattern


def test_generator_refuses_what_it_does_not_know() -> None:
    gen = fastpath._Generator("accept_x")
    for schema in [{"type": "object", "properties": {"a": {"type": "array"}}},
                   {"type": "object", "properties": {"a": {"type": "string", "format": "email"}}},
                   {"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}]}}},
                   {"type": "object", "properties": {"a": {"type": "number"}}},
                   {"type": "object", "properties": {"a": {"type": "string", "pattern": "a+"}}},
                   {"type": "object", "properties": {"a": {"type": "integer", "exclusiveMaximum": 3}}},
                   {"type": "object", "properties": {"a": {"enum": [1, "1"]}}},
                   {"type": "object", "additionalProperties": {"type": "string"}}]:
        with pytest.raises(fastpath.Unsupported):
            gen.source(schema)


def test_slot_constructor_builds_equal_objects() -> None:
    origin = Origin("t", 1, 2, b"{}", 3, 4)
    made = fastpath._new_origin("t", 1, 2, b"{}", 3, 4)
    assert made == origin and type(made) is Origin
    event = fastpath._new_event("e", "death", CHILD, 5, 6, {}, origin, 7)
    assert event == Event("e", "death", CHILD, 5, 6, {}, origin, 7) and type(event) is Event
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.topic = "x"  # type: ignore[misc]

    @dataclasses.dataclass(slots=True, frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            raise AssertionError("must run")

    @dataclasses.dataclass(slots=True, frozen=True)
    class Derived:
        a: int
        b: int = dataclasses.field(init=False, default=0)

    # classes it cannot build faster are built by themselves
    assert fastpath._slot_constructor(Checked) is Checked
    assert fastpath._slot_constructor(Derived) is Derived


@pytest.mark.parametrize("data_patch, path", [
    ({"valid_until": "soon"}, "data.valid_until"),
    ({"birth_date": "2026-02-30"}, "data.birth_date"),
    ({"mother_iin": 5}, "data.mother_iin"),
    ({"father_iin": ["x"]}, "data.father_iin"),
])
def test_undeclared_fields_of_a_wrong_shape_dead_letter_instead_of_raising(data_patch: dict, path: str) -> None:
    """Schemas allow extra fields; one that looks like a date or an IIN but is not one is bad input."""
    msg = {"event_id": "e-undeclared", "type": "death", "iin": "850101310002", "occurred_on": "2026-03-01",
           "recorded_at": "2026-03-02T10:00:00+05:00", "data": {**data_patch}}
    raw = RawMessage("deaths", orjson.dumps(msg))
    for fn in (decode, decode_reference):
        result = fn(raw)
        assert isinstance(result, DeadLetter), result
        assert result.path == path
        assert result.code in ("schema", "bad_iin")
