"""One person's slot (``PersonSlot``: card, held facts, deduplication memory) and what it
answers an event with (``PersonOutput``: a ``MemberUpdate`` for a family, or a ``Rejection``):
deduplicate, apply, and tell the families what changed.

Engine-free so it can be unit tested; the person stage in ``flows/`` only keys messages by
IIN and calls ``PersonSlot.on_event``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from state import dates
from state.dates import Day
from state.events import BIRTH_CHECK, DAY_END, DAY_END_TYPES, TRIGGERLESS_TYPES, WAKE_TYPES, Event
from state.family import MemberUpdate
from state.person import ROLE_MOTHER, ROLE_SUBJECT, PersonCard, apply, new_card
from state.seen import EMPTY as NOTHING_SEEN
from state.seen import Seen

__all__ = ["PersonSlot", "PersonSettings", "Rejection", "PersonOutput", "Seen", "remember", "DEDUP_DAYS", "MAX_HELD"]


@dataclass(slots=True, frozen=True)
class Rejection:
    """An input the domain refuses, with the contract's dead-letter code."""

    event: Event
    code: str
    message: str
    path: str = ""


PersonOutput = MemberUpdate | Rejection


@dataclass(slots=True, frozen=True)
class PersonSettings:
    """The parameters the person stage applies: ``late_record_days`` (a later record updates
    state but fires nothing) and ``adult_age_years`` (a child is under it)."""

    late_record_days: int
    adult_years: int


@dataclass(slots=True)
class PersonSlot:
    """One person's card, the events held while the person is not yet registered, and the
    event ids already processed (``seen``, the deduplication memory).

    Facts may arrive before the ``person_registered`` that introduces their subject (topics
    are read interleaved). They are applied at once and held; registration releases them to
    the family as if they had come after it. Whatever is still held when the input ends is
    reported as ``unknown_person`` (``held_rejections``), so nothing disappears silently.

    ``seen`` lives here, not on the card: cards travel to the family stage and are kept in
    every family's replica, and only this stage reads it. It is immutable (``Seen``), so a
    snapshot may share it, like the card.
    """

    card: PersonCard
    held: list[Event] = field(default_factory=list)
    seen: Seen = field(default_factory=lambda: NOTHING_SEEN)

    @classmethod
    def empty(cls, iin: str) -> PersonSlot:
        return cls(new_card(iin))

    def on_event(self, event: Event, role: str, settings: PersonSettings) -> list[PersonOutput]:
        late_record_days = settings.late_record_days
        card = self.card
        if event.type == BIRTH_CHECK:
            # The day a birth was recorded is over and the mother never registered that day:
            # her children's birth rules run now, with what is known (rules.md §5a: within a
            # day, order does not matter; the guardian may be the father or another adult).
            return self._release_births()
        if event.type == DAY_END:
            return self._release_day(event.occurred_on)
        if event.type in WAKE_TYPES:
            # A date-driven rule for this person: only the living, registered ones matter;
            # the calendar may hold people who since died or were never registered.
            if not card.registered or not card.alive or card.family_id is None:
                return []
            return [MemberUpdate(card.family_id, card.iin, card, event, ROLE_SUBJECT, fire=True)]
        if event.event_id in self.seen:
            if role != ROLE_SUBJECT:
                return []  # the subject's own key reports the duplicate once
            return [Rejection(event, "duplicate", f"event_id {event.event_id!r} was already processed", "event_id")]

        before = card
        card = apply(card, event, role, adult_years=settings.adult_years)
        self.seen = remember(self.seen, event.event_id, event.recorded_on)
        self.card = card

        if role != ROLE_SUBJECT:
            family_id = event.data.get("family_id")
            if not family_id or event.type != "birth":
                return []
            fire = _fires(event, late_record_days)
            if fire and role == ROLE_MOTHER and not card.registered:
                # The birth rules read the mother's card (her other children, her insurance):
                # wait for her registration (often read later the same day) or the day's end.
                self.held.append(event)
                return []
            if fire and role == ROLE_MOTHER and _siblings(event) > 1:
                # A multiple birth: each twin's birth order depends on the others (by IIN), so
                # their rules run once all of them are known, or at the day's end.
                self.held.append(event)
                together = [e for e in self.held if _same_birth(e, event)]
                if len(together) < _siblings(event):
                    return []
                self.held = [e for e in self.held if not _same_birth(e, event)]
                return [_birth_update(card, b) for b in sorted(together, key=lambda e: e.subject)]
            return [MemberUpdate(family_id, card.iin, card, event, role, fire=fire)]

        if not card.registered:
            self.held.append(event)
            if len(self.held) > MAX_HELD:  # bounded: the oldest fact waits no longer
                return [_unknown(self.held.pop(0))]
            return []

        if event.type in DAY_END_TYPES and _fires(event, late_record_days) and card.family_id is not None:
            # decided at the day's end (its DAY_END timer), on the day's whole card
            self.held.append(event)
            if len(self.held) > MAX_HELD:
                return self._release_day(None)
            return []
        out: list[PersonOutput] = []
        if before.registered and before.family_id and before.family_id != card.family_id:
            # the leave carries the new card: the old family's rules see where the person went
            out.append(MemberUpdate(before.family_id, card.iin, card, event, role,
                                    fire=_fires(event, late_record_days)))
        assert card.family_id is not None
        released, self.held = self.held, []
        if before.registered:  # what waits now waits for its day's end, not for a registration
            self.held = [e for e in released if e.subject == card.iin and e.type in DAY_END_TYPES]
            released = [e for e in released if not (e.subject == card.iin and e.type in DAY_END_TYPES)]
        births = []
        for held in released:
            if held.subject != card.iin:  # a child's birth waiting for this mother
                births.append(held)
                continue
            out.append(MemberUpdate(card.family_id, card.iin, card, held, role, fire=_fires(held, late_record_days)))
        out.append(MemberUpdate(card.family_id, card.iin, card, event, role, fire=_fires(event, late_record_days)))
        # after her own registration reached her family; twins together, by IIN
        out.extend(_birth_update(card, b) for b in sorted(births, key=lambda e: (e.occurred_on, e.subject)))
        return out

    def _release_day(self, until: Day | None) -> list[PersonOutput]:
        """The facts that waited for their day's end (read by ``until``; None: all), in event
        order, with the card as the whole day left it."""
        card = self.card
        if not card.registered or card.family_id is None:
            return []  # not held for the day then (``on_event`` holds them only in a family)
        due = [e for e in self.held if e.subject == card.iin and e.type in DAY_END_TYPES
               and (until is None or _read_on(e) <= until)]
        if not due:
            return []
        gone = {id(e) for e in due}
        self.held = [e for e in self.held if id(e) not in gone]
        return [MemberUpdate(card.family_id, card.iin, card, e, ROLE_SUBJECT, fire=True)
                for e in sorted(due, key=lambda e: (e.occurred_on, e.recorded_on, e.event_id))]

    def _release_births(self) -> list[PersonOutput]:
        births = [e for e in self.held if e.subject != self.card.iin]
        if not births:
            return []
        self.held = [e for e in self.held if e.subject == self.card.iin]
        return [_birth_update(self.card, b) for b in sorted(births, key=lambda e: (e.occurred_on, e.subject))]

    def held_facts(self) -> int:
        """Input facts about this person waiting here (for a registration or their day's end);
        a child's birth held for this mother is the child's input, counted there."""
        iin = self.card.iin
        return sum(1 for e in self.held if e.subject == iin) if self.held else 0

    def expire_held(self, on: Day, days: int) -> list[PersonOutput]:
        """Facts about a person nobody registered, read more than ``days`` before ``on``: dead-
        lettered ``unknown_person`` now, not only when a finite input ends (issue 13: nothing
        waits forever unseen). A registered person's facts wait only for their day's end."""
        if self.card.registered or not self.held:
            return []
        iin = self.card.iin
        due = [e for e in self.held if e.subject == iin and _read_on(e) + days < on]
        if not due:
            return []
        gone = {id(e) for e in due}
        self.held = [e for e in self.held if id(e) not in gone]
        return [Rejection(e, "unknown_person", f"no person_registered or birth for IIN {iin} within {days} days "
                          f"of this fact (read {dates.iso(_read_on(e))})", "iin") for e in due]

    def held_rejections(self) -> list[PersonOutput]:
        """Called when the input ends: facts about a person nobody registered are dead-lettered;
        a child's birth still waiting for this (unregistered) mother runs its rules now."""
        births = self._release_births() + self._release_day(None)
        out: list[PersonOutput] = [_unknown(e) for e in self.held]
        self.held = []
        return births + out


