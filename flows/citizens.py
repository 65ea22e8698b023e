"""A citizen simulator: people answering the 1414 offers they receive.

Deterministic (a hash of the notification id decides), so a replay gives the same replies.
About 52 % consent — the Digital Family Card's 2025 take-up was 276.2 thousand of 529.6
thousand offers — 8 % refuse and the rest stay silent; most answer the day the SMS came or
the next, some only after the reminder. Used inside the embedded flow, and as its own
process against Kafka (``familycard simulate-citizens``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from state import dates

__all__ = ["reply_for", "CONSENT_SHARE", "REFUSAL_SHARE"]

CONSENT_SHARE = 0.52
REFUSAL_SHARE = 0.08
_CONSENT_WORDS: tuple[str, ...] = ("1", "иә", "да", "1", "Да ", "yes")
_REFUSAL_WORDS: tuple[str, ...] = ("2", "жоқ", "нет", "2")
_DELAY_DAYS = (0, 0, 0, 1, 1, 1, 2, 3)  # most answer at once; a few after the reminder


def _draw(nid: str, salt: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{nid}|{salt}".encode(), digest_size=8).digest(), "big")


def reply_for(offer: dict[str, Any]) -> dict[str, Any] | None:
    """The ``sms_reply`` a simulated citizen sends to an offer record, or None (silence)."""
    if offer.get("kind") != "offer" or not offer.get("phone"):
        return None
    nid = offer["notification_id"]
    u = _draw(nid, "answer") / 2**64
    if u < CONSENT_SHARE:
        words = _CONSENT_WORDS
    elif u < CONSENT_SHARE + REFUSAL_SHARE:
        words = _REFUSAL_WORDS
    else:
        return None
    text = words[_draw(nid, "word") % len(words)]
    delay = _DELAY_DAYS[_draw(nid, "delay") % len(_DELAY_DAYS)]
    day = min(dates.day(offer["issued_on"]) + delay, dates.day(offer["reply_by"]))
    hour = 9 + _draw(nid, "hour") % 12
    return {
        "event_id": f"sms-{nid[2:]}",
        "type": "sms_reply",
        "phone": offer["phone"],
        "in_reply_to": nid,
        "text": text,
        "received_at": f"{dates.iso(day)}T{hour:02d}:{_draw(nid, 'minute') % 60:02d}:00+05:00",
    }
