"""A small hand-written scenario: one family through the life events the first rules handle.

Shared by the file-replay and the Kafka end-to-end tests, so both check the same outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from flows.topics import topic_of
from tests.factories import iin_for

MUM = iin_for("1990-04-02", "female")
DAD = iin_for("1988-07-15", "male")
KIDS = [iin_for(b, s) for b, s in (("2014-05-01", "male"), ("2017-09-12", "female"), ("2020-02-29", "male"))]
BABY = iin_for("2026-03-01", "female")
WORKER = iin_for("1979-11-30", "male")
GHOST = iin_for("1970-01-01", "male")  # never registered


def _env(eid: str, type_: str, iin: str, on: str, data: dict[str, Any], recorded: str | None = None) -> dict[str, Any]:
    return {"event_id": eid, "type": type_, "iin": iin, "occurred_on": on,
            "recorded_at": f"{recorded or on}T09:15:00+05:00", "data": data}


def messages() -> list[dict[str, Any]]:
    load = "2025-12-31"
    reg = [
        _env("pop-1", "person_registered", MUM, load, {"birth_date": "1990-04-02", "sex": "female", "family_id": "F-0000001",
                                                       "phone": "+77011234567", "language": "kk", "iban": "KZ12ABCD000000000001"}),
        _env("pop-2", "person_registered", DAD, load, {"birth_date": "1988-07-15", "sex": "male", "family_id": "F-0000001",
                                                       "phone": "+77017654321", "language": "kk"}),
    ]
    for i, (kid, born, sex) in enumerate(zip(KIDS, ("2014-05-01", "2017-09-12", "2020-02-29"), ("male", "female", "male"))):
        reg.append(_env(f"pop-k{i}", "person_registered", kid, load, {"birth_date": born, "sex": sex,
                                                                       "family_id": "F-0000001", "mother_iin": MUM,
                                                                       "father_iin": DAD}))
    reg.append(_env("pop-w", "person_registered", WORKER, load, {"birth_date": "1979-11-30", "sex": "male",
                                                                  "family_id": "F-0000002", "language": "ru",
                                                                  "phone": "+77051112233"}))
    life = [
        {"event_id": "day-2026-02-28", "type": "day", "occurred_on": "2026-02-28"},
        _env("civ-1", "birth", BABY, "2026-03-01", {"mother_iin": MUM, "father_iin": DAD, "family_id": "F-0000001",
                                                    "sex": "female"}, recorded="2026-03-02"),
        {"event_id": "day-2026-03-01", "type": "day", "occurred_on": "2026-03-01"},
        _env("dis-1", "disability_ruling", KIDS[1], "2026-03-10", {"group": "child", "cause": "other",
                                                                   "loss_of_working_capacity_pct": 0,
                                                                   "valid_until": "2027-03-31"}),
        _env("emp-1", "dismissal", WORKER, "2026-03-20", {"employer_bin": "123456789012", "reason": "staff_reduction"}),
        _env("emp-2", "dismissal", GHOST, "2026-03-20", {"employer_bin": "123456789012", "reason": "other"}),
        _env("emp-old", "dismissal", DAD, "2026-01-05", {"employer_bin": "123456789012", "reason": "other"},
             recorded="2026-03-20"),  # recorded 74 days late: state only
    ]
    return reg + life


BAD_LINES: dict[str, bytes] = {
    "invalid_json": b'{"event_id": "x1", "type": "birth", ',
    "bad_iin": orjson.dumps(_env("bad-1", "death", "260301600128", "2026-03-03", {})),
    "unknown_type": orjson.dumps(_env("bad-2", "marriage", MUM, "2026-03-03", {})),
    "schema": orjson.dumps(_env("bad-3", "disability_ruling", WORKER, "2026-03-03",
                                {"group": "IV", "cause": "other", "loss_of_working_capacity_pct": 10})),
}


def lines() -> list[bytes]:
    """The scenario as file lines: the messages, the bad lines, and one exact duplicate."""
    msgs = [orjson.dumps(m) for m in messages()]
    dup = msgs[-3]  # the worker's dismissal again
    return msgs[:-1] + list(BAD_LINES.values()) + [dup] + msgs[-1:]


def kafka_messages(topic: Callable[[str], str]) -> list[tuple[str, bytes | None, bytes]]:
    """``lines()`` as ``(topic, key, value)`` for ``produce_all``: each to ``topic(contract topic)``,
    keyed by its IIN when it has one; a line that is not JSON goes to registry.civil."""
    out = []
    for line in lines():
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        iin = obj.get("iin") if isinstance(obj, dict) else None
        out.append((topic(topic_of(obj, default="registry.civil")), iin.encode() if isinstance(iin, str) else None,
                    line))
    return out


# 4th child: 63 × 4 325 = 272 475; childcare 8.90 × 4 325 = 38 492.5 → 38 493;
# the family reaches 4 children: 16.03 × 4 325 = 69 329.75 → 69 330;
# child disability 1.61 × 50 851 = 81 870.11 → 81 870, and the same for the carer.
EXPECTED = {
    ("disabled_child_carer", "offer", MUM, 81870),
    ("birth_benefit", "offer", MUM, 272475),
    ("large_family_benefit", "offer", MUM, 69330),
    ("childcare_benefit", "offer", MUM, 38493),
    ("disability_benefit", "offer", MUM, 81870),
    ("employment_measures", "notice", WORKER, None),
}
EXPECTED_DEAD = {"invalid_json": 1, "bad_iin": 1, "unknown_type": 1, "schema": 1, "duplicate": 1, "unknown_person": 1}
