"""Event → notification latency over Kafka at a steady rate, recovery on.

1. A population of P families is generated; its population load and first ``WARM_DAYS`` days
   (with their ``day`` ticks) are produced to the input topics.
2. The full flow starts live (``bench.flowproc full --live --recovery DIR``: one process,
   epoch interval 0 as ``familycard run --kafka``) and drains that backlog. It is *caught up*
   when a sentinel (a re-sent copy of the last warm-up life event) has come back as a
   ``duplicate`` dead letter — it went through decode, route and the person stage after
   everything before it — and the flow process has then been idle (< 10 % CPU) for 1 s.
3. A producer thread sends the following events of the generated year, in generator order,
   paced at RATE events/s for WINDOW seconds (``linger.ms`` 0, send time recorded per event).
   The year's own mix (births ≈ 1.5 %, contributions most) is kept; ``day`` ticks are left
   out: live, a tick comes once a day, not once per ~50 events as in a compressed year.
4. A reader thread follows ``notifications``. A notification is attributed to the input event
   of the same family and ``occurred_on`` when exactly one event of the window has both
   (others are counted as unattributed, not guessed). Latency = the notification's Kafka
   timestamp (CreateTime: when the flow's sink produced it) − the event's send time; the
   reader's receive time gives the end-to-end figure a consumer sees.

CPU per event = the flow process's CPU seconds from the first send until it is idle again,
divided by the events sent. Run alone: ``python -m bench.latency --window 20``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def _wait_idle(pid: int, share: float = 0.10, quiet: float = 1.0, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    last_t, last_c = time.monotonic(), cpu_seconds(pid)
    quiet_since = None
    while time.monotonic() < deadline:
        time.sleep(0.25)
        t, c = time.monotonic(), cpu_seconds(pid)
        busy = (c - last_c) / (t - last_t) > share
        last_t, last_c = t, c
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = t
        elif t - quiet_since >= quiet:
            return
    raise TimeoutError("flow did not go idle")


def measure(bootstrap: str, families: int, window: float, rate: float, work: Path, seed: int = 5,
            log=print) -> LatencyResult:  # type: ignore[no-untyped-def]
    from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition

    from bench.common import load_split
    from familycard.generator import generate
    from flows.kafka_io import ensure_topics, produce_all
    from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS, topic_of

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
    res = LatencyResult(families, len(warm), 0.0, rate, window)

    rec = work / "latency-recovery"
    shutil.rmtree(rec, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    flow_log = open(work / "latency-flow.log", "wb")
    t_start = time.monotonic()
    flow = subprocess.Popen([PY, "-m", "bench.flowproc", "full", "--bootstrap", bootstrap, "--in-prefix", in_prefix,
                             "--out-prefix", out_prefix, "--recovery", str(rec), "--live"],
                            cwd=ROOT, stdout=flow_log, stderr=subprocess.STDOUT)
    try:
        # --- caught up: the sentinel's duplicate dead letter, then idle -------------------------
        offsets: list[int] = []
        prod = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        prod.produce(in_prefix + topic_of(sentinel), orjson.dumps(sentinel), sentinel["iin"].encode(),
                     on_delivery=lambda err, msg: offsets.append(msg.offset()))
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
                    rec_ = orjson.loads(msg.value())
                    found = found or (rec_.get("source_topic") == sentinel_topic
                                      and rec_.get("offset") == offsets[0]
                                      and rec_["error"]["code"] == "duplicate")
        dl.close()
        _wait_idle(flow.pid)
        res.warm_seconds = time.monotonic() - t_start
        c0, t0 = cpu_seconds(flow.pid), time.monotonic()
        time.sleep(2.0)
        res.idle_cpu_share = (cpu_seconds(flow.pid) - c0) / (time.monotonic() - t0)
        log(f"[latency] caught up after {res.warm_seconds:.1f} s (idle flow uses {100 * res.idle_cpu_share:.1f} % "
            f"of a core); sending {fmt_int(len(stream))} events at {rate:.0f}/s ...")

        # --- the reader -------------------------------------------------------------------------
        received: list[tuple[bytes, float, float]] = []  # (value, create ts s, receive time)
        stop_reader = threading.Event()
        ready = threading.Event()

        def read() -> None:
            c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-latency-reader",
                          "enable.auto.commit": False, "fetch.wait.max.ms": 5, "fetch.min.bytes": 1})
            c.assign([TopicPartition(notif_topic, 0, OFFSET_END)])
            ready.set()
            while not stop_reader.is_set():
                for msg in c.consume(1000, 0.05):
                    now = time.time()
                    if msg.error() is None:
                        received.append((msg.value(), msg.timestamp()[1] / 1000.0, now))
            c.close()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        ready.wait(10)
        time.sleep(1.0)  # let the reader's first fetch settle

        # --- the paced producer ----------------------------------------------------------------
        sent_at: dict[str, float] = {}
        pacer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "compression.type": "none"})
        payloads = [(in_prefix + topic_of(m), orjson.dumps(m), (m.get("iin") or "").encode() or None, m["event_id"])
                    for m, _ in stream]
        cpu0 = cpu_seconds(flow.pid)
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
        pacer.flush(30)
        res.sent = len(payloads)
        res.births_sent = sum(1 for m, _ in stream if m["type"] == "birth")

        # --- drain: until the flow is idle and no notification came for 2 s ---------------------
        t_end = time.monotonic()
        last_n, last_change = -1, time.monotonic()
        while time.monotonic() - t_end < 120:
            time.sleep(0.25)
            if len(received) != last_n:
                last_n, last_change = len(received), time.monotonic()
            elif time.monotonic() - last_change > 2.0:
                break
        _wait_idle(flow.pid, timeout=120)
        res.drain_seconds = time.monotonic() - t_end
        res.flow_cpu = cpu_seconds(flow.pid) - cpu0
        stop_reader.set()
        reader.join(10)
    finally:
        if flow.poll() is None:
            flow.send_signal(signal.SIGINT)
            try:
                flow.wait(30)
            except subprocess.TimeoutExpired:
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
        if ev["type"] == "birth":
            res.lat_births.append(ts - sent)
    p = res.pct()
    log(f"[latency] sent {fmt_int(res.sent)} in {res.send_seconds:.1f} s ({res.rate:.0f}/s, {res.births_sent} births); "
        f"{res.notifications} notifications, {res.attributed} attributed {dict(res.by_event_type)}")
    log(f"[latency] p50 {1000 * p[50]:.1f} ms, p99 {1000 * p[99]:.1f} ms, p99.9 {1000 * p[99.9]:.1f} ms "
        f"(max {1000 * max(res.lat_create, default=float('nan')):.1f}); CPU {1000 * res.cpu_per_event:.2f} ms/event")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.latency")
    ap.add_argument("--families", type=int, default=3000)
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/familycard-bench/latency"))
    a = ap.parse_args()
    with broker(a.work) as b:
        measure(b.bootstrap, a.families, a.window, a.rate, a.work)
    os.sys.stdout.flush()


if __name__ == "__main__":
    main()
