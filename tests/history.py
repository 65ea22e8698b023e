"""A small language for hand-written histories: registry messages, ticks and SMS replies.

Each helper returns a message exactly as a registry would publish it (contract.md), so a
history can be fed to ``tests.inprocess.Pipeline`` or written to a file for ``familycard run``.
Tick days with ``days(first, last)``; a reply needs the notification it answers, so scenarios
feed in steps and read the pipeline's notifications between them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import orjson

from tests.factories import iin_for

_ids = itertools.count(1)


def person(birth: str, sex: str) -> str:
    """A valid IIN for a person born on ``birth``."""
    return iin_for(birth, sex)


def ev(type_: str, iin: str, on: str, data: dict[str, Any] | None = None, *, recorded: str | None = None,
       eid: str | None = None) -> dict[str, Any]:
    """An event of ``type_`` about ``iin`` that occurred on ``on``, recorded that day at 09:15 (or on
    ``recorded``: a date, or a full instant)."""
    at = recorded or on
    if len(at) == 10:
        at = f"{at}T09:15:00+05:00"
    return {"event_id": eid or f"h-{next(_ids)}", "type": type_, "iin": iin, "occurred_on": on,
            "recorded_at": at, "data": data or {}}


def reg(iin: str, birth: str, sex: str, family: str, on: str = "2025-12-31", **data: Any) -> dict[str, Any]:
    phone = data.pop("phone", "+7701" + iin[-7:])
    return ev("person_registered", iin, on, {"birth_date": birth, "sex": sex, "family_id": family,
                                             "phone": phone, "language": "kk", **data})


def day(on: str) -> dict[str, Any]:
    return {"event_id": f"day-{on}", "type": "day", "occurred_on": on}


def days(first: str, last: str) -> list[dict[str, Any]]:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [day((a + dt.timedelta(days=i)).isoformat()) for i in range((b - a).days + 1)]


def contributions(iin: str, first: str, last: str, income: int = 400_000) -> list[dict[str, Any]]:
    """Monthly contributions for months ``first``..``last`` (YYYY-MM), each recorded on the month's 25th."""
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        month = f"{y:04d}-{m:02d}"
        out.append(ev("contribution", iin, f"{month}-25", {"month": month, "income_kzt": income,
                                                          "social_contribution_kzt": income * 5 // 100}))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def reply(note: dict[str, Any], text: str, at: str) -> dict[str, Any]:
    """The SMS a citizen sends to ``note`` (an offer or its reminder) at instant ``at`` ("YYYY-MM-DD" = 12:00)."""
    if len(at) == 10:
        at = f"{at}T12:00:00+05:00"
    return {"event_id": f"sms-{next(_ids)}", "type": "sms_reply", "phone": note["phone"],
            "in_reply_to": note["notification_id"], "text": text, "received_at": at}


def lines(messages: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(m) for m in messages]