# State bounds (docs/DESIGN.md, "State and its bounds").
DEDUP_DAYS = 400   # an event_id is remembered while its recorded date is within this of the newest
MAX_HELD = 32      # facts held for one unregistered IIN; older ones are dead-lettered


def remember(seen: Seen, event_id: str, on: Day) -> Seen:
    """``seen`` plus ``event_id``; beyond 16 ids, those dated more than DEDUP_DAYS before the
    newest are dropped."""
    return seen.add(event_id, on, DEDUP_DAYS, 16)


def _read_on(e: Event) -> Day:
    """The day the flow read ``e``: its record's day, or the first day not yet ticked."""
    return e.recorded_on if e.open_day is None else max(e.recorded_on, e.open_day)


def _siblings(birth: Event) -> int:
    """How many children the birth record says were born together (``multiple_birth``)."""
    n = birth.data.get("multiple_birth", 1)
    return n if isinstance(n, int) and n > 0 else 1


def _same_birth(e: Event, birth: Event) -> bool:
    """``e`` is a held birth of the same delivery as ``birth`` (same mother, same day)."""
    return (e.type == "birth" and e.occurred_on == birth.occurred_on
            and e.data.get("mother_iin") == birth.data.get("mother_iin"))


def _birth_update(mother: PersonCard, birth: Event) -> MemberUpdate:
    return MemberUpdate(birth.data["family_id"], mother.iin, mother, birth, ROLE_MOTHER, fire=True)


def _unknown(e: Event) -> Rejection:
    return Rejection(e, "unknown_person", f"no person_registered or birth for IIN {e.subject}", "iin")


def _fires(event: Event, late_record_days: int) -> bool:
    if event.type in TRIGGERLESS_TYPES:
        return False
    return event.delay_days <= late_record_days
