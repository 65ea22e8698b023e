"""Bad input for the dead-letter path: ``corrupt`` turns a clean stream into a realistic dirty one.

Kept apart from the simulation on purpose: it works on any stream of messages (it only
sees dicts and their JSON lines), it draws from its own ``random.Random(seed)`` (so the same
clean stream can be corrupted differently, and corrupting does not change the clean
stream), and its kinds are those a consumer must survive, not facts about families.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

CORRUPTION_KINDS = ("invalid_json", "schema", "bad_iin", "unknown_type", "duplicate")


def corrupt(messages: Iterable[dict], fraction: float, seed: int | str = 1) -> Iterator[bytes]:
    """JSON-encode each message as one line and replace about ``fraction`` of them with bad input.

    The kinds are those a consumer must survive (``CORRUPTION_KINDS``): invalid JSON, a
    schema violation, an IIN with a wrong check digit, an unknown event type, and a
    redelivered earlier line. A duplicate is *added* after the current line (a redelivery
    loses nothing), the other kinds replace it. ``day`` ticks are never touched: they are
    the scheduler's, not a registry's. Every other line is byte-identical to ``orjson.dumps``.
    """
    r = random.Random(seed)
    recent: deque[bytes] = deque(maxlen=2000)
    for msg in messages:
        line = orjson.dumps(msg)
        if msg.get("type") == "day" or r.random() >= fraction:
            if msg.get("type") != "day":
                recent.append(line)
            yield line
            continue
        kind = CORRUPTION_KINDS[int(r.random() * len(CORRUPTION_KINDS))]
        if kind == "duplicate":
            recent.append(line)
            yield line
            yield recent[int(r.random() * len(recent))]
        else:
            yield _bad_line(kind, msg, line, r)


_SCHEMA_BREAKS: dict[str, tuple[tuple[str, Any], ...]] = {
    "person_registered": (("sex", "M"), ("birth_date", None), ("language", "en")),
    "birth": (("sex", "boy"), ("mother_iin", None), ("multiple_birth", "two")),
    "dismissal": (("reason", "fired"), ("employer_bin", None)),
    "disability_ruling": (("group", "IV"), ("loss_of_working_capacity_pct", 150), ("cause", "accident")),
    "award": (("award", "hero_mother"),),
    "contribution": (("income_kzt", "350000"), ("month", "2026/01"), ("social_contribution_kzt", None)),
    "employment_started": (("monthly_wage_kzt", "350 000"), ("employer_bin", "BIN-1")),
    "kandas_status": (("valid_until", "forever"),),
    "pension_assigned": (("monthly_amount_kzt", "150000 KZT"),),
    "family_changed": (("family_id", 42), ("family_id", None)),
    "contact_changed": (("language", "en"), ("phone", "8 701 123 45 67")),
}
_UNKNOWN_TYPES = ("marriage_registered", "address_changed", "divorce", "vaccination", "passport_issued")


def _bad_line(kind: str, msg: dict, line: bytes, r: random.Random) -> bytes:
    """One kind of typical bad input, derived from the message it replaces."""
    if kind == "invalid_json":
        v = int(r.random() * 4)
        if v == 0:
            return line[: 1 + int(r.random() * (len(line) - 2))]  # cut off mid-record
        if v == 1:
            return line.replace(b'"', b"'")  # Python repr, not JSON
        if v == 2:
            return line[:-1] + b",}"  # trailing comma
        return line[:-1] + b',"note":"\xff"}'  # not UTF-8
    bad = dict(msg)
    if kind == "unknown_type":
        bad["type"] = _UNKNOWN_TYPES[int(r.random() * len(_UNKNOWN_TYPES))]
    elif kind == "bad_iin":
        data = bad.get("data") or {}
        if "mother_iin" in data and r.random() < 0.3:
            bad["data"] = {**data, "mother_iin": _wrong_check_digit(data["mother_iin"], r)}
        else:
            bad["iin"] = _wrong_check_digit(bad["iin"], r)
    else:  # schema
        breaks = _SCHEMA_BREAKS.get(bad["type"], ())
        if breaks and r.random() < 0.7:
            name, value = breaks[int(r.random() * len(breaks))]
            data = dict(bad["data"])
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
            bad["data"] = data
        else:
            v = int(r.random() * 4)
            if v == 3:
                bad["data"] = []  # data must be an object
            else:
                bad.pop(("event_id", "occurred_on", "recorded_at")[v])
    return orjson.dumps(bad)


def _wrong_check_digit(iin: str, r: random.Random) -> str:
    return iin[:11] + str((int(iin[11]) + 1 + int(r.random() * 9)) % 10)
