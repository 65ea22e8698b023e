"""Per-person state: one immutable ``PersonCard`` per IIN and the pure ``apply`` that evolves it.

Cards are immutable by contract: ``apply`` returns a new card and never changes one it was
given, so a card handed to the family stage can be shared (never copied) and a recovery
snapshot is the card itself. Every field is something a rule reads; history that no rule
needs is not kept.

The class is not ``frozen=True`` only for speed: ``dataclasses.replace`` on a 30-field
frozen card cost ~27 us per event (profiled), while ``_evolve`` below copies the slots in
about 1 us and then sets the changed fields. Nothing outside this module assigns fields.

Out-of-order delivery is resolved by the events' own dates: a fact older than what the card
already holds (an earlier ruling, an older address change) never overwrites a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from state import dates
from state.dates import Day, Month
from state.events import Event

__all__ = ["PersonCard", "Ruling", "apply", "new_card", "ROLE_SUBJECT", "ROLE_MOTHER", "ROLE_FATHER"]

ROLE_SUBJECT = "subject"
ROLE_MOTHER = "mother"
ROLE_FATHER = "father"


@dataclass(slots=True, frozen=True)
class Ruling:
    """The latest disability ruling (medical-social expertise), kept after a revocation.

    ``since`` is the first day of the *episode*: a ruling decided while the previous one was
    still in force (a re-examination) continues it, so rights grounded in the disability are
    the same rights with new terms (rules.md §5a, "Superseded"); a ruling after a gap starts a
    new episode. ``revoked_on`` is set by a ``disability_revoked`` dated after the decision: the
    ruling stays on the card so that "was it in force on D?" can still be answered (targeted
    assistance is judged as of a quarter's first day, after the fact).
    """

    group: str
    cause: str
    loss_pct: int
    valid_until: Day | None
    decided_on: Day
    since: Day = 0          # 0: the episode starts with this ruling (``episode``)
    revoked_on: Day | None = None

    @property
    def episode(self) -> Day:
        return self.since or self.decided_on

    def in_force(self, on: Day) -> bool:
        return (self.decided_on <= on and (self.valid_until is None or on <= self.valid_until)
                and (self.revoked_on is None or on < self.revoked_on))


@dataclass(slots=True, eq=True)
class PersonCard:
    iin: str
    registered: bool = False
    registered_on: Day = 0
    birth: Day = 0
    adult_on: Day = 0  # the 18th birthday, kept because "is a child" is asked on every family update
    sex: str = ""
    family_id: str | None = None
    family_since: Day = 0
    mother_iin: str | None = None
    father_iin: str | None = None
    phone: str | None = None
    language: str = "kk"
    iban: str | None = None
    region: str | None = None
    contact_as_of: Day = 0
    died_on: Day | None = None
    children: tuple[str, ...] = ()
    contributions: dict[Month, int] = field(default_factory=dict)  # copied on write, never mutated
    employed_since: Day | None = None
    dismissed_on: Day | None = None
    dismissal_reason: str | None = None
    ruling: Ruling | None = None
    ruling_as_of: Day = 0
    disabled_before_18: bool = False
    pension_kzt: int | None = None
    unemployed_since: Day | None = None
    unemployed_until: Day | None = None
    awards: tuple[str, ...] = ()
    kandas_until: Day | None = None
    # Incremented by every event that changes the card: the order of a person's cards wherever
    # they travel (the rights ledger keeps the newest it has seen, from whichever family).
    version: int = 0

    @property
    def alive(self) -> bool:
        return self.died_on is None

    def age_on(self, on: Day) -> int:
        return dates.age_years(self.birth, on)

    def is_adult(self, on: Day) -> bool:
        return self.registered and on >= self.adult_on

    def income_in(self, month: Month) -> int:
        return self.contributions.get(month, 0)

    def contribution_months(self, first: Month, last: Month) -> list[tuple[Month, int]]:
        """Contribution months in ``[first, last]``, inclusive, in month order."""
        return sorted((m, i) for m, i in self.contributions.items() if first <= m <= last)

    def participation_months(self, up_to: Month) -> int:
        return sum(1 for m in self.contributions if m <= up_to)

    def is_unemployed(self, on: Day) -> bool:
        """Registered unemployed on ``on``: registered by then and not deregistered since the
        registration and by then (a deregistration dated before the registration ends an
        earlier spell)."""
        since, until = self.unemployed_since, self.unemployed_until
        return since is not None and since <= on and (until is None or until < since or on < until)


def _make_evolve() -> Any:
    names = [f.name for f in fields(PersonCard)]
    body = "\n".join(f"    new.{n} = card.{n}" for n in names)
    src = (
        "def _evolve(card, **changes):\n"
        "    new = _new(PersonCard)\n"
        f"{body}\n"
        "    for name, value in changes.items():\n"
        "        setattr(new, name, value)\n"
        "    return new\n"
    )
    scope: dict[str, Any] = {"_new": object.__new__, "PersonCard": PersonCard}
    exec(src, scope)  # noqa: S102 - generated from the dataclass's own field list
    return scope["_evolve"]


_evolve = _make_evolve()


def replace(card: PersonCard, **changes: Any) -> PersonCard:
    """A new card with ``changes``; the given card is left as it was."""
    return _evolve(card, **changes)  # type: ignore[no-any-return]


def new_card(iin: str) -> PersonCard:
    return PersonCard(iin=iin)


def apply(card: PersonCard, event: Event, role: str = ROLE_SUBJECT, *, adult_years: int) -> PersonCard:
    """The card after ``event``; ``role`` says whether the card is the event's subject or a parent.

    ``adult_years`` is the parameter ``adult_age_years`` (a child is under it): the card keeps
    the date its person becomes an adult, because "is a child" is asked on every family update.
    Duplicate handling is the caller's job (it must dead-letter them); ``apply`` itself is
    idempotent for every event type, so a duplicate that slipped through changes nothing.
    """
    if role != ROLE_SUBJECT:
        new = _apply_as_parent(card, event)
    elif event.type in ("person_registered", "birth"):
        new = (_registered if event.type == "person_registered" else _born)(card, event, adult_years)
    else:
        handler = _HANDLERS.get(event.type)
        new = card if handler is None else handler(card, event)
    if new is not card:
        new.version = card.version + 1  # a fresh card, not yet shared
    return new


def _apply_as_parent(card: PersonCard, event: Event) -> PersonCard:
    child = event.subject
    if child in card.children:
        return card
    return replace(card, children=card.children + (child,))


def _registered(card: PersonCard, e: Event, adult_years: int) -> PersonCard:
    d = e.data
    moved = card.family_id is None or e.occurred_on >= card.family_since
    newer_contact = e.occurred_on >= card.contact_as_of
    return replace(
        card,
        registered=True,
        registered_on=card.registered_on or e.occurred_on,
        birth=dates.day(d["birth_date"]),
        adult_on=dates.birthday_on(dates.day(d["birth_date"]), adult_years),
        sex=d["sex"],
        family_id=d["family_id"] if moved else card.family_id,
        family_since=e.occurred_on if moved else card.family_since,
        mother_iin=d.get("mother_iin", card.mother_iin),
        father_iin=d.get("father_iin", card.father_iin),
        phone=d.get("phone", card.phone) if newer_contact else card.phone,
        language=d.get("language", card.language) if newer_contact else card.language,
        iban=d.get("iban", card.iban) if newer_contact else card.iban,
        region=d.get("region", card.region),
        contact_as_of=max(card.contact_as_of, e.occurred_on),
    )


def _born(card: PersonCard, e: Event, adult_years: int) -> PersonCard:
    d = e.data
    return replace(
        card,
        registered=True,
        registered_on=card.registered_on or e.occurred_on,
        birth=e.occurred_on,
        adult_on=dates.birthday_on(e.occurred_on, adult_years),
        sex=d["sex"],
        family_id=d["family_id"],
        family_since=e.occurred_on,
        mother_iin=d["mother_iin"],
        father_iin=d.get("father_iin"),
    )


def _family_changed(card: PersonCard, e: Event) -> PersonCard:
    if card.family_id is not None and e.occurred_on < card.family_since:
        return card  # an older move arriving late: the newer membership stands
    return replace(card, family_id=e.data["family_id"], family_since=e.occurred_on)


def _contact_changed(card: PersonCard, e: Event) -> PersonCard:
    if e.occurred_on < card.contact_as_of:
        return card
    d = e.data
    return replace(
        card,
        phone=d.get("phone", card.phone),
        language=d.get("language", card.language),
        iban=d.get("iban", card.iban),
        contact_as_of=e.occurred_on,
    )


def _death(card: PersonCard, e: Event) -> PersonCard:
    return card if card.died_on is not None else replace(card, died_on=e.occurred_on)


def _employment_started(card: PersonCard, e: Event) -> PersonCard:
    if card.employed_since is not None and e.occurred_on < card.employed_since:
        return card
    return replace(card, employed_since=e.occurred_on)


def _dismissal(card: PersonCard, e: Event) -> PersonCard:
    if card.dismissed_on is not None and e.occurred_on < card.dismissed_on:
        return card
    return replace(card, dismissed_on=e.occurred_on, dismissal_reason=e.data["reason"])


def _contribution(card: PersonCard, e: Event) -> PersonCard:
    month = dates.parse_month(e.data["month"])
    income = int(e.data["income_kzt"])
    if card.contributions.get(month) == income:
        return card
    months = dict(card.contributions)  # copy on write: the old card may be shared
    months[month] = income
    return replace(card, contributions=months)


def _disability_ruling(card: PersonCard, e: Event) -> PersonCard:
    if e.occurred_on < card.ruling_as_of:
        return card
    d = e.data
    until = d.get("valid_until")
    on = e.occurred_on
    previous = card.ruling
    # A re-examination decided while (or the day after) the previous ruling was in force
    # continues its episode; after a gap or a revocation a new episode starts.
    continues = previous is not None and (previous.in_force(on) or previous.in_force(on - 1))
    ruling = Ruling(
        group=d["group"],
        cause=d["cause"],
        loss_pct=int(d["loss_of_working_capacity_pct"]),
        valid_until=dates.day(until) if until else None,
        decided_on=on,
        since=previous.episode if continues and previous is not None and previous.episode != on else 0,
    )
    before_18 = card.disabled_before_18 or d["group"] == "child" or d["cause"] == "since_childhood"
    return replace(card, ruling=ruling, ruling_as_of=e.occurred_on, disabled_before_18=before_18)


def _disability_revoked(card: PersonCard, e: Event) -> PersonCard:
    """A revocation dated before the ruling on the card is older news: it changes nothing."""
    ruling = card.ruling
    if e.occurred_on < card.ruling_as_of or ruling is None or ruling.revoked_on is not None:
        return card
    revoked = Ruling(ruling.group, ruling.cause, ruling.loss_pct, ruling.valid_until, ruling.decided_on, ruling.since,
                     e.occurred_on)
    return replace(card, ruling=revoked, ruling_as_of=e.occurred_on)


def _award(card: PersonCard, e: Event) -> PersonCard:
    award = e.data["award"]
    return card if award in card.awards else replace(card, awards=card.awards + (award,))


def _kandas(card: PersonCard, e: Event) -> PersonCard:
    until = dates.day(e.data["valid_until"])
    if card.kandas_until is not None and until <= card.kandas_until:
        return card
    return replace(card, kandas_until=until)


def _pension(card: PersonCard, e: Event) -> PersonCard:
    return replace(card, pension_kzt=int(e.data["monthly_amount_kzt"]))


def _unemployed_registered(card: PersonCard, e: Event) -> PersonCard:
    if card.unemployed_since is not None and e.occurred_on < card.unemployed_since:
        return card
    return replace(card, unemployed_since=e.occurred_on)


def _unemployed_deregistered(card: PersonCard, e: Event) -> PersonCard:
    if card.unemployed_until is not None and e.occurred_on < card.unemployed_until:
        return card
    return replace(card, unemployed_until=e.occurred_on)


_HANDLERS = {  # person_registered and birth: in ``apply`` (they need the adult age)
    "family_changed": _family_changed,
    "contact_changed": _contact_changed,
    "death": _death,
    "employment_started": _employment_started,
    "dismissal": _dismissal,
    "contribution": _contribution,
    "disability_ruling": _disability_ruling,
    "disability_revoked": _disability_revoked,
    "award": _award,
    "kandas_status": _kandas,
    "pension_assigned": _pension,
    "unemployed_registered": _unemployed_registered,
    "unemployed_deregistered": _unemployed_deregistered,
}
