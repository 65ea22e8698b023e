"""Full-flow throughput over Kafka, as a ratio to bare Bytewax Kafka → Kafka passthroughs.

A generated population and a year of its life events are produced once to the contract's
input topics (under a fresh prefix). Then each flow drains them to its own output topics,
stopping at the end (``stop_at_end``), each in a fresh process (``bench.flowproc``), one
after the other on the same broker:

- ``aligned``: ``AlignedKafkaSource`` → orjson decode/encode → ``KafkaTopicSink``;
- ``stock``: Bytewax's ``KafkaSource`` → orjson decode/encode → ``KafkaSink`` (reference);
- ``full``: the whole familycard flow.

Throughput = input messages / wall time of the run (consumer start to the last flush). Run
alone: ``python -m bench.kafka_throughput --families 2000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.common import PY, ROOT, broker, fmt_int, run_watched

__all__ = ["ThroughputResult", "measure"]

KINDS = ("aligned", "stock", "full")
LABELS = {
    "aligned": "passthrough: AlignedKafkaSource → orjson → KafkaTopicSink",
    "stock": "passthrough: stock KafkaSource → orjson → stock KafkaSink",
    "full": "familycard full flow (all stages, all rules, 4 sinks)",
}


@dataclass
class ThroughputResult:
    families: int
    messages: int
    produce_seconds: float
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    outputs: dict[str, dict[str, int]] = field(default_factory=dict)

    def best(self, kind: str) -> dict[str, Any]:
        return min(self.runs[kind], key=lambda r: r["wall"])

    def rate(self, kind: str) -> float:
        return self.messages / self.best(kind)["wall"]

    def median_rate(self, kind: str) -> float:
        return self.messages / statistics.median(r["wall"] for r in self.runs[kind])

    @property
    def ratio(self) -> float:
        return self.rate("full") / self.rate("aligned")


def _produce(bootstrap: str, prefix: str, messages: list[dict]) -> float:
    from flows.kafka.admin import ensure_topics, produce_all
    from flows.topics import INPUT_TOPICS, topic_of

    ensure_topics(bootstrap, [prefix + t for t in INPUT_TOPICS])
    t0 = time.perf_counter()
    produce_all(bootstrap, ((prefix + topic_of(m), (m.get("iin") or "").encode() or None, orjson.dumps(m))
                            for m in messages), timeout=120)
    return time.perf_counter() - t0


def _count(bootstrap: str, topic: str) -> int:
    from flows.kafka.admin import read_topic

    return len(read_topic(bootstrap, topic, timeout=120))


def measure(bootstrap: str, families: int, repeat: int = 1, seed: int = 11, log=print) -> ThroughputResult:  # type: ignore[no-untyped-def]
    from familycard.generator import generate
    from flows.topics import OUTPUT_TOPICS

    messages = list(generate(families, dt.date(2026, 1, 1), 365, seed))
    run_id = uuid.uuid4().hex[:8]
    in_prefix = f"bench{run_id}.in."
    log(f"[throughput] producing {fmt_int(len(messages))} messages ({families} families, one year) ...")
    res = ThroughputResult(families, len(messages), _produce(bootstrap, in_prefix, messages))
    log(f"[throughput] produced in {res.produce_seconds:.1f} s")
    for r in range(repeat):
        for kind in KINDS:
            out_prefix = f"bench{run_id}.{kind}{r}."
            w = run_watched([PY, "-m", "bench.flowproc", kind, "--bootstrap", bootstrap,
                             "--in-prefix", in_prefix, "--out-prefix", out_prefix], cwd=ROOT, timeout=1800)
            if w.returncode != 0:
                raise RuntimeError(f"{kind} flow failed ({w.returncode}):\n{w.stderr[-3000:]}")
            stats = orjson.loads(w.stdout.strip().splitlines()[-1])
            stats["process_wall"] = w.wall
            # VmHWM of the flow process: getrusage's ru_maxrss is no use here, Linux carries the
            # parent's high-water mark over fork and exec (this process holds all the messages).
            stats["peak_rss"] = max(w.peak_hwm.values(), default=0)
            res.runs.setdefault(kind, []).append(stats)
            log(f"[throughput] {kind:<8} run {r + 1}: {stats['wall']:.2f} s, "
                f"{fmt_int(len(messages) / stats['wall'])} msg/s, cpu {stats['cpu']:.1f} s")
            if r == 0:
                if kind == "full":
                    res.outputs[kind] = {name: _count(bootstrap, out_prefix + t) for name, t in OUTPUT_TOPICS.items()}
                else:
                    res.outputs[kind] = {"passthrough": _count(bootstrap, out_prefix + "passthrough")}
                log(f"[throughput] {kind:<8} outputs {res.outputs[kind]}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.kafka_throughput")
    ap.add_argument("--families", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    with broker(Path("/tmp/familycard-bench")) as b:
        res = measure(b.bootstrap, a.families, a.repeat)
    for kind in KINDS:
        print(f"{LABELS[kind]:<62} {fmt_int(res.rate(kind)):>9} msg/s")
    print(f"full / aligned passthrough = {res.ratio:.2f}")


if __name__ == "__main__":
    main()
