"""Builders for events and cards in unit tests: valid IINs, contract-shaped data."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from state import dates
from state.events import Event, Origin
from state.iin import make_iin

_serials = itertools.count(100)
_ids = itertools.count(1)


def iin_for(birth: str, sex: str) -> str:
    while True:
        value = make_iin(dt.date.fromisoformat(birth), sex, next(_serials))
        if value is not None:
            return value


def event(type_: str, subject: str, occurred: str, data: dict[str, Any] | None = None,
          recorded: str | None = None, event_id: str | None = None) -> Event:
    eid = event_id or f"t-{next(_ids)}"
    return Event(
        event_id=eid, type=type_, subject=subject,
        occurred_on=dates.day(occurred), recorded_on=dates.day(recorded or occurred),
        data=data or {}, origin=Origin("test", None, None, b"{}"),
    )


def registered(iin: str, birth: str, sex: str, family: str, on: str = "2025-12-31", **data: Any) -> Event:
    return event("person_registered", iin, on, {"birth_date": birth, "sex": sex, "family_id": family, **data})


ADULT_YEARS = 18  # rules/parameters.json adult_age_years (checked in tests/rules/test_rules_core.py)


def apply(card: Any, e: Event, role: str = "subject") -> Any:
    """``state.person.apply`` with the baseline adult age."""
    from state import person

    return person.apply(card, e, role, adult_years=ADULT_YEARS)
