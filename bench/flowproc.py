"""One Kafka dataflow in its own process, for the benchmarks (``python -m bench.flowproc KIND ...``).

KIND is one of

- ``full``: familycard's whole flow (``flows.kafka.flow.kafka_flow``): aligned source, decode,
  validate, person and family stages, every rule, the offer stage, four Kafka sinks;
- ``aligned``: a bare passthrough on the same I/O: ``AlignedKafkaSource`` → orjson decode and
  encode → ``KafkaTopicSink``;
- ``stock``: Bytewax's own ``bytewax.connectors.kafka`` ``KafkaSource`` (one stream per
  partition, ``tail=False``) → orjson decode and encode → stock ``KafkaSink``.

All run single-process with one worker and ``epoch_interval = 0``, as ``familycard run
--kafka`` does by default; the full flow with ``--live --recovery`` uses familycard's live
default with recovery instead (``flows.runner.default_epoch_seconds``), and
``--epoch-seconds`` sets it. ``--trace FILE`` records where each message spent its time. Input topics
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
        from flows.kafka.flow import kafka_flow

        kw = {"epoch_seconds": epoch_seconds} if epoch_seconds else {}
        return kafka_flow(bootstrap, stop_at_end=stop_at_end, input_topics=tuple(inputs),
                          output_topics={k: out_prefix + v for k, v in OUTPUT_TOPICS.items()}, **kw)
    out_topic = out_prefix + "passthrough"
    flow = Dataflow(f"bench_{kind}")
    if kind == "aligned":
        from flows.kafka.sink import KafkaTopicSink
        from flows.kafka.source import AlignedKafkaSource

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


def _install_trace(path: Path) -> None:
    """``--trace FILE``: per-message timestamps along the path, written as JSON when the flow ends.

    Per input message: Kafka timestamp (the producer's send time), when ``consume`` returned
    it, when the source released it; per record caused by an input: when it reached the map
    step right before its sink. Per ``next_batch`` call: start time, duration, batch length,
    so gaps between calls (the source waiting for Bytewax to close an epoch) show.
    """
    import atexit
    import gc

    from flows import metrics
    from flows.kafka import source as kafka_source

    fetched: dict[tuple[str, int, int], float] = {}
    released: list[tuple[str, int, int, int, float, float]] = []
    calls: list[tuple[float, float, int]] = []
    outputs: list[tuple[str, str, int, int, float]] = []
    snapshots: list[float] = []  # when Bytewax closed an epoch of the source
    collections: list[tuple[int, float, float]] = []  # (generation, start, seconds) of the cyclic GC
    gc_start = [0.0]

    def on_gc(phase: str, info: dict) -> None:  # type: ignore[type-arg]
        if phase == "start":
            gc_start[0] = time.time()
        else:
            collections.append((info["generation"], gc_start[0], time.time() - gc_start[0]))

    gc.callbacks.append(on_gc)

    part_cls = kafka_source.AlignedKafkaPartition
    ingest0, next0, snap0 = part_cls._ingest, part_cls.next_batch, part_cls.snapshot

    def snapshot(self):  # type: ignore[no-untyped-def]
        snapshots.append(time.time())
        return snap0(self)

    def ingest(self, msgs):  # type: ignore[no-untyped-def]
        now = time.time()
        for m in msgs:
            if m.error() is None:
                fetched[(m.topic(), m.partition(), m.offset())] = now
        return ingest0(self, msgs)

    def next_batch(self):  # type: ignore[no-untyped-def]
        t0 = time.time()
        out = next0(self)
        t1 = time.time()
        calls.append((t0, t1 - t0, len(out)))
        for m in out:
            key = (m.topic, m.partition, m.offset)
            released.append((*key, m.timestamp_ms or 0, fetched.pop(key, 0.0), t1))
        return out

    part_cls._ingest, part_cls.next_batch = ingest, next_batch  # type: ignore[method-assign]
    part_cls.snapshot = snapshot  # type: ignore[method-assign]
    observe0 = metrics.observe_output

    def observe(output, item):  # type: ignore[no-untyped-def]
        if len(item) >= 3 and item[2] is not None:
            o = item[2]
            outputs.append((output, o.topic, o.partition, o.offset, time.time()))
        return observe0(output, item)

    metrics.observe_output = observe  # type: ignore[assignment]

    from flows.kafka import exactly_once

    flushes: list[tuple[float, float]] = []  # (start, seconds) of each sink snapshot (its flush)
    sink_cls = exactly_once._IdempotentPartition
    sink_snap0 = sink_cls.snapshot

    def sink_snapshot(self):  # type: ignore[no-untyped-def]
        t0 = time.time()
        try:
            return sink_snap0(self)
        finally:
            flushes.append((t0, time.time() - t0))

    sink_cls.snapshot = sink_snapshot  # type: ignore[method-assign]

    # The stateful steps' snapshot() calls (Bytewax makes one per key touched, at each epoch close).
    from flows import shards, stages

    key_snaps: list[tuple[str, float, float]] = []  # (class, start, seconds)

    def timed(cls: type) -> None:
        snap0 = cls.snapshot

        def snapshot(self):  # type: ignore[no-untyped-def]
            t0 = time.time()
            try:
                return snap0(self)
            finally:
                key_snaps.append((cls.__name__, t0, time.time() - t0))

        cls.snapshot = snapshot

    for cls in (shards.ShardLogic, stages.CalendarLogic, stages.OfferLogic):
        timed(cls)

    def dump() -> None:
        path.write_bytes(orjson.dumps({"released": released, "calls": calls, "outputs": outputs,
                                       "snapshots": snapshots, "gc": collections, "flushes": flushes,
                                       "key_snapshots": key_snaps}))

    atexit.register(dump)


def _interrupted(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.flowproc")
    ap.add_argument("kind", choices=("full", "aligned", "stock"))
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--in-prefix", required=True)
    ap.add_argument("--out-prefix", required=True)
    ap.add_argument("--recovery", type=Path)
    ap.add_argument("--live", action="store_true", help="keep running (default: stop at the end of the input)")
    ap.add_argument("--epoch-seconds", type=float, default=None,
                    help="full flow only; default: familycard's (flows.runner.default_epoch_seconds)")
    ap.add_argument("--trace", type=Path, help="write per-message timestamps along the path to this JSON file")
    a = ap.parse_args(argv)
    if a.trace:
        _install_trace(a.trace)

    from flows.kafka.admin import ensure_topics
    from flows.runner import default_epoch_seconds, run_local

    if a.epoch_seconds is None:
        a.epoch_seconds = default_epoch_seconds(live=a.live, recovery=a.recovery is not None) \
            if a.kind == "full" else 0.0

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
    except Exception as exc:  # SIGINT inside a Python step comes back wrapped by Bytewax
        if not _interrupted(exc):
            raise
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru.ru_utime + ru.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    sys.stdout.write(orjson.dumps({"wall": wall, "cpu": cpu, "maxrss": ru.ru_maxrss * 1024}).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
