"""Notification ids: an offer's own, and the ids of what follows from it, which name it.

contract §2: ``notification_id`` is ``n-<stable hash>``, a pure function of (recipient, code,
occasion). An offer's id is ``n-`` and 20 hex digits (``base``). Everything that follows from
one offer — its reminder, its withdrawal, an offer again at a new amount (rules.md §5a), a
change of a running benefit — has an id of ``n-``, the offer's 20 digits, a 2-digit tag and 4
digits of a hash of what distinguishes it. So a reply that names a reminder (or a renewed
offer) finds the offer it is about without any lookup (``base_of``), in a stateless router.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["offer_id", "derived", "base_of", "REMINDER_TAG", "WITHDRAWAL_TAG", "RENEWAL_TAG", "CHANGE_TAG"]

REMINDER_TAG, WITHDRAWAL_TAG, RENEWAL_TAG, CHANGE_TAG = 1, 2, 3, 4

_ID = re.compile(r"^n-([0-9a-f]{20})(?:[0-9a-f]{6})?$")


def offer_id(basis: str) -> str:
    """``n-`` and 20 hex digits of a hash of ``basis`` (recipient | code | occasion)."""
    return "n-" + hashlib.blake2b(basis.encode(), digest_size=10).hexdigest()


def derived(base: str, tag: int, salt: str) -> str:
    """The id of something that follows from the offer ``base`` (its reminder, withdrawal, ...)."""
    root = base_of(base) or base
    return f"{root}{tag:02x}" + hashlib.blake2b(f"{root}|{tag}|{salt}".encode(), digest_size=2).hexdigest()


def base_of(nid: str) -> str | None:
    """The offer id a notification id names (itself for an offer), or None if it is not ours."""
    m = _ID.match(nid)
    return None if m is None else "n-" + m.group(1)
