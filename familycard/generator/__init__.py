"""A seedable synthetic population of Kazakh families and the life events of one period.

The flows need input that looks like the registries' (contract §1): plausible families,
IINs that agree with birth dates, late and out-of-order records, and enough of every event
type to exercise every rule of ``rules.md``. Real registry data is personal, so we simulate it.

The stream has two parts:

1. the *population load*, dated before ``start``: a ``person_registered`` for everyone, then
   what the registries already knew (disability rulings, pensions, awards, kandas statuses,
   employment and 24 months of contributions) as late records, so they update state and
   trigger nothing (rules.md §5);
2. the *period*, day by day: the events the registries recorded that day, ordered by
   ``(occurred_on, recorded_at)``, then the ``day`` tick as the day's last message. An event is
   emitted on the day of its ``recorded_at`` (when the registry knew it), never before its
   ``occurred_on``.

Everything is a pure function of ``(families, start, days, seed)``: one ``random.Random(seed)``
draws every choice, in a fixed order, and nothing reads the clock.

A national-scale population (millions of families) does not fit one process, so it can be
generated in *parts* (``generate(..., part=K, parts=P)``), each in its own process and with
memory proportional to its share. Part K of P holds the families with global indices
K, K+P, K+2P, … (a stride, not a block) of ``families`` in all, and draws from its own stream,
seeded from ``(seed, K)``. The parts never collide: family ids use the global index (families
formed in the period get ``families + K + P*j``), IIN serials of part K are K+1, K+1+P, …
(one disjoint serial space per birth date and sex), phone subscriber numbers are K, K+P, …,
and event ids carry the part (``pop3-0000001``). Employers are drawn per part (about one per
eight of the part's families), so a BIN may appear in several parts. The parts together are
*not* byte-identical to a single-process generation of the same ``families`` (their random
draws differ), but they are a statistically equivalent population of ``families`` families.
``parts=1`` (the default) is exactly the single-process stream.

``corrupt`` turns a clean stream into one with typical bad input for the dead-letter path.

The package is split by concern, one module each (``__init__`` only re-exports, so every
``from familycard.generator import …`` of before the split still works):

- ``reference``: the data tables, rates, life tables and the retirement schedule;
- ``world``: the state one run shares, ``_Person`` and ``_State`` (the fields of ``_World``);
- ``ids``: allocation of IINs, phones, IBANs, employer BINs, family and event ids;
- ``population``: the initial families and people, and the draws both phases make;
- ``wire``: the message dicts of contract §1, and ``write_jsonl``;
- ``agenda``: actions by day and records by the day they are recorded, emission order;
- ``load``: the population load (registrations, then the standing facts as late records);
- ``events``: the handlers of the period's actions;
- ``period``: planning the period and running it day by day, with the ``day`` ticks;
- ``stream``: ``_World`` assembled from those mixins, ``generate`` and the parts;
- ``corruption``: ``corrupt``, the bad lines for the dead-letter path.
"""

from __future__ import annotations

# Everything importable from ``familycard.generator`` before the split still is. The names
# imported ``X as X`` are re-exports outside ``__all__``: the period's event rates, the
# ``Message`` alias, and ``_World``, which tests/familycard/test_generator.py builds directly.
from familycard.generator.corruption import CORRUPTION_KINDS, corrupt
from familycard.generator.reference import BIRTHS_PER_1000 as BIRTHS_PER_1000
from familycard.generator.reference import CONTACT_CHANGES_PER_ADULT as CONTACT_CHANGES_PER_ADULT
from familycard.generator.reference import DEATHS_PER_1000 as DEATHS_PER_1000
from familycard.generator.reference import DISMISSALS_PER_EMPLOYED as DISMISSALS_PER_EMPLOYED
from familycard.generator.reference import HIRES_PER_JOBLESS as HIRES_PER_JOBLESS
from familycard.generator.reference import LATE_SHARE as LATE_SHARE
from familycard.generator.reference import MOVERS_PER_1000 as MOVERS_PER_1000
from familycard.generator.reference import REGIONS, retirement_day
from familycard.generator.reference import RULINGS_PER_1000 as RULINGS_PER_1000
from familycard.generator.reference import TWIN_SHARE as TWIN_SHARE
from familycard.generator.stream import _World as _World
from familycard.generator.stream import generate, part_families, part_seed
from familycard.generator.wire import write_jsonl
from familycard.generator.world import Message as Message

__all__ = ["generate", "part_families", "part_seed", "corrupt", "write_jsonl", "retirement_day", "CORRUPTION_KINDS", "REGIONS"]
