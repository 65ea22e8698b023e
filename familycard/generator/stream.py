"""The whole stream: ``_World`` assembled from its concerns, ``generate`` and the parts.

``generate`` runs one ``_World`` through its phases in a fixed order (build the
population, yield the load, plan the period, yield the period), and the seeded random
stream is drawn in exactly that order; the order of the phases is the reproducibility
contract, so it lives in one short function.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from familycard.generator.load import _Load
from familycard.generator.period import _Period
from familycard.generator.reference import _SUBSCRIBERS


class _World(_Period, _Load):
    """The population and the event agenda of one generation run.

    One object, as before the split: the state is ``world._State``'s, and each concern adds its
    methods as a mixin (method resolution: period, events, load, population, agenda, wire,
    ids, state). Mixins rather than separate collaborating objects because every concern reads
    the same people and draws from the same ``random.Random`` in one fixed order; sharing
    ``self`` keeps that order exactly as it was and the stream byte-identical.
    """

    __slots__ = ()


def part_families(families: int, part: int = 0, parts: int = 1) -> int:
    """How many of ``families`` part ``part`` of ``parts`` holds: global indices part, part+parts, …"""
    return len(range(part, families, parts))


def part_seed(seed: int, part: int = 0, parts: int = 1) -> int | str:
    """The random seed of one part: ``seed`` itself for a single part, else derived from (seed, part)."""
    return seed if parts == 1 else f"familycard-part:{seed}:{part}"


def generate(families: int, start: dt.date, days: int, seed: int = 1, *,
             part: int = 0, parts: int = 1, load_only: bool = False) -> Iterator[dict]:
    """Yield contract messages (dicts exactly as they'd be JSON-encoded) in emission order.

    ``part``/``parts``: generate only part ``part`` (0-based) of a population of ``families``
    families split ``parts`` ways — the families with global indices part, part+parts, …; its
    stream is seeded from (seed, part), and its family ids, IINs, phones and event ids never
    collide with another part's (module docstring). The concatenation of all parts is not
    byte-identical to ``parts=1`` but is a statistically equivalent population of ``families``
    families. Each part's period has its own ``day`` ticks, identical in every part (same event
    id, so a consumer takes them as one). ``parts=1`` is the single-process stream, unchanged.

    ``load_only``: yield only the population load (registrations and late records), exactly the
    messages that precede the period in the full stream with the same arguments; the period is
    neither planned nor simulated (the load does not depend on it).
    """
    if parts < 1 or not 0 <= part < parts:
        raise ValueError(f"part must be in 0..parts-1 and parts >= 1, got part {part} of {parts}")
    if families < 0:
        raise ValueError(f"families must be >= 0, got {families}")
    world = _World(random.Random(part_seed(seed, part, parts)), part_families(families, part, parts),
                   start.toordinal(), start.toordinal() + days - 1, part=part, parts=parts, total=families,
                   tag=str(part) if parts > 1 else "",
                   phone_slots=len(range(part, _SUBSCRIBERS, parts)))
    world.build()
    yield from world.load()
    if load_only:
        return
    world.plan()
    yield from world.period()
