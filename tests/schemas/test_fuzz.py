"""Fuzzing the decode-and-validate path, and what lies behind it, with mutated messages.

Every mutated message must become an event that the stages then process without an
exception, or a dead letter with a contract code; never a crash. The count comes from
``FUZZ_COUNT`` (``make test``: 10 000; ``make fuzz``: 100 000).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
from typing import Any

import orjson

from familycard.generator import generate
from schemas.codec import DeadLetter, RawMessage, decode
from schemas.validation import validate_event
from state.events import Event
from state.iin import is_valid
from tests.inprocess import Pipeline

COUNT = int(os.environ.get("FUZZ_COUNT", "10000"))
CODES = {"invalid_json", "schema", "bad_iin", "unknown_type", "too_large", "future_date"}

NASTY_VALUES: list[Any] = [
    None, True, 0, -1, 10**30, -(10**30), 1e308, float("inf") if False else 1.5, "", " ", "\x00", "💥" * 50,
    "2026-02-30", "2026-13-01", "0000-01-01", "9999-12-31", "2199-01-01", "2026-03-01T25:00:00+05:00",
    "2026-03-01T09:00:00", "2260-03-01T09:00:00+05:00", "260301600127", "260301600128", "000000000000",
    "+7701", "+770112345678901", "KZ", "x" * 70_000, [], {}, [[[[[]]]]], {"a": {"b": {"c": {}}}},
]


def _seeds() -> list[dict[str, Any]]:
    msgs = list(generate(60, dt.date(2026, 1, 1), 40, seed=3))
    reply = {"event_id": "sms-1", "type": "sms_reply", "phone": "+77011234567", "in_reply_to": "n-1",
             "text": "1", "received_at": "2026-01-20T10:00:00+05:00"}
    return msgs + [reply]


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    return out


def _set(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    obj = dict(obj)
    obj[path[0]] = _set(obj.get(path[0], {}), path[1:], value) if len(path) > 1 else value
    return obj


def _dumps(obj: Any) -> bytes:
    """orjson where it can; the standard library for integers beyond 64 bits."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, ensure_ascii=False).encode()


def mutate(r: random.Random, seed: dict[str, Any]) -> bytes:
    kind = r.randrange(9)
    if kind <= 3:  # structured: a field replaced, removed or added
        paths = _paths(seed)[1:]
        path = r.choice(paths)
        if kind == 0:
            return _dumps(_set(seed, path, r.choice(NASTY_VALUES)))
        if kind == 1 and len(path) >= 1:
            parent = _set(seed, path[:-1], {k: v for k, v in _get(seed, path[:-1]).items() if k != path[-1]}) \
                if isinstance(_get(seed, path[:-1]), dict) else seed
            return _dumps(parent)
        if kind == 2:
            return _dumps(_set(seed, ("type",), r.choice(["birth", "death", "day", "sms_reply", "award",
                                                                "marriage", "", 7])))
        return _dumps({**seed, "extra_" + str(r.randrange(99)): r.choice(NASTY_VALUES)})
    raw = bytearray(_dumps(seed))
    if kind == 4:  # byte flips, invalid UTF-8 included
        for _ in range(r.randint(1, 4)):
            raw[r.randrange(len(raw))] = r.randrange(256)
        return bytes(raw)
    if kind == 5:  # truncation or a deleted range
        a = r.randrange(len(raw))
        return bytes(raw[:a] + raw[a + r.randint(0, 20):])
    if kind == 6:  # deep nesting
        depth = r.choice([10, 600, 5000])
        return b'{"event_id":"deep","type":"death","iin":"260301600127","occurred_on":"2026-03-01",' \
               b'"recorded_at":"2026-03-01T10:00:00+05:00","data":' + b"[" * depth + b"]" * depth + b"}"
    if kind == 7:  # oversized or huge numbers
        if r.random() < 0.5:
            return _dumps({**seed, "padding": "x" * r.choice([1000, 70_000, 200_000])})
        return bytes(raw).replace(b'"data":{', b'"data":{"n":' + b"9" * r.choice([20, 400, 5000]) + b",", 1)
    return bytes(r.getrandbits(8) for _ in range(r.randint(0, 64)))  # noise


def _get(obj: Any, path: tuple) -> Any:
    for p in path:
        obj = obj.get(p, {}) if isinstance(obj, dict) else {}
    return obj


def test_mutated_messages_never_crash() -> None:
    r = random.Random(20261123)
    seeds = _seeds()
    stages = Pipeline()
    for m in seeds:  # a sane population first, so mutations land on known people too
        stages.feed(decode(RawMessage("fuzz", orjson.dumps(m), parsed=m)))  # type: ignore[arg-type]
    counts: dict[str, int] = {}
    for i in range(COUNT):
        value = mutate(r, r.choice(seeds))
        result = decode(RawMessage("fuzz", value, None, 0, i))
        if isinstance(result, DeadLetter):
            assert result.code in CODES, result
            assert result.message
            counts[result.code] = counts.get(result.code, 0) + 1
            continue
        assert isinstance(result, Event)
        parsed = orjson.loads(value)
        assert validate_event(parsed) is None
        if result.type not in ("day", "sms_reply"):
            assert is_valid(result.subject)
        stages.feed(result)
        counts["event"] = counts.get("event", 0) + 1
    assert set(counts) >= {"event", "invalid_json", "schema", "too_large"}, counts
    assert not stages.rule_errors, stages.rule_errors[:3]
