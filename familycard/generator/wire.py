"""Wire encoding: the messages of contract §1 as dicts, and writing them as JSON lines.

The envelope of every registry message (``event_id``, ``type``, ``iin``, ``occurred_on``,
``recorded_at``, in that key order, with their date and time formats), the registration and
the ``day`` tick are built here and nowhere else, so their shape can be checked against the
contract in one place; the ``data`` of most events is built where the fact is drawn
(``load.py``, ``events.py``, ``period.py``). The dicts are exactly what gets encoded:
``write_jsonl`` and ``corrupt`` dump them with orjson as they are, key order included, which
is why a seeded stream is reproducible byte for byte.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, BinaryIO

import orjson

from familycard.generator.ids import _Ids
from familycard.generator.reference import REGIONS
from familycard.generator.world import Message

# Registries record during working hours, Astana time: one slot per minute of 09:00-17:59.
_TZ = "+05:00"
_WORK_TIMES = tuple(f"T{h:02d}:{m:02d}:00{_TZ}" for h in range(9, 18) for m in range(60))
_N_TIMES = len(_WORK_TIMES)


class _Wire(_Ids):
    """Builds the messages of ``_World`` from its people: dates as ISO strings, ids from ``_Ids``."""

    __slots__ = ()

    def iso(self, day: int) -> str:
        s = self.iso_cache.get(day)
        if s is None:
            s = self.iso_cache[day] = dt.date.fromordinal(day).isoformat()
        return s

    def message(self, prefix: str, etype: str, pid: int, occurred: int, recorded_at: str,
                data: dict[str, Any]) -> Message:
        """A registry event about person ``pid``: the envelope of contract §1 around ``data``."""
        return {"event_id": self.event_id(prefix), "type": etype, "iin": self.people[pid].iin,
                "occurred_on": self.iso(occurred), "recorded_at": recorded_at, "data": data}

    def recorded_at(self, day: int, slot: int) -> str:
        """The ``recorded_at`` of time slot ``slot`` of ``day`` (``_WORK_TIMES``)."""
        return self.iso(day) + _WORK_TIMES[slot]

    def registration(self, pid: int, occurred: str, recorded_at: str) -> Message:
        p = self.people[pid]
        data: dict[str, Any] = {"birth_date": self.iso(p.born), "sex": "male" if p.male else "female",
                                "family_id": self.family_id(p.family)}
        if p.mother >= 0:
            data["mother_iin"] = self.people[p.mother].iin
        if p.father >= 0:
            data["father_iin"] = self.people[p.father].iin
        if p.phone is not None:
            data["phone"] = p.phone
        data["language"] = p.language
        data["region"] = REGIONS[p.region][0]
        if p.iban is not None:
            data["iban"] = p.iban
        return {"event_id": self.event_id("pop"), "type": "person_registered", "iin": p.iin,
                "occurred_on": occurred, "recorded_at": recorded_at, "data": data}

    def late(self, prefix: str, etype: str, pid: int, occurred: int, data: dict[str, Any], at: str) -> Message:
        assert occurred <= self.start - 1
        return self.message(prefix, etype, pid, occurred, at, data)

    def late_contribution(self, pid: int, month_end: int, month: str, income: int, at: str) -> Message:
        return self.message("emp", "contribution", pid, month_end, at,
                            {"month": month, "income_kzt": income, "social_contribution_kzt": (income * 5 + 50) // 100})

    def day_tick(self, day: int) -> Message:
        """The scheduler's ``day`` tick, the last message of ``day``: same id in every part."""
        iso = self.iso(day)
        return {"event_id": f"day-{iso}", "type": "day", "occurred_on": iso}


def write_jsonl(messages: Iterable[dict], out: BinaryIO) -> int:
    """Write messages as JSON lines (orjson, one per line) in large chunks; returns the count."""
    n = 0
    chunk: list[bytes] = []
    dumps = orjson.dumps
    for msg in messages:
        chunk.append(dumps(msg))
        n += 1
        if len(chunk) >= 8192:
            out.write(b"\n".join(chunk) + b"\n")
            chunk.clear()
    if chunk:
        out.write(b"\n".join(chunk) + b"\n")
    return n
