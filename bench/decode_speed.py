"""Decode speed: ``decode_reference`` (fastjsonschema, then dates and IINs) vs ``decode`` (the
generated fast accept path of ``schemas.fastpath``, falling back to the reference).

Both run over the same generated messages (``familycard.generator``: a population load and a
period, the flow's real mix: ~80 % contributions), as the flow's decode step gets them: a
``RawMessage`` whose ``parsed`` the source already filled (``--bytes``: only the bytes, so
decode parses them too). Optionally a share of them corrupted (``--bad-fraction``), to see
the cost of the dead-letter path. Rounds alternate reference / fast so both see the same
machine load; the best round is the figure (the machine is shared; the median is printed
too). The two results are compared on every message first. Run:
``python -m bench.decode_speed --families 2000 --days 365``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

from familycard.generator import corrupt, generate
from schemas.codec import DeadLetter, RawMessage, decode, decode_reference


def messages(families: int, days: int, seed: int, bad_fraction: float, parsed: bool) -> list[RawMessage]:
    lines = list(corrupt(generate(families, dt.date(2026, 1, 1), days, seed=seed), bad_fraction, seed=seed))
    out = []
    for i, line in enumerate(lines):
        obj: Any = None
        if parsed:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                obj = None
        out.append(RawMessage("bench", line, None, 0, i, None, obj, i))
    return out


def _loads_or_none(value: bytes) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


def one_round(fn: Callable[[RawMessage], Any], raws: list[RawMessage]) -> float:
    start = time.perf_counter()
    for raw in raws:
        fn(raw)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", type=int, default=2000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=5, help="rounds of each (alternating); best and median shown")
    ap.add_argument("--bad-fraction", type=float, default=0.0, help="share of corrupted messages (dead letters)")
    ap.add_argument("--bytes", action="store_true", help="give decode only the bytes (it parses them too)")
    ap.add_argument("--by-type", action="store_true", help="also time each event type on its own")
    args = ap.parse_args(argv)

    raws = messages(args.families, args.days, args.seed, args.bad_fraction, not args.bytes)
    n = len(raws)
    kinds: Counter[str] = Counter()
    for raw in raws:  # the same results first, or the figures mean nothing
        ref, fast = decode_reference(raw), decode(raw)
        assert fast == ref, (raw.value[:200], fast, ref)
        kinds["dead letter" if isinstance(ref, DeadLetter) else "event"] += 1
    print(f"{n:,} messages ({args.families:,} families, {args.days} days, seed {args.seed}; "
          f"{kinds['event']:,} events, {kinds['dead letter']:,} dead letters; "
          f"{'bytes only' if args.bytes else 'parsed by the source'}): results identical")

    gc.collect()
    gc.disable()  # the flow's heap is not ours to measure; both sides alike
    try:
        times: dict[str, list[float]] = {"reference": [], "fast": []}
        for _ in range(args.rounds):
            times["reference"].append(one_round(decode_reference, raws))
            times["fast"].append(one_round(decode, raws))
    finally:
        gc.enable()

    print(f"{'':12}{'best µs/msg':>12}{'median µs/msg':>15}{'best msg/s':>13}{'median msg/s':>14}")
    for name, ts in times.items():
        best, med = min(ts), statistics.median(ts)
        print(f"{name:12}{best / n * 1e6:12.2f}{med / n * 1e6:15.2f}{n / best:13,.0f}{n / med:14,.0f}")
    print(f"speed-up    best {min(times['reference']) / min(times['fast']):.1f}x, "
          f"median {statistics.median(times['reference']) / statistics.median(times['fast']):.1f}x")

    if args.by_type:
        by_type: dict[str, list[RawMessage]] = {}
        for raw in raws:
            obj = raw.parsed if raw.parsed is not None else _loads_or_none(raw.value)
            etype = obj["type"] if isinstance(obj, dict) and isinstance(obj.get("type"), str) else "(other)"
            by_type.setdefault(etype, []).append(raw)
        print(f"\n{'type':26}{'count':>8}{'reference µs':>14}{'fast µs':>10}{'speed-up':>10}")
        for etype, group in sorted(by_type.items(), key=lambda kv: -len(kv[1])):
            t_ref = min(one_round(decode_reference, group) for _ in range(3)) / len(group)
            t_fast = min(one_round(decode, group) for _ in range(3)) / len(group)
            print(f"{etype:26}{len(group):8,}{t_ref * 1e6:14.2f}{t_fast * 1e6:10.2f}{t_ref / t_fast:9.1f}x")


if __name__ == "__main__":
    main()
