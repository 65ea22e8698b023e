"""The state one generation run shares between its concerns: the people and the run's books.

``_World`` (``stream.py``) is one object assembled from one mixin per concern (``ids``,
``population``, ``wire``, ``agenda``, ``load``, ``events``, ``period``). They all read and
write the same state, so it is declared once, here, as a slotted dataclass, and every mixin
adds methods only (``__slots__ = ()``): one instance layout and no per-instance ``__dict__``,
so attribute access stays as cheap as in the one-class original (the period touches these
fields millions of times), and ``_World(r, families, start, end, part=, parts=, total=)``,
the constructor the tests use, is unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from familycard.generator.reference import _SUBSCRIBERS

Message = dict[str, Any]


@dataclass(slots=True)
class _Person:
    """What the simulation must remember about one person; slots keep 300 000 of them small."""

    iin: str
    born: int                 # ordinal
    male: bool
    adult_on: int             # 18th birthday
    retire: int               # the day retirement age is reached
    family: int               # index; the wire id is F-<index+1>
    mother: int = -1          # person index, -1 = not in the data
    father: int = -1
    partner: int = -1
    language: str = "kk"
    region: int = 0
    phone: str | None = None
    iban: str | None = None
    alive: bool = True
    known: int = 0            # the day the registry first knew the person (events wait for it)
    employer: int = -1        # index into the employers, -1 = not employed
    wage: int = 0
    hired: int = 0            # first day paid by the current employer
    unemployed: bool = False  # registered as unemployed
    pensioned: bool = False
    kids: list[int] | None = None
    disability: tuple[str, str, int, int] | None = None  # group, cause, pct, valid_until (_NEVER)
    award: str | None = None


@dataclass(slots=True)
class _State:
    """The population and the event agenda of one generation run (the fields of ``_World``)."""

    r: random.Random
    families: int
    start: int                        # first day of the period (ordinal)
    end: int                          # last day of the period (ordinal)
    part: int = 0                     # this part's index K of ``parts`` (module docstring)
    parts: int = 1
    total: int = -1                   # families of all parts together (-1: ``families``, one part)
    tag: str = ""                     # event-id suffix of the prefix: the part when ``parts`` > 1
    phone_slots: int = _SUBSCRIBERS   # subscriber numbers of this part: part + parts * slot
    people: list[_Person] = field(default_factory=list)
    members: list[list[int]] = field(default_factory=list)  # person indices by family, dead included
    serials: dict[tuple[int, bool], int] = field(default_factory=dict)
    phones: set[str] = field(default_factory=set)
    employers: list[str] = field(default_factory=list)
    employer_cum: list[float] = field(default_factory=list)
    employed: dict[int, None] = field(default_factory=dict)        # an ordered set
    ended: list[tuple[int, int, int, int]] = field(default_factory=list)  # pid, first, last, wage
    agenda: dict[int, list[tuple[int, int, Any]]] = field(default_factory=dict)
    buckets: dict[int, list[tuple[int, int, Message]]] = field(default_factory=dict)
    ids: dict[str, Iterator[int]] = field(default_factory=dict)
    iso_cache: dict[int, str] = field(default_factory=dict)
    # family -> (valid_until, day it is extended or 0, extended valid_until)
    kandas: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    single_men: list[int] = field(default_factory=list)       # men living alone, 20-45
    young_adults: list[int] = field(default_factory=list)     # 20-34, living with a parent or alone
    single_mothers: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.total < 0:
            self.total = self.families
