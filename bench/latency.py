"""Event → notification latency over Kafka at a steady rate, recovery on.

1. A population of P families is generated; its population load and first ``WARM_DAYS`` days
   (with their ``day`` ticks) are produced to the input topics.
2. The full flow starts live (``bench.flowproc full --live --recovery DIR``: one process, the
   epoch interval ``familycard run --kafka --recovery`` uses by default unless
   ``--epoch-seconds`` says otherwise) and drains that backlog. It is *caught up* when a
   sentinel (a re-sent copy of the last warm-up life event) has come back as a ``duplicate``
   dead letter — it went through decode, route and the person stage after everything before
   it — and then no output topic has moved for 2 s. (Not "the process is idle": with recovery
   on, an idle flow still closes and commits an epoch per interval, and each commit costs
   more the more state there is — the idle share is reported.)
3. A producer thread sends the following events of the generated year, in generator order,
   paced at RATE events/s for WINDOW seconds (``linger.ms`` 5, librdkafka's default, or
   ``--linger-ms``; the send time is taken at ``produce()``, so the linger counts in the
   latency). The year's own mix (births ≈ 0.8 %, contributions most) is kept; ``day`` ticks
   are left out: live, a tick comes once a day, not once per ~50 events as in a compressed year.
   Why not ``linger.ms`` 0: Tansu's memory storage lists every stored record batch of a
   partition on each fetch, so one batch per event makes every fetch slower as the window
   goes on (measured: the broker's CPU went from ~45 % to 80–93 % of a core and the flow
   seemed to fall behind). Real Kafka has no such cost.
4. A reader thread follows ``notifications``. A notification is attributed to the input event
   of the same family and ``occurred_on`` when exactly one event of the window has both
   (others are counted as unattributed, not guessed). Latency = the notification's Kafka
   timestamp (CreateTime: when the flow's sink produced it) − the event's send time; the
   reader's receive time gives the end-to-end figure a consumer sees.

CPU per event = the flow process's CPU seconds from the first send until the outputs are
quiet again (less the idle share over the 2 quiet seconds), divided by the events sent. The
broker's CPU and that of every other process on the machine over the window are printed too:
the broker shares the machine, and a figure taken while other work ran is not comparable.
``--trace`` breaks the latency down along the path (``bench.flowproc --trace``): broker to
source, hold-back in the aligned source, source to sink, the pause at each epoch close, the
sinks' flushes and the cyclic GC.
Run alone: ``python -m bench.latency --window 20 [--trace]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench.common import PY, ROOT, broker, cpu_seconds, fmt_int, percentiles

__all__ = ["LatencyResult", "measure"]

START = dt.date(2026, 1, 1)
WARM_DAYS = 7


@dataclass
class LatencyResult:
    families: int
    warm_messages: int
    warm_seconds: float  # flow start → caught up
    rate_target: float
    window_target: float
    sent: int = 0
    send_seconds: float = 0.0
    births_sent: int = 0
    notifications: int = 0
    attributed: int = 0
    by_event_type: Counter[str] = field(default_factory=Counter)
    lat_create: list[float] = field(default_factory=list)  # seconds
    lat_recv: list[float] = field(default_factory=list)
    lat_births: list[float] = field(default_factory=list)
    flow_cpu: float = 0.0
    drain_seconds: float = 0.0
    recovery_bytes: int = 0
    idle_cpu_share: float = 0.0
    recovery: bool = True
    epoch_seconds: float = 0.0
    broker_cpu_share: float = float("nan")  # the broker's CPU over the window (same machine), share of a core
    others_cpu_share: float = float("nan")  # CPU of processes other than the flow, the broker and this one
    by_quarter: list[float] = field(default_factory=list)  # p50 (s) of samples by send time, per quarter of the window

    @property
    def rate(self) -> float:
        return self.sent / self.send_seconds if self.send_seconds else 0.0

    @property
    def cpu_per_event(self) -> float:
        return self.flow_cpu / self.sent if self.sent else float("nan")

    def pct(self, which: str = "create") -> dict[float, float]:
        return percentiles({"create": self.lat_create, "recv": self.lat_recv, "births": self.lat_births}[which])


def _family_of_events(messages: list[dict], first: int) -> list[str | None]:
    """Family of each message from ``first`` on, as the registries' facts say at that point."""
    fam: dict[str, str] = {}
    out: list[str | None] = []
    for i, m in enumerate(messages):
        t = m.get("type")
        data = m.get("data") or {}
        iin = m.get("iin")
        if t in ("person_registered", "family_changed", "birth") and iin and "family_id" in data:
            fam[iin] = data["family_id"]
        if i >= first:
            out.append(data.get("family_id") if t == "birth" else fam.get(iin or ""))
    return out


