"""One Kafka dataflow in its own process, for the benchmarks (``python -m bench.flowproc KIND ...``).

KIND is one of

- ``full``: familycard's whole flow (``flows.kafka_flow.kafka_flow``): aligned source, decode,
  validate, person and family stages, every rule, the offer stage, four Kafka sinks;
- ``aligned``: a bare passthrough on the same I/O: ``AlignedKafkaSource`` → orjson decode and
  encode → ``KafkaTopicSink``;
- ``stock``: Bytewax's own ``bytewax.connectors.kafka`` ``KafkaSource`` (one stream per
  partition, ``tail=False``) → orjson decode and encode → stock ``KafkaSink``.

All run single-process with one worker and ``epoch_interval = 0``, as ``familycard run
--kafka`` does by default (``--epoch-seconds`` changes it for the full flow). Input topics
are ``<in-prefix><contract name>``, outputs ``<out-prefix><contract name>``. The last line on stdout is a JSON object: wall seconds of the
run itself (imports and topic checks excluded), CPU seconds, and ``ru_maxrss`` (which on Linux
includes the parent's high-water mark at fork: use the caller's VmHWM sampling instead).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import orjson

from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS

__all__ = ["build", "main"]


def build(kind: str, bootstrap: str, in_prefix: str, out_prefix: str, stop_at_end: bool,  # type: ignore[no-untyped-def]
          epoch_seconds: float = 0.0):
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow

    inputs = [in_prefix + t for t in INPUT_TOPICS]
    if kind == "full":
        from flows.kafka_flow import kafka_flow

        kw = {"epoch_seconds": epoch_seconds} if epoch_seconds else {}
        return kafka_flow(bootstrap, stop_at_end=stop_at_end, input_topics=tuple(inputs),
                          output_topics={k: out_prefix + v for k, v in OUTPUT_TOPICS.items()}, **kw)
    out_topic = out_prefix + "passthrough"
    flow = Dataflow(f"bench_{kind}")
    if kind == "aligned":
        from flows.kafka_io import AlignedKafkaSource, KafkaTopicSink

        raw = op.input("read", flow, AlignedKafkaSource(bootstrap, inputs, stop_at_end=stop_at_end))
        # The source parses JSON for its date order already; decode the bytes again anyway, as
        # the flow's decode step does, so the passthrough pays one full decode and encode.
        out = op.map("codec", raw, lambda m: (m.key, orjson.dumps(orjson.loads(m.value))))
        op.output("write", out, KafkaTopicSink(bootstrap, out_topic))
    elif kind == "stock":
        from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource

        msgs = op.input("read", flow, KafkaSource([bootstrap], inputs, tail=not stop_at_end))
        to_sink = op.map("codec", msgs,  # errors raise in the source (raise_on_errors)
                         lambda m: KafkaSinkMessage(m.key, orjson.dumps(orjson.loads(m.value))))  # type: ignore[union-attr, arg-type]
        op.output("write", to_sink, KafkaSink([bootstrap], out_topic))
    else:
        raise ValueError(kind)
    return flow


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.flowproc")
    ap.add_argument("kind", choices=("full", "aligned", "stock"))
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--in-prefix", required=True)
    ap.add_argument("--out-prefix", required=True)
    ap.add_argument("--recovery", type=Path)
    ap.add_argument("--live", action="store_true", help="keep running (default: stop at the end of the input)")
    ap.add_argument("--epoch-seconds", type=float, default=0.0, help="full flow only; 0 as familycard's default")
    a = ap.parse_args(argv)

    from flows.kafka_io import ensure_topics
    from flows.runner import run_local

    outs = [a.out_prefix + v for v in OUTPUT_TOPICS.values()] if a.kind == "full" else [a.out_prefix + "passthrough"]
    ensure_topics(a.bootstrap, [a.in_prefix + t for t in INPUT_TOPICS] + outs)
    flow = build(a.kind, a.bootstrap, a.in_prefix, a.out_prefix, stop_at_end=not a.live, epoch_seconds=a.epoch_seconds)
    print("flow ready", flush=True)
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    try:
        run_local(flow, recovery_dir=a.recovery, epoch_seconds=a.epoch_seconds)
    except KeyboardInterrupt:
        pass
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru.ru_utime + ru.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    sys.stdout.write(orjson.dumps({"wall": wall, "cpu": cpu, "maxrss": ru.ru_maxrss * 1024}).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
