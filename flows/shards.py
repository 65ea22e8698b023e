"""Many keys' state in one Bytewax key: fewer, larger keys for the person and family stages.

Bytewax 0.21 keeps a Python logic object per key, calls ``snapshot`` on every key touched in
an epoch, and its recovery commit runs a query over every stored key (``src/recovery.rs``,
``commit``). At 20 million people those per-key costs dominate, so the two stages with a key
per person or family group their keys into a fixed number of shards. A shard holds each of
its keys' slots *pickled* (``bytes`` are compact and invisible to the cyclic GC) and unpacks
a slot only while a batch touches it.

The per-key logic classes in ``flows.stages`` stay the unit of behaviour: for each key in a
batch the shard builds that key's logic from its unpacked slot, hands it the key's values in
arrival order, and packs what ``state()`` returns. Keys of one shard are independent, exactly
as Bytewax keys are.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from bytewax.operators import StatefulBatchLogic

from flows import metrics
from store.safe_load import safe_loads
from store.seed import SeedReader

__all__ = ["BROADCAST", "BROADCAST_HELD", "KeyLogic", "ShardLogic", "ShardState", "StateSettings", "shard_of",
           "shard_number", "DEFAULT_SHARDS"]

# Shards per sharded stage. Too few and each touched shard's snapshot is large (recovery
# writes a shard whole); too many and Bytewax's per-key costs come back. 4 096 keeps a shard
# at ~5 000 people at national scale (~1.5 MB pickled) and at a few people in tests.
DEFAULT_SHARDS = 4096

_PROTOCOL = pickle.HIGHEST_PROTOCOL

# A value keyed by this goes to every key the shard holds (in key order): the quarterly
# wake reaches each family without a registry of family ids or an item per family. The
# value travels as ``(shard id, value)``: a shard that starts from a seed must know which
# one it is before its first key, and a batch of broadcasts has no other key to tell it.
BROADCAST = "*"
# A value keyed by this goes only to the keys whose logic has something waiting (``eof_keys``):
# the monthly sweep of held facts visits the few people with held facts, not the whole shard.
BROADCAST_HELD = "*held"

@dataclass(frozen=True, slots=True)
class StateSettings:
    """How the sharded stages hold their state: built once by the command line and passed down to
    ``build_flow`` (no module globals; a cluster's processes rebuild it from their arguments).

    ``shards``: Bytewax keys per sharded stage (``--shards``; a recovery directory or seed is tied
    to it). ``packed``: each slot kept pickled between batches (compact) or as live objects
    (faster; ``--state``). ``seed``: start every shard that has no recovery state from this seed
    (``familycard load``). ``snapshots``: whether anything stores snapshots (recovery on): Bytewax
    calls ``snapshot`` for every key touched in an epoch whether or not recovery is on, and
    without it a shard need not copy its slots for nobody.
    """

    shards: int = DEFAULT_SHARDS
    packed: bool = False
    seed: SeedReader | None = None
    snapshots: bool = True

    def __post_init__(self) -> None:
        if self.shards < 1:
            raise ValueError("shards must be at least 1")
        if self.seed is not None:
            self.seed.check_shards(self.shards)


def shard_number(key: str, shards: int) -> int:
    """Stable across processes and runs (Python's ``hash`` is salted per process)."""
    return zlib.crc32(key.encode()) % shards


def shard_of(key: str, shards: int) -> str:
    """``shard_number`` as the Bytewax key of the shard."""
    return str(shard_number(key, shards))


class KeyLogic(Protocol):
    """What a per-key logic offers the shard (``flows.stages.PersonLogic``, ``FamilyLogic``)."""

    def on_batch(self, values: list[Any]) -> tuple[Iterable[Any], bool]: ...

    def on_eof(self) -> tuple[Iterable[Any], bool]: ...

    def state(self) -> Any: ...

    def has_eof_work(self) -> bool: ...


# (shard count, key -> pickled slot, keys whose logic has something to say at EOF)
ShardState = tuple[int, dict[str, bytes], frozenset[str]]


class ShardLogic(StatefulBatchLogic[tuple[str, Any], Any, ShardState | None]):
    """One shard: values are ``(key, value)``; outputs are the key logics' outputs, in order.

    Two ways to hold the slots (``StateSettings.packed``): *packed*, each slot pickled between batches
    (compact, GC-free, a loads and a dumps per touched key and batch), or *live*, the slot
    objects themselves (faster; a snapshot pickles only the keys changed since the last).
    Without snapshots (recovery off, ``StateSettings.snapshots``) ``snapshot`` is free.
    """

    def __init__(self, resume: ShardState | None, make: Callable[[Any], KeyLogic], settings: StateSettings,
                 gauge: str | None, stage: str | None = None,
                 restored: Callable[[dict[str, bytes], set[str]], None] | None = None) -> None:
        self.make = make
        self.restored = restored  # told of slots that come from recovery or a seed (gauges inside slots)
        self.shards = shards = settings.shards
        self.gauge = metrics.state_size(gauge) if gauge is not None else None
        # a stage's seed is read when the shard first sees a value (Bytewax does not tell a
        # builder its key); recovery state, when there is some, always wins
        self.seed = settings.seed if resume is None and stage is not None else None
        self.stage = stage
        self.snapshots = settings.snapshots
        self.is_packed = settings.packed
        self.packed: dict[str, bytes] = {}   # packed: every slot; live: the last snapshot's
        self.live: dict[str, Any] = {}       # live mode only
        self.dirty: set[str] = set()         # live mode: changed since the last snapshot
        self.eof_keys: set[str] = set()
        if resume is not None:
            count, packed_slots, eof_keys = resume
            if count != shards:
                raise ValueError(f"the recovery state was written with {count} shards, this flow has {shards}; "
                                 f"run with the same --shards or start from a fresh recovery directory")
            self.packed = dict(packed_slots)
            self.eof_keys = set(eof_keys)
            if not self.is_packed:
                self.live = {k: safe_loads(b) for k, b in self.packed.items()}
            self._count(len(self.packed))
            if restored is not None:
                restored(self.packed, self.eof_keys)

    def _count(self, n: int) -> None:
        if self.gauge is not None and n:
            self.gauge.inc(n)

    def _seeded(self, shard: str) -> None:
        """Take this shard's slots from the seed (once, before the first batch)."""
        seed, self.seed = self.seed, None
        assert seed is not None and self.stage is not None
        slots = seed.shard(self.stage, int(shard))
        if not slots:
            return
        if self.is_packed:
            self.packed = slots
        else:
            self.live = {k: safe_loads(b) for k, b in slots.items()}
            if self.snapshots:  # the first snapshot must hold them: live mode pickles only dirty keys
                self.packed = slots
        self._count(len(slots))
        if self.restored is not None:
            self.restored(slots, set())

    def _load(self, key: str) -> tuple[bool, Any]:
        if self.is_packed:
            blob = self.packed.get(key)
            return (False, None) if blob is None else (True, safe_loads(blob))
        slot = self.live.get(key, _MISSING)
        return (False, None) if slot is _MISSING else (True, slot)

    def on_batch(self, values: list[tuple[str, Any]]) -> tuple[Iterable[Any], bool]:
        if self.seed is not None:
            key, value = values[0]
            self._seeded(value[0] if key in (BROADCAST, BROADCAST_HELD) else shard_of(key, self.shards))
        groups: dict[str, list[Any]] = {}
        for key, value in values:
            if key == BROADCAST or key == BROADCAST_HELD:
                value = value[1]
                for k in sorted(self.eof_keys if key == BROADCAST_HELD else
                                self.packed if self.is_packed else self.live):
                    groups.setdefault(k, []).append(value)
                continue
            found = groups.get(key)
            if found is None:
                groups[key] = [value]
            else:
                found.append(value)
        out: list[Any] = []
        for key, vals in groups.items():
            existed, slot = self._load(key)
            logic = self.make(slot)
            emitted, discard = logic.on_batch(vals)
            out.extend(emitted)
            self._store(key, existed, logic, discard)
        return out, StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        out: list[Any] = []
        for key in sorted(self.eof_keys):
            existed, slot = self._load(key)
            if not existed:
                continue
            logic = self.make(slot)
            emitted, discard = logic.on_eof()
            out.extend(emitted)
            self._store(key, True, logic, discard)
        return out, StatefulBatchLogic.RETAIN

    def _store(self, key: str, existed: bool, logic: KeyLogic, discard: bool) -> None:
        if discard:
            if existed:
                self.packed.pop(key, None)
                self.live.pop(key, None)
                self._count(-1)
            self.eof_keys.discard(key)
            self.dirty.discard(key)
            return
        if self.is_packed:
            self.packed[key] = pickle.dumps(logic.state(), _PROTOCOL)
        else:
            self.live[key] = logic.state()
            if self.snapshots:
                self.dirty.add(key)
        if not existed:
            self._count(1)
        if logic.has_eof_work():
            self.eof_keys.add(key)
        else:
            self.eof_keys.discard(key)

    def snapshot(self) -> ShardState | None:
        if not self.snapshots:
            return None
        if not self.is_packed:
            for key in self.dirty:
                self.packed[key] = pickle.dumps(self.live[key], _PROTOCOL)
            self.dirty.clear()
        return self.shards, dict(self.packed), frozenset(self.eof_keys)


_MISSING = object()
