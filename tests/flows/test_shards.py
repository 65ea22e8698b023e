"""``flows.shards.ShardLogic`` on its own: many keys' slots in one Bytewax key (issue 16 asked for
its own test). A toy key logic stands in for the person and family stages."""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any

import pytest

from flows.shards import BROADCAST, BROADCAST_HELD, ShardLogic, StateSettings, shard_number, shard_of


class Counting:
    """A key's slot is a list of the values it saw; it has EOF work while it saw 'wait'."""

    def __init__(self, slot: list[Any] | None) -> None:
        self.slot = list(slot or [])

    def on_batch(self, values: list[Any]) -> tuple[Iterable[Any], bool]:
        self.slot.extend(values)
        discard = "drop" in values
        return [(len(self.slot), v) for v in values], discard

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        return [("eof", len(self.slot))], False

    def state(self) -> list[Any]:
        return self.slot

    def has_eof_work(self) -> bool:
        return "wait" in self.slot


def _logic(resume: Any = None, packed: bool = False) -> ShardLogic:
    return ShardLogic(resume, Counting, StateSettings(8, packed), None)


@pytest.mark.parametrize("packed", [False, True])
def test_values_reach_their_keys_in_order_and_broadcasts_reach_every_key(packed: bool) -> None:
    logic = _logic(packed=packed)
    out, _ = logic.on_batch([("a", 1), ("b", 2), ("a", 3)])
    assert list(out) == [(2, 1), (2, 3), (1, 2)]  # grouped by key (first seen first), values in arrival order
    out, _ = logic.on_batch([(BROADCAST, ("0", "tick"))])
    assert sorted(out) == [(2, "tick"), (3, "tick")]


@pytest.mark.parametrize("packed", [False, True])
def test_the_held_broadcast_reaches_only_the_keys_with_something_waiting(packed: bool) -> None:
    logic = _logic(packed=packed)
    logic.on_batch([("a", "wait"), ("b", 1), ("c", "wait")])
    out, _ = logic.on_batch([(BROADCAST_HELD, ("0", "sweep"))])
    assert sorted(out) == [(2, "sweep"), (2, "sweep")]
    assert logic.eof_keys == {"a", "c"}
    assert sorted(logic.on_eof()[0]) == [("eof", 2), ("eof", 2)]


def test_a_discarded_key_is_gone_from_state_and_snapshot() -> None:
    logic = _logic()
    logic.on_batch([("a", 1), ("b", "wait")])
    logic.on_batch([("b", "drop")])
    count, packed, eof = logic.snapshot()  # type: ignore[misc]
    assert count == 8 and set(packed) == {"a"} and eof == frozenset()


def test_live_snapshots_pickle_only_what_changed_and_resume_equals_the_run() -> None:
    logic = _logic()  # snapshots on (StateSettings' default)
    logic.on_batch([("a", 1), ("b", 2)])
    first = logic.snapshot()
    assert first is not None and not logic.dirty
    logic.on_batch([("a", 3)])
    assert logic.dirty == {"a"}
    second = logic.snapshot()
    assert second is not None and pickle.loads(second[1]["a"]) == [1, 3] and second[1]["b"] == first[1]["b"]
    for packed in (False, True):
        again = _logic(second, packed=packed)
        out, _ = again.on_batch([("a", 4), ("b", 5)])
        assert sorted(out) == [(2, 5), (3, 4)]


def test_a_resume_with_another_shard_count_is_refused() -> None:
    logic = _logic()
    logic.on_batch([("a", 1)])
    state = logic.snapshot()
    assert state is not None
    with pytest.raises(ValueError, match="8 shards, this flow has 4"):
        ShardLogic(state, Counting, StateSettings(4), None)


def test_shard_numbers_are_stable_and_spread() -> None:
    assert shard_number("870512400129", 4096) == shard_number("870512400129", 4096)
    assert shard_of("870512400129", 16) == str(shard_number("870512400129", 16))
    spread = {shard_number(f"{i:012d}", 16) for i in range(2000)}
    assert spread == set(range(16))
