"""How should the stateful steps be keyed? IIN directly, or a shard holding many records?

Measures one ``op.stateful`` step over N distinct keys with an immutable small card as
state, recovery off, GC on and off. Prints items/s per variant; run:
``python -m bench.keying --keys 200000 --items 400000``.
"""

from __future__ import annotations

import argparse
import gc
import time
from dataclasses import dataclass, replace

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic
from bytewax.testing import TestingSink, TestingSource, run_main


@dataclass(frozen=True, slots=True)
class Card:
    iin: str
    n: int = 0
    total: int = 0


class PerKey(StatefulLogic):
    def __init__(self, resume: Card | None) -> None:
        self.card = resume

    def on_item(self, value: tuple[str, int]):  # type: ignore[no-untyped-def]
        iin, amount = value
        card = self.card or Card(iin)
        self.card = replace(card, n=card.n + 1, total=card.total + amount)
        return (), StatefulLogic.RETAIN

    def snapshot(self) -> Card:
        assert self.card is not None
        return self.card  # immutable: no copy needed


class PerShard(StatefulLogic):
    def __init__(self, resume: dict[str, Card] | None) -> None:
        self.cards: dict[str, Card] = dict(resume or {})

    def on_item(self, value: tuple[str, int]):  # type: ignore[no-untyped-def]
        iin, amount = value
        card = self.cards.get(iin) or Card(iin)
        self.cards[iin] = replace(card, n=card.n + 1, total=card.total + amount)
        return (), StatefulLogic.RETAIN

    def snapshot(self) -> dict[str, Card]:
        return dict(self.cards)  # the shard must be copied whole: Bytewax snapshots per key


def run(keys: int, items: int, shards: int | None, gc_off: bool) -> float:
    data = [(f"{i % keys:012d}", i) for i in range(items)]
    flow = Dataflow("keying")
    s = op.input("in", flow, TestingSource(data, batch_size=1000))
    if shards:
        keyed = op.map("key", s, lambda x: (str(hash(x[0]) % shards), x))
        out = op.stateful("state", keyed, PerShard)
    else:
        keyed = op.map("key", s, lambda x: (x[0], x))
        out = op.stateful("state", keyed, PerKey)
    op.output("out", out, TestingSink([]))
    if gc_off:
        gc.disable()
    t0 = time.perf_counter()
    run_main(flow)
    dt = time.perf_counter() - t0
    gc.enable()
    return items / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=200_000)
    ap.add_argument("--items", type=int, default=400_000)
    a = ap.parse_args()
    print(f"{a.items} items over {a.keys} distinct IINs, recovery off")
    for shards in (None, 64, 1024):
        for gc_off in (False, True):
            rate = run(a.keys, a.items, shards, gc_off)
            label = "key = IIN" if shards is None else f"key = shard of {shards}"
            print(f"  {label:<22} gc {'off' if gc_off else 'on ':<3}  {rate:>10,.0f} items/s")


if __name__ == "__main__":
    main()