def _cpu_share(pid: int, seconds: float) -> float:
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def _machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (from /proc/stat)."""
    import os

    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def _self_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _quiet(bootstrap: str, topics: list[str], quiet: float = 2.0, timeout: float = 600) -> float:
    """Wait until none of ``topics`` got a new message for ``quiet`` seconds; returns the wait."""
    from confluent_kafka import OFFSET_END, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-latency-quiet", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 20})
    c.assign([TopicPartition(t, 0, OFFSET_END) for t in topics])
    t0 = last = time.monotonic()
    try:
        while time.monotonic() - last < quiet:
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"outputs still moving after {timeout} s")
            if any(m.error() is None for m in c.consume(1000, 0.1)):
                last = time.monotonic()
    finally:
        c.close()
    return time.monotonic() - t0


def measure(bootstrap: str, families: int, window: float, rate: float, work: Path, seed: int = 5,
            recovery: bool = True, epoch_seconds: float | None = None, trace: bool = False,
            broker_pid: int | None = None,
            linger_ms: float = 5.0, reader_wait_ms: int = 10, log=print) -> LatencyResult:  # type: ignore[no-untyped-def]
    from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition

    from bench.common import load_split
    from familycard.generator import generate
    from flows.kafka.admin import ensure_topics, produce_all
    from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS, topic_of

    if epoch_seconds is None:  # what `familycard run --kafka [--recovery]` uses by default
        from flows.runner import default_epoch_seconds

        epoch_seconds = default_epoch_seconds(live=True, recovery=recovery)
    messages = list(generate(families, START, 365, seed))
    split = load_split(messages, START)
    ticks = [i for i, m in enumerate(messages) if m["type"] == "day"]
    warm_end = ticks[WARM_DAYS - 1] + 1 if len(ticks) >= WARM_DAYS else split
    families_of = _family_of_events(messages, warm_end)
    want = int(rate * window)
    stream = [(m, f) for m, f in zip(messages[warm_end:], families_of) if m["type"] != "day"][:want]
    if len(stream) < want:
        log(f"[latency] only {len(stream)} events after the warm-up; the window will be shorter")
    warm = messages[:warm_end]
    sentinel = next(m for m in reversed(warm) if m.get("iin") and m["type"] != "day")

    run_id = uuid.uuid4().hex[:8]
    in_prefix, out_prefix = f"lat{run_id}.in.", f"lat{run_id}.out."
    notif_topic = out_prefix + OUTPUT_TOPICS["notifications"]
    dead_topic = out_prefix + OUTPUT_TOPICS["dead_letters"]
    ensure_topics(bootstrap, [in_prefix + t for t in INPUT_TOPICS] + [out_prefix + t for t in OUTPUT_TOPICS.values()])
    log(f"[latency] {families} families; warm-up {fmt_int(len(warm))} messages (load + {WARM_DAYS} days) ...")
    produce_all(bootstrap, ((in_prefix + topic_of(m), (m.get("iin") or "").encode() or None, orjson.dumps(m))
                            for m in warm), timeout=120)
    res = LatencyResult(families, len(warm), 0.0, rate, window, recovery=recovery, epoch_seconds=epoch_seconds)

    rec = work / "latency-recovery"
    shutil.rmtree(rec, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    flow_log = open(work / "latency-flow.log", "wb")
    t_start = time.monotonic()
    argv = [PY, "-m", "bench.flowproc", "full", "--bootstrap", bootstrap, "--in-prefix", in_prefix,
            "--out-prefix", out_prefix, "--live", "--epoch-seconds", str(epoch_seconds)]
    argv += ["--recovery", str(rec)] if recovery else []
    trace_file = work / "latency-trace.json"
    trace_file.unlink(missing_ok=True)
    argv += ["--trace", str(trace_file)] if trace else []
    # SIGINT stops the flow at the end; a shell's background job inherits it ignored, so restore it.
    flow = subprocess.Popen(argv, cwd=ROOT, stdout=flow_log, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # --- caught up: the sentinel's duplicate dead letter, then idle -------------------------
        offsets: list[int] = []
        prod = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        prod.produce(in_prefix + topic_of(sentinel), orjson.dumps(sentinel), sentinel["iin"].encode(),
                     on_delivery=lambda err, msg: offsets.append(msg.offset() or 0))
        prod.flush(30)
        sentinel_topic = in_prefix + topic_of(sentinel)
        dl = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-latency-dl", "enable.auto.commit": False,
                       "fetch.wait.max.ms": 50})
        dl.assign([TopicPartition(dead_topic, 0, 0)])
        found = False
        deadline = time.monotonic() + 1800
        while not found:
            if flow.poll() is not None:
                raise RuntimeError(f"flow exited ({flow.returncode}); see {work / 'latency-flow.log'}")
            if time.monotonic() > deadline:
                raise TimeoutError("the flow did not catch up with the warm-up within 30 min")
            for msg in dl.consume(500, 0.2):
                if msg.error() is None:
                    rec_ = orjson.loads(msg.value() or b"{}")
                    found = found or (rec_.get("source_topic") == sentinel_topic
                                      and rec_.get("offset") == offsets[0]
                                      and rec_["error"]["code"] == "duplicate")
        dl.close()
        outs = [out_prefix + t for t in OUTPUT_TOPICS.values()]
        _quiet(bootstrap, outs)
        res.warm_seconds = time.monotonic() - t_start
        res.idle_cpu_share = _cpu_share(flow.pid, 2.0)
        log(f"[latency] caught up after {res.warm_seconds:.1f} s (idle flow uses {100 * res.idle_cpu_share:.1f} % "
            f"of a core); sending {fmt_int(len(stream))} events at {rate:.0f}/s ...")

        # --- the reader -------------------------------------------------------------------------
        received: list[tuple[bytes, float, float]] = []  # (value, create ts s, receive time)
        stop_reader = threading.Event()
        ready = threading.Event()

        def read() -> None:
            c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-latency-reader",
                          "enable.auto.commit": False, "fetch.wait.max.ms": reader_wait_ms,
                          "fetch.min.bytes": 1})
            c.assign([TopicPartition(notif_topic, 0, OFFSET_END)])
            ready.set()
            while not stop_reader.is_set():
                for msg in c.consume(1000, 0.05):
                    now = time.time()
                    if msg.error() is None:
                        received.append((msg.value() or b"{}", msg.timestamp()[1] / 1000.0, now))
            c.close()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        ready.wait(10)
        time.sleep(1.0)  # let the reader's first fetch settle

        # --- the paced producer ----------------------------------------------------------------
        sent_at: dict[str, float] = {}
        pacer = Producer({"bootstrap.servers": bootstrap, "linger.ms": linger_ms, "compression.type": "none"})
        payloads = [(in_prefix + topic_of(m), orjson.dumps(m), (m.get("iin") or "").encode() or None, m["event_id"])
                    for m, _ in stream]
        cpu0 = cpu_seconds(flow.pid)
        others0 = (_machine_busy(), _self_cpu(), cpu_seconds(broker_pid) if broker_pid else 0.0)
        t_first = time.perf_counter()
        wall0 = time.time() - time.perf_counter()  # perf_counter → epoch seconds
        for i, (topic, value, key, eid) in enumerate(payloads):
            due = t_first + i / rate
            ahead = due - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
            now = time.perf_counter()
            pacer.produce(topic, value, key)
            sent_at[eid] = wall0 + now
            pacer.poll(0)
        res.send_seconds = time.perf_counter() - t_first
        busy, mine, brk = _machine_busy(), _self_cpu(), cpu_seconds(broker_pid) if broker_pid else 0.0
        flow_cpu = cpu_seconds(flow.pid) - cpu0
        if broker_pid:
            res.broker_cpu_share = (brk - others0[2]) / res.send_seconds
        res.others_cpu_share = ((busy - others0[0]) - (mine - others0[1]) - (brk - others0[2]) - flow_cpu) \
            / res.send_seconds
        pacer.flush(30)
        res.sent = len(payloads)
        res.births_sent = sum(1 for m, _ in stream if m["type"] == "birth")

        # --- drain: until no output moved for 2 s (then the 2 s are taken off) -----------------
        t_end = time.monotonic()
        _quiet(bootstrap, outs, timeout=300)
        res.drain_seconds = time.monotonic() - t_end - 2.0
        res.flow_cpu = cpu_seconds(flow.pid) - cpu0 - 2.0 * res.idle_cpu_share
        stop_reader.set()
        reader.join(10)
    finally:
        if flow.poll() is None:
            flow.send_signal(signal.SIGINT)
            try:
                flow.wait(30)
            except subprocess.TimeoutExpired:
                log("[latency] the flow did not stop within 30 s of SIGINT; killed")
                flow.kill()
                flow.wait(10)
        flow_log.close()
    res.recovery_bytes = sum(p.stat().st_size for p in rec.iterdir()) if rec.exists() else 0

    # --- attribution ---------------------------------------------------------------------------
    by_key: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for m, fam in stream:
        if fam is not None:
            by_key[(fam, m["occurred_on"])].append(m)
    res.notifications = len(received)
    quarters: list[list[float]] = [[], [], [], []]
    t_send0 = min(sent_at.values(), default=0.0)
    for value, ts, recv in received:
        rec_ = orjson.loads(value)
        cands = by_key.get((rec_.get("family_id"), rec_.get("occurred_on")), [])
        if len(cands) != 1:
            continue
        ev = cands[0]
        sent = sent_at[ev["event_id"]]
        res.attributed += 1
        res.by_event_type[ev["type"]] += 1
        res.lat_create.append(ts - sent)
        res.lat_recv.append(recv - sent)
        q = min(3, int(4 * (sent - t_send0) / max(res.send_seconds, 1e-9)))
        quarters[q].append(ts - sent)
        if ev["type"] == "birth":
            res.lat_births.append(ts - sent)
    res.by_quarter = [percentiles(q, (50,))[50] for q in quarters]
    p = res.pct()
    log(f"[latency] sent {fmt_int(res.sent)} in {res.send_seconds:.1f} s ({res.rate:.0f}/s, {res.births_sent} births); "
        f"{res.notifications} notifications, {res.attributed} attributed {dict(res.by_event_type)}")
    log(f"[latency] p50 {1000 * p[50]:.1f} ms, p99 {1000 * p[99]:.1f} ms, p99.9 {1000 * p[99.9]:.1f} ms "
        f"(max {1000 * max(res.lat_create, default=float('nan')):.1f}); CPU {1000 * res.cpu_per_event:.2f} ms/event")
    log(f"[latency] p50 by quarter of the window: {', '.join(f'{1000 * x:.0f}' for x in res.by_quarter)} ms; "
        f"outputs quiet {res.drain_seconds:.1f} s after the last send")
    log(f"[latency] over the window: broker {100 * res.broker_cpu_share:.0f} % of a core, other processes "
        f"{100 * res.others_cpu_share:.0f} % (a figure measured while others ran is not comparable)")
    if trace and trace_file.exists():
        _trace_report(trace_file, in_prefix, t_send0, t_send0 + res.send_seconds, log)
    return res


def _trace_report(path: Path, in_prefix: str, t0: float, t1: float, log) -> None:  # type: ignore[no-untyped-def]
    """Where the time goes, from ``bench.flowproc --trace``: per stage percentiles over the window."""
    data = orjson.loads(path.read_bytes())
    rel = {(t, p, o): (ts / 1000.0, f, r) for t, p, o, ts, f, r in data["released"]
           if t.startswith(in_prefix) and t0 - 1 <= ts / 1000.0 <= t1 + 1}
    fetch = [f - ts for ts, f, _ in rel.values() if f]
    hold = [r - f for _, f, r in rel.values() if f]

    def show(name: str, xs: list[float]) -> None:
        p = percentiles(xs, (50, 90, 99, 99.9))
        log(f"[trace] {name:<28} n={len(xs):>6}  p50 {1000 * p[50]:7.1f}  p90 {1000 * p[90]:7.1f}  "
            f"p99 {1000 * p[99]:7.1f}  p99.9 {1000 * p[99.9]:7.1f} ms")

    show("send -> fetched", fetch)
    show("fetched -> released", hold)
    by_out: dict[str, list[float]] = defaultdict(list)
    total: dict[str, list[float]] = defaultdict(list)
    for out, t, p, o, when in data["outputs"]:
        r = rel.get((t, p, o))
        if r is not None:
            by_out[out].append(when - r[2])
            total[out].append(when - r[0])
    for out in sorted(by_out):
        show(f"released -> {out} sink", by_out[out])
        show(f"send -> {out} sink", total[out])
    calls = [c for c in data["calls"] if t0 - 1 <= c[0] <= t1 + 1]
    gaps = [b[0] - (a[0] + a[1]) for a, b in zip(calls, calls[1:])]
    show("gap between next_batch", gaps)
    show("next_batch duration", [c[1] for c in calls])
    # Epoch boundaries: the source's next call after its snapshot waits for the epoch to be committed.
    snaps = [t for t in data.get("snapshots", []) if t0 - 1 <= t <= t1 + 1]
    starts = [c[0] for c in calls]
    pauses = []
    for t in snaps:
        later = [s for s in starts if s > t]
        if later:
            pauses.append(later[0] - t)
    if snaps:
        log(f"[trace] epochs closed in the window: {len(snaps)}")
        show("epoch close -> next poll", pauses)
    ks = [k for k in data.get("key_snapshots", []) if t0 - 1 <= k[1] <= t1 + 1]
    if ks and snaps:
        per_class: dict[str, list[float]] = defaultdict(list)
        for cls, _, sec in ks:
            per_class[cls].append(sec)
        log("[trace] key snapshots per epoch close: " + ", ".join(
            f"{cls} {len(v) / len(snaps):.0f} keys {1000 * sum(v) / len(snaps):.1f} ms"
            for cls, v in sorted(per_class.items())))
    flushes = [f[1] for f in data.get("flushes", []) if t0 - 1 <= f[0] <= t1 + 1]
    if flushes:
        show("sink snapshot (flush)", flushes)
    gcs = [g for g in data.get("gc", []) if t0 - 1 <= g[1] <= t1 + 1]
    for gen in (0, 1, 2):
        xs = [g[2] for g in gcs if g[0] == gen]
        if xs:
            log(f"[trace] GC generation {gen}: {len(xs)} collections, {1000 * sum(xs):.0f} ms in all, "
                f"longest {1000 * max(xs):.1f} ms")
    n = [c[2] for c in calls]
    log(f"[trace] next_batch calls {len(calls)} in the window, {sum(1 for x in n if x)} non-empty, "
        f"mean batch {sum(n) / max(1, sum(1 for x in n if x)):.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.latency")
    ap.add_argument("--families", type=int, default=3000)
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--no-recovery", action="store_true")
    ap.add_argument("--epoch-seconds", type=float, default=None,
                    help="default: familycard's for live mode (flows.runner.default_epoch_seconds)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/familycard-bench/latency"))
    ap.add_argument("--linger-ms", type=float, default=5.0,
                    help="the paced producer's linger.ms (librdkafka's default 5; the send time is taken at produce(), "
                         "so the linger counts in the latency)")
    ap.add_argument("--reader-wait-ms", type=int, default=10, help="the notifications reader's fetch.wait.max.ms")
    ap.add_argument("--trace", action="store_true",
                    help="also break the latency down along the path (bench.flowproc --trace)")
    a = ap.parse_args()
    with broker(a.work) as b:
        measure(b.bootstrap, a.families, a.window, a.rate, a.work, recovery=not a.no_recovery, broker_pid=b.pid,
                epoch_seconds=a.epoch_seconds, trace=a.trace, linger_ms=a.linger_ms, reader_wait_ms=a.reader_wait_ms)


if __name__ == "__main__":
    main()
