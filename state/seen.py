"""A person's deduplication memory, packed: event ids with the dates they were recorded.

Every person keeps one (``state.person_slot.PersonSlot.seen``), ~30 ids at steady state
(``DEDUP_DAYS``), so its size is most of what a person's state pickles to. As a dict it
cost ~19 bytes an id pickled and ~150 bytes of heap; packed it is the id, one separator
and two bytes for the date, in two flat objects the cyclic GC does not traverse:

- ``ids`` is ``"\\0id1\\0id2\\0"``: membership is one substring search. An id that contains
  NUL or starts with \\x01 is stored as \\x01 + the hex of its UTF-8 (injective, NUL-free);
- ``days`` holds each id's recorded date, in the same order, as a little-endian uint16 of
  days since 1970-01-01 (dates up to 2149), or, when some date is outside that range
  (``wide``), as little-endian int64 ordinals.

Immutable: ``add`` returns a new ``Seen``; a slot may be shared with a snapshot.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from state.dates import Day
from state.packing import from_le_bytes, le_bytes

__all__ = ["Seen", "EPOCH"]

EPOCH = 719163  # date(1970, 1, 1).toordinal(): day 0 of the narrow encoding
_SPAN = 0xFFFF
_SEP = "\x00"
_ESC = "\x01"


def _key(event_id: str) -> str:
    if _SEP in event_id or event_id[:1] == _ESC:
        return _ESC + event_id.encode("utf-8", "surrogatepass").hex()
    return event_id


def _unkey(key: str) -> str:
    return bytes.fromhex(key[1:]).decode("utf-8", "surrogatepass") if key[:1] == _ESC else key


def _array(days: bytes, wide: bool) -> array:
    return from_le_bytes("q" if wide else "H", days)


@dataclass(slots=True, eq=False)
class Seen:
    """Event id -> recorded date, packed (see the module doc). Equal when the mappings are.

    Never changed once made (``add`` returns a new one), so slots and snapshots may share
    one; not ``frozen`` only because building a frozen object costs more (one per event).
    """

    ids: str = ""
    days: bytes = b""
    wide: bool = False

    @staticmethod
    def of(items: Mapping[str, Day] | Iterable[tuple[str, Day]]) -> Seen:
        pairs = dict(items.items() if isinstance(items, Mapping) else items)
        return _pack([_key(k) for k in pairs], list(pairs.values()))

    def __contains__(self, event_id: object) -> bool:
        if event_id.__class__ is not str:
            return False
        if _SEP in event_id or event_id[:1] == _ESC:  # type: ignore[index, operator]
            event_id = _key(event_id)  # type: ignore[arg-type]
        return _SEP + event_id + _SEP in self.ids  # type: ignore[operator]

    def __len__(self) -> int:
        return len(self.days) >> (3 if self.wide else 1)

    def get(self, event_id: str) -> Day | None:
        return dict(self.items()).get(event_id)

    def items(self) -> list[tuple[str, Day]]:
        if not self.ids:
            return []
        days = _array(self.days, self.wide)
        offset = 0 if self.wide else EPOCH
        return [(_unkey(k), offset + d) for k, d in zip(self.ids[1:-1].split(_SEP), days)]

    def add(self, event_id: str, on: Day, keep_days: int, keep_at_least: int) -> Seen:
        """With ``event_id`` recorded on ``on``; once there are more than ``keep_at_least``
        ids, those recorded more than ``keep_days`` before the newest are dropped."""
        key = _key(event_id) if _SEP in event_id or event_id[:1] == _ESC else event_id
        ids, days = self.ids, self.days
        off = on - EPOCH
        if ids and not self.wide and 0 <= off <= _SPAN and _SEP + key + _SEP not in ids:
            ids += key + _SEP  # the usual case: a new id, a date in range
            days += off.to_bytes(2, "little")
            if len(days) <= 2 * keep_at_least:
                return _make(ids, days)
            offsets = _array(days, False)
            cutoff = max(offsets) - keep_days
            if min(offsets) >= cutoff:
                return _make(ids, days)
            kept = [(k, EPOCH + d) for k, d in zip(ids[1:-1].split(_SEP), offsets) if d >= cutoff]
            return _pack([k for k, _ in kept], [d for _, d in kept])
        pairs = {k: d for k, d in zip(ids[1:-1].split(_SEP), _absolute(self))} if ids else {}
        pairs[key] = on
        if len(pairs) > keep_at_least:
            cutoff = max(pairs.values()) - keep_days
            pairs = {k: d for k, d in pairs.items() if d >= cutoff}
        return _pack(list(pairs), list(pairs.values()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Seen):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Seen({dict(self.items())!r})"


def _absolute(seen: Seen) -> list[Day]:
    days = _array(seen.days, seen.wide)
    return list(days) if seen.wide else [EPOCH + d for d in days]


def _pack(keys: list[str], days: list[Day]) -> Seen:
    if not keys:
        return EMPTY
    ids = _SEP + _SEP.join(keys) + _SEP
    if min(days) >= EPOCH and max(days) - EPOCH <= _SPAN:
        return _make(ids, le_bytes(array("H", [d - EPOCH for d in days])))
    return _make(ids, le_bytes(array("q", days)), True)


_new = object.__new__


def _make(ids: str, days: bytes, wide: bool = False) -> Seen:
    """``Seen(ids, days, wide)`` without ``__init__``'s cost (one per event)."""
    seen = _new(Seen)
    seen.ids, seen.days, seen.wide = ids, days, wide
    return seen


EMPTY = Seen()
