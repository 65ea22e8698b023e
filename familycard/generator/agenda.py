"""The period's agenda: what is to happen on which day, and which records each day emits.

Two queues, both keyed by day. ``agenda`` holds *actions* (a birth, a dismissal, …) that
``plan`` or an earlier action scheduled; ``buckets`` holds the *records* the registries
will publish, filed under the day of their ``recorded_at`` (an event can be recorded days,
or more than a month, after it occurred). The day loop (``period.py``) drains both, and
``_emission_order`` fixes the order within a day: by ``(occurred_on, recorded_at)``.
"""

from __future__ import annotations

from typing import Any

from familycard.generator.reference import LATE_SHARE
from familycard.generator.wire import _N_TIMES, _Wire
from familycard.generator.world import Message

# The actions of the agenda, indices into the handler table of ``_Period.period``.
(_BIRTH, _DEATH, _RULING, _REVOKE, _PENSION, _RETIRE, _DISMISS, _REGISTER, _HIRE, _DEREGISTER, _CONTACT,
 _KANDAS, _KANDAS_GRANT, _AWARD, _MARRY) = range(15)


def _emission_order(entry: tuple[int, int, Message]) -> tuple[int, int]:
    return entry[0], entry[1]


class _Agenda(_Wire):
    """Scheduling for ``_World``: actions by day, and records by the day they are recorded."""

    __slots__ = ()

    def schedule(self, day: int, action: int, pid: int, arg: Any = None) -> None:
        if self.start <= day <= self.end:
            self.agenda.setdefault(day, []).append((action, pid, arg))

    def delay(self) -> int:
        """Days from occurrence to record: mostly the same day, ~0.5 % more than 30 days late."""
        u = self.r.random()
        if u < LATE_SHARE:
            return 31 + int(self.r.random() * 30)
        if u < 0.70:
            return 0
        if u < 0.85:
            return 1
        if u < 0.95:
            return 2
        return 3

    def emit(self, prefix: str, etype: str, pid: int, occurred: int, data: dict[str, Any],
             delay: int | None = None, at: tuple[int, int] | None = None) -> tuple[int, int]:
        """Queue an event for the day the registry records it; returns (record day, time slot).

        Nothing about a person is recorded before the registry knew the person (a newborn's
        birth record), so no consumer meets an event for an unknown IIN.
        """
        person = self.people[pid]
        if at is None:
            rec = occurred + (self.delay() if delay is None else delay)
            rec = max(rec, person.known)
            at = (rec, int(self.r.random() * _N_TIMES))
        rec, slot = at
        if rec <= self.end:
            msg = self.message(prefix, etype, pid, occurred, self.recorded_at(rec, slot), data)
            bucket = self.buckets.get(rec)
            if bucket is None:
                bucket = self.buckets[rec] = []
            bucket.append((occurred, slot, msg))
        return at
