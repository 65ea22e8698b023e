"""The decoded, validated form of one input message, as the domain sees it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from state.dates import Day

__all__ = [
    "Event", "Origin", "LIFE_EVENT_TYPES", "TRIGGERLESS_TYPES", "WAKE_TYPES", "RETIREMENT_AGE", "TURNS_18",
    "KANDAS_NOTICE_DUE", "RULING_EXPIRED", "QUARTER_START", "BIRTH_CHECK", "DAY_END", "DAY_END_TYPES", "wake_event",
    "tick_data", "processed_tick",
]

LIFE_EVENT_TYPES = frozenset({
    "person_registered", "family_changed", "contact_changed", "birth", "death",
    "employment_started", "dismissal", "contribution", "disability_ruling",
    "disability_revoked", "award", "kandas_status", "pension_assigned",
    "unemployed_registered", "unemployed_deregistered",
})

# Internal event types, made by the flow's event-time calendar from ``day`` ticks, never
# read from input. Each is dated by the tick that fired it (occurred_on = recorded_on = D).
RETIREMENT_AGE = "retirement_age"          # the subject reaches retirement age on D
TURNS_18 = "turns_18"                      # the subject turns 18 on D
KANDAS_NOTICE_DUE = "kandas_notice_due"    # D = the subject's kandas valid_until - 30 days
RULING_EXPIRED = "ruling_expired"          # D = the day after the subject's ruling's valid_until
QUARTER_START = "quarter_start"            # D = the first day of a quarter; role "family"
BIRTH_CHECK = "birth_check"                # D = the recorded day of a child's birth: the subject is the mother
DAY_END = "day_end"                        # D = the day a fact that waits for its day's end was read
WAKE_TYPES = frozenset({RETIREMENT_AGE, TURNS_18, KANDAS_NOTICE_DUE, RULING_EXPIRED, QUARTER_START, BIRTH_CHECK,
                        DAY_END})
# Facts whose rules read what else the subject's registries record that day (a new job of the
# same date, the day's contributions): they are decided at the day's end (rules.md §5a).
DAY_END_TYPES = frozenset({"dismissal", "unemployed_registered"})

# rules.md §5: a population load must not offer every existing family its benefits again.
TRIGGERLESS_TYPES = frozenset({"person_registered", "contact_changed"})


@dataclass(slots=True, frozen=True)
class Origin:
    """Where a message came from, so any later stage can dead-letter it with its raw text.

    ``seq`` is the message's position in the source's single, event-date-aligned read order:
    stages that merge several keys' outputs (the family stage) apply them in this order.
    ``timestamp_ms`` is the Kafka message timestamp (None from files); the end-to-end latency
    metrics measure from it (``flows.metrics``).
    """

    topic: str
    partition: int | None
    offset: int | None
    raw: bytes
    seq: int = 0
    timestamp_ms: int | None = None


@dataclass(slots=True, frozen=True)
class Event:
    """A life event, a day tick or an SMS reply, after decoding and validation.

    ``subject`` is the IIN for life events, the phone for ``sms_reply`` and empty for ``day``.
    ``recorded_on`` is the local (Kazakhstan, UTC+5) date of ``recorded_at`` (the day the
    registry knew), which is the ``issued_on`` of anything the event triggers. ``open_day`` is
    the day the flow was in when the source released the message (the day after the last
    ``day`` tick it had released; None before the first): a message that arrives after its
    recorded day's tick is acted on as of ``open_day`` (an offer's reply window starts then).
    """

    event_id: str
    type: str
    subject: str
    occurred_on: Day
    recorded_on: Day
    data: Mapping[str, Any] = field(default_factory=dict)
    origin: Origin | None = None
    open_day: Day | None = None

    @property
    def delay_days(self) -> int:
        return self.recorded_on - self.occurred_on


def tick_data(raw: Any) -> dict[str, Any]:
    """A ``day`` tick's ``data``: what the source says of it beside the date — its ``phase``
    (1: life-event timers, 2: offer timers), ``first`` (the first tick the source released
    since it started: the calendar catches up on what was due before it) and ``filled`` (the
    source made it up for a day the scheduler skipped)."""
    data: dict[str, Any] = {"phase": raw.phase}
    if raw.first_tick:
        data["first"] = True
    if raw.filled:
        data["filled"] = True
    return data


def wake_event(kind: str, target: str, tick: Event) -> Event:
    """The internal event a ``day`` tick makes for one due target (dated by the tick)."""
    on = tick.occurred_on
    return Event(f"{kind}:{target}:{on}", kind, target, on, on, {}, tick.origin)


def processed_tick(on: Day) -> Event:
    """Stands in for the tick of ``on``, already processed, when a timer or an offer is made
    after its date and has no event of its own to be ordered by."""
    return Event(f"day-{on}", "day", "", on, on, {}, None)
