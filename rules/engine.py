"""The rule mechanism: rules register for the event types (and roles) they fire on.

A rule is a small pure function of a ``Context`` returning decisions; ``evaluate`` runs
every rule registered for the context's event type and role. No engine imports here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rules.decisions import Decision
from rules.params import Params
from state.dates import Day
from state.events import Event
from state.family import FamilyCard
from state.person import PersonCard

__all__ = ["Context", "Rule", "rule", "evaluate", "has_rules", "registered_rules"]


@dataclass(slots=True, frozen=True)
class Context:
    """Everything a rule may look at: the event, the card it came with, and the family.

    ``person`` is the card the event arrived with: the subject's, or for a birth the
    mother's or father's (carrying that parent's children and contributions). It is None
    for family-level events (role ``family``, e.g. the quarterly ``quarter_start``).
    ``children_before`` is the number of living children in the family just before this
    update was applied (for rules that fire on a count crossing a threshold).
    ``family`` is the family after the update; a deceased member is still in it while the
    rules for the death run, and removed right after.
    """

    event: Event
    role: str
    person: PersonCard | None
    family: FamilyCard
    params: Params
    children_before: int | None = None

    @property
    def on(self) -> Day:
        return self.event.occurred_on

    @property
    def issued_on(self) -> Day:
        """contract §2: the day the registry knew (the date of ``recorded_at``), or the day the
        flow could first act on it when it arrived after that day's tick (``Event.open_day``)."""
        e = self.event
        return e.recorded_on if e.open_day is None or e.open_day <= e.recorded_on else e.open_day

    @property
    def card(self) -> PersonCard:
        """The card the event came with; only for rules that fire on a person's event."""
        if self.person is None:
            raise ValueError(f"{self.event.type} carries no person card")
        return self.person

    def rule_version(self, code: str) -> str:
        return f"{code}/{self.params.version_on(self.event.occurred_on)}"


RuleFn = Callable[[Context], Iterable[Decision]]


@dataclass(slots=True, frozen=True)
class Rule:
    code: str
    on: tuple[str, ...]
    role: str
    fn: RuleFn


_RULES: dict[tuple[str, str], list[Rule]] = defaultdict(list)


def rule(code: str, *, on: tuple[str, ...], role: str = "subject") -> Callable[[RuleFn], RuleFn]:
    """Register ``fn`` as the rule for ``code``, fired by the given event types and role."""

    def register(fn: RuleFn) -> RuleFn:
        r = Rule(code, on, role, fn)
        for event_type in on:
            _RULES[(event_type, role)].append(r)
        return fn

    return register


def registered_rules() -> list[Rule]:
    seen: dict[int, Rule] = {}
    for rules in _RULES.values():
        for r in rules:
            seen[id(r)] = r
    return sorted(seen.values(), key=lambda r: r.code)


def has_rules(event_type: str, role: str) -> bool:
    """Whether any rule fires on this event type and role (most updates fire none)."""
    return (event_type, role) in _RULES


def evaluate(ctx: Context) -> list[Decision]:
    out: list[Decision] = []
    for r in _RULES.get((ctx.event.type, ctx.role), ()):
        out.extend(r.fn(ctx))
    return out
