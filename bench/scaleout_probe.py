"""What a second Bytewax process can buy on this machine, with none of familycard's code.

The issue's target is "2 worker processes ≥ 1.6× the throughput of 1"; familycard's flow is
*slower* with 2 processes. This probe asks whether that is familycard's fault or what Bytewax
(0.21) itself costs here, with a flow that has familycard's shape and nothing else:

    one-partition JSON-lines reader (batches of 1 000 lines)
      → ``orjson.loads``
      → key by ``crc32(iin) % 4096`` → ``stateful_map`` (count per key + busy work)
      → re-key by ``crc32(event_id) % 4096`` → ``stateful_map`` (count per key + busy work)
      → a ``DynamicSink`` that only counts what it receives.

The busy work is a pure-Python loop calibrated once (in the parent) to microseconds, so
"work W µs" means each item costs about W µs of interpreter time at *each* stateful step,
standing in for what familycard's person, family and rule stages do per message.

Why a second process may buy little or nothing:

- the exchange in front of each stateful step routes every item to the worker that owns its
  key; with 2 processes about half of the items belong to the other process, and each of
  those is pickled (the parsed ``dict`` with it), written to a loopback TCP socket and
  unpickled on the other side: twice per item here, once per stateful step. Within one
  process nothing is pickled;
- the reader and ``orjson.loads`` stay on the one worker that owns the single source
  partition (stateless steps are not exchanged), so that worker does all the parsing and
  all the pickling of the first exchange;
- the two processes share 2 cores with everything else on the machine.

With no busy work, the fixed per-item cost of the exchange dominates and 2 processes are
slower than 1; the probe finds how much per-item work a stateful step must do before the
second process pays off.

How: each configuration runs in fresh child processes (1 process: no addresses; 2
processes: a cluster of ``process_id`` 0 and 1 on two free loopback ports, as
``flows.runner.run_cluster`` starts familycard's). Process ``i`` waits until the processes
below it listen before calling ``cli_main``: timely otherwise retries a refused connection
only after a whole second, a random +1 s that is start-up, not throughput. Measured per run:

- wall: first spawn to last exit (interpreter start-up, cluster connection and shutdown
  included); the headline speed-up is 1-process wall / 2-process wall;
- processing: the source's first read to the sinks' last write (monotonic timestamps the
  children write), i.e. throughput only;
- CPU: user + system of each child (``os.wait4``);
- others: CPU the rest of the machine used meanwhile (``/proc/stat`` busy time minus the
  children's), since other jobs share the 2 cores and can swamp the comparison.

Each configuration is run ``repeat`` times, 1 and 2 processes interleaved, and the fastest
run (by wall clock) is kept. A ceiling is measured the same way without Bytewax: the busy
loop for ``ceiling_seconds`` in one process vs half of it in each of two, i.e. the most a
second process can buy on this machine at that moment.

Correctness check: each sink partition writes how many items it received and the sum of
the two running counts they carry; the parent sums them per configuration. The number of
items must equal the lines read, and the sum of counts (which depends only on how many
items each key saw, not on their order) must be the same for 1 and 2 processes: a key split
between processes would change it.

With heavy busy work a run of the whole file would take minutes, so for work > 0 only the
first ``busy_budget / (2 × work)`` lines are read (about ``busy_budget`` seconds of busy
work per 1-process run); the table shows how many items each row processed.

Run alone: ``python -m bench.scaleout_probe [--families 2000] [--work 0,20,50,100,200]
[--repeat 2]``. ``bench.run`` can call ``measure()`` and include ``ProbeResult.markdown()``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zlib import crc32

import orjson

__all__ = ["ProbeRow", "ProbeResult", "RunFigures", "Ceiling", "measure", "measure_ceiling", "run_once",
           "calibrate", "build_flow", "main"]

ROOT = Path(__file__).resolve().parent.parent
START = dt.date(2026, 1, 1)
BATCH_LINES = 1000
KEYS = 4096
DEFAULT_WORK = (0, 20, 50, 100, 200)
WORKER_FLAG = "--_worker"


# --- busy work --------------------------------------------------------------------------------

def spin(n: int) -> int:
    """``n`` iterations of a pure-Python loop (the busy work)."""
    x = 0
    for i in range(n):
        x += i
    return x


def calibrate(trials: int = 15, n: int = 500_000) -> float:
    """Loop iterations per microsecond of ``spin`` on this machine (best of ``trials``, each
    some 20 ms, so that one of them runs without being preempted by other jobs)."""
    best = float("inf")
    for _ in range(trials):
        t = time.perf_counter()
        spin(n)
        best = min(best, time.perf_counter() - t)
    return n / (best * 1e6)


# --- the flow ---------------------------------------------------------------------------------

def _lines(path: Path, limit: int, out_dir: Path, process_id: int) -> Any:
    from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

    class LinesPartition(StatefulSourcePartition[bytes, int]):
        def __init__(self, resume: int | None) -> None:
            self._fh = open(path, "rb")  # noqa: SIM115 - closed in close()
            self._read = 0
            self._first: float | None = None
            for _ in range(resume or 0):
                self._fh.readline()
                self._read += 1

        def next_batch(self) -> list[bytes]:
            if self._first is None:
                self._first = time.monotonic()
            n = min(BATCH_LINES, limit - self._read)
            batch = list(itertools.islice(self._fh, n)) if n > 0 else []
            if not batch:
                raise StopIteration
            self._read += len(batch)
            return batch

        def snapshot(self) -> int:
            return self._read

        def close(self) -> None:
            self._fh.close()
            (out_dir / "source.json").write_bytes(orjson.dumps({"first_read": self._first, "process": process_id}))

    class LinesSource(FixedPartitionedSource[bytes, int]):
        """One partition: the whole file, in batches of ``BATCH_LINES`` lines."""

        def list_parts(self) -> list[str]:
            return ["lines"]

        def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> LinesPartition:
            return LinesPartition(resume_state)

    return LinesSource()


def _counting_sink(out_dir: Path, process_id: int) -> Any:
    from bytewax.outputs import DynamicSink, StatelessSinkPartition

    class CountingPartition(StatelessSinkPartition[Any]):
        def __init__(self, worker_index: int) -> None:
            self._path = out_dir / f"sink-p{process_id}-w{worker_index}.json"
            self.items = 0
            self.count_sum = 0
            self.last_write: float | None = None

        def write_batch(self, items: list[Any]) -> None:
            if not items:
                return
            self.last_write = time.monotonic()
            self.items += len(items)
            self.count_sum += sum(n1 + n2 for _, (n1, n2) in items)

        def close(self) -> None:
            self._path.write_bytes(orjson.dumps({"items": self.items, "count_sum": self.count_sum,
                                                     "last_write": self.last_write}))

    class CountingSink(DynamicSink[Any]):
        def build(self, step_id: str, worker_index: int, worker_count: int) -> CountingPartition:
            return CountingPartition(worker_index)

    return CountingSink()


def _key(text: str) -> str:
    return str(crc32(text.encode()) % KEYS)


def build_flow(path: Path, limit: int, iters: int, out_dir: Path, process_id: int = 0) -> Any:
    """The trivial flow: read → parse → key by IIN → count → re-key by event id → count → sink.

    ``iters``: iterations of ``spin`` per item at each stateful step (0: none).
    """
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow

    def count_iin(state: int | None, msg: dict) -> tuple[int, tuple[dict, int]]:
        if iters:
            spin(iters)
        n = (state or 0) + 1
        return n, (msg, n)

    def count_event(state: int | None, value: tuple[dict, int]) -> tuple[int, tuple[int, int]]:
        if iters:
            spin(iters)
        n = (state or 0) + 1
        return n, (value[1], n)

    flow = Dataflow("scaleout_probe")
    lines = op.input("read", flow, _lines(path, limit, out_dir, process_id))
    msgs = op.map("parse", lines, orjson.loads)
    by_iin = op.key_on("key_iin", msgs, lambda m: _key(m.get("iin", "")))
    counted = op.stateful_map("count_iin", by_iin, count_iin)
    by_event = op.key_on("key_event", op.map("unkey", counted, lambda kv: kv[1]),
                         lambda v: _key(v[0]["event_id"]))
    twice = op.stateful_map("count_event", by_event, count_event)
    op.output("sink", twice, _counting_sink(out_dir, process_id))
    return flow


def _listening(port: int) -> bool:
    """Whether some socket on this machine listens on 127.0.0.1:``port`` (from /proc/net/tcp)."""
    want = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp") as fh:
            next(fh)
            return any(f[1] == want and f[3] == "0A" for f in (line.split() for line in fh))
    except OSError:
        return True  # cannot tell: let timely's own retry handle it


def _wait_for_peers(addresses: list[str], process_id: int, timeout: float = 10.0) -> None:
    """Wait until the lower-numbered processes listen before ``cli_main`` connects to them.

    Timely's process ``i`` connects to every process ``j < i`` and, if ``j`` is not listening
    yet, sleeps a whole second before retrying: a random +1 s in a cluster's start-up that has
    nothing to do with throughput and would swamp a run of a few seconds.
    """
    deadline = time.monotonic() + timeout
    ports = [int(a.rsplit(":", 1)[1]) for a in addresses[:process_id]]
    while ports and time.monotonic() < deadline:
        ports = [p for p in ports if not _listening(p)]
        if ports:
            time.sleep(0.005)


def _worker_main(argv: Sequence[str]) -> None:
    """A child: ``python -m bench.scaleout_probe --_worker --input F --limit N --iters K --out D
    [--process-id I --addresses A;B]``. Writes ``time-p{I}.json`` (monotonic clock around
    ``cli_main``), and from its sink partition ``sink-p{I}-w{worker}.json``; the process
    holding the source partition also writes ``source.json``."""
    from bytewax.run import cli_main

    ap = argparse.ArgumentParser()
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--limit", type=int, required=True)
    ap.add_argument("--iters", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epoch-seconds", type=float, required=True)
    ap.add_argument("--process-id", type=int)
    ap.add_argument("--addresses")
    a = ap.parse_args(argv)
    pid = a.process_id or 0
    addresses = a.addresses.split(";") if a.addresses else None
    flow = build_flow(a.input, a.limit, a.iters, a.out, pid)
    t0 = time.monotonic()  # CLOCK_MONOTONIC: comparable between processes on one machine
    if addresses:
        _wait_for_peers(addresses, pid)
    cli_main(flow, workers_per_process=1, process_id=a.process_id, addresses=addresses,
             epoch_interval=dt.timedelta(seconds=a.epoch_seconds))
    t1 = time.monotonic()
    (a.out / f"time-p{pid}.json").write_bytes(orjson.dumps({"start": t0, "end": t1}))


# --- running it -------------------------------------------------------------------------------

@dataclass
class RunFigures:
    """One run of one configuration."""

    processes: int
    wall: float  # spawn of the first child to exit of the last
    flow: float  # first cli_main entry to last cli_main return
    processing: float  # the source's first read to the sinks' last write
    cpu: float  # user + system seconds of all children
    items: int  # items that reached the sinks
    count_sum: int  # sum of both running counts over all items (order-independent)
    cpu_each: list[float] = field(default_factory=list)  # per child, by process id
    reader: int = 0  # process id of the process that read the file
    others_cpu: float = 0.0  # CPU seconds other processes on the machine used during the run


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent not idle (all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
    except OSError:
        return float("nan")
    idle = f[3] + (f[4] if len(f) > 4 else 0)  # idle + iowait
    busy = sum(f[:8]) - idle  # user nice system idle iowait irq softirq steal (guest is in user)
    return busy / os.sysconf("SC_CLK_TCK")


@dataclass
class _Children:
    wall: float  # spawn of the first child to exit of the last
    cpu_each: list[float]  # user + system seconds, per child
    others_cpu: float  # CPU seconds the rest of the machine used meanwhile (this process included)


def _run_children(argvs: list[list[str]], logs_dir: Path, timeout: float) -> _Children:
    """Start all ``argvs`` at once, wait for all; any failure stops the others and raises."""
    env = dict(os.environ)
    env.setdefault("PYTHONHASHSEED", "0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    logs = [logs_dir / f"log-{i}.txt" for i in range(len(argvs))]
    done: queue.Queue[tuple[int, int, float]] = queue.Queue()

    def reap(i: int, pid: int) -> None:
        _, status, ru = os.wait4(pid, 0)
        done.put((i, os.waitstatus_to_exitcode(status), ru.ru_utime + ru.ru_stime))

    busy0 = _machine_busy()
    t0 = time.monotonic()
    procs = []
    for argv, log in zip(argvs, logs, strict=True):
        with open(log, "wb") as fh:
            procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT))
    for i, proc in enumerate(procs):
        threading.Thread(target=reap, args=(i, proc.pid), daemon=True).start()
    cpu_each = [0.0] * len(procs)
    try:
        for _ in procs:
            left = timeout - (time.monotonic() - t0)
            try:
                i, code, cpu = done.get(timeout=max(0.0, left))
            except queue.Empty:
                raise TimeoutError(f"ran longer than {timeout} s") from None
            procs[i].returncode = code  # reaped by wait4: Popen must not wait for it again
            cpu_each[i] = cpu
            if code != 0:
                raise RuntimeError(f"child {i} exited with {code}")
        wall = time.monotonic() - t0
    except BaseException as exc:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()  # a child of ours, by its own handle; its reaper thread collects it
        tails = "\n".join(f"--- child {i} ({' '.join(argvs[i][3:6])}...):\n"
                          + log.read_text(errors="replace")[-3000:] for i, log in enumerate(logs))
        raise RuntimeError(f"{exc}\n{tails}") from None
    others = _machine_busy() - busy0 - sum(cpu_each)
    return _Children(wall, cpu_each, max(0.0, others))


def run_once(processes: int, path: Path, limit: int, iters: int, epoch_seconds: float = 0.0,
             timeout: float = 600.0) -> RunFigures:
    """Run the flow once as ``processes`` fresh child processes and time it."""
    with tempfile.TemporaryDirectory(prefix="scaleout-probe-") as tmp:
        out = Path(tmp)
        base = [sys.executable, "-m", "bench.scaleout_probe", WORKER_FLAG, "--input", str(path),
                "--limit", str(limit), "--iters", str(iters), "--out", str(out),
                "--epoch-seconds", str(epoch_seconds)]
        argvs = [base]
        if processes > 1:
            addresses = ";".join(f"127.0.0.1:{p}" for p in _free_ports(processes))
            argvs = [base + ["--process-id", str(i), "--addresses", addresses] for i in range(processes)]
        try:
            ch = _run_children(argvs, out, timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{processes}-process run failed: {exc}") from None
        times = [orjson.loads((out / f"time-p{i}.json").read_bytes()) for i in range(processes)]
        sinks = [orjson.loads(p.read_bytes()) for p in sorted(out.glob("sink-*.json"))]
        if len(sinks) != processes:
            raise RuntimeError(f"expected {processes} sink counts, found {len(sinks)}")
        source = orjson.loads((out / "source.json").read_bytes())
        first_read = source["first_read"]
        last_write = max((s["last_write"] for s in sinks if s["last_write"] is not None), default=first_read)
        return RunFigures(processes, ch.wall, max(t["end"] for t in times) - min(t["start"] for t in times),
                          last_write - first_read, sum(ch.cpu_each),
                          sum(s["items"] for s in sinks), sum(s["count_sum"] for s in sinks), ch.cpu_each,
                          source["process"], ch.others_cpu)


@dataclass
class Ceiling:
    """The same busy loop without Bytewax: 1 process doing all of it vs 2 doing half each.

    The most a second process can buy on this machine at this moment (other jobs share the
    cores); the probe's speed-ups are to be read against it.
    """

    seconds: float  # busy work of the 1-process run
    one: float  # wall, best of the repeats
    two: float
    others_cpu_one: float = 0.0  # other processes' CPU seconds during the best runs
    others_cpu_two: float = 0.0

    @property
    def speedup(self) -> float:
        return self.one / self.two


def measure_ceiling(seconds: float, iters_per_us: float, repeat: int, timeout: float = 300.0) -> Ceiling:
    n = round(seconds * 1e6 * iters_per_us)
    best: dict[int, _Children] = {}
    with tempfile.TemporaryDirectory(prefix="scaleout-probe-ceiling-") as tmp:
        for _ in range(repeat):
            for procs in (1, 2):
                argv = [sys.executable, "-c", f"from bench.scaleout_probe import spin; spin({n // procs})"]
                ch = _run_children([argv] * procs, Path(tmp), timeout)
                if procs not in best or ch.wall < best[procs].wall:
                    best[procs] = ch
    return Ceiling(seconds, best[1].wall, best[2].wall, best[1].others_cpu, best[2].others_cpu)


# --- the result -------------------------------------------------------------------------------

@dataclass
class ProbeRow:
    work_us: float
    items: int
    one: RunFigures  # fastest 1-process run
    two: RunFigures  # fastest 2-process run

    @property
    def speedup(self) -> float:
        """1-process wall time / 2-process wall time (> 1: the second process helps)."""
        return self.one.wall / self.two.wall

    @property
    def processing_speedup(self) -> float:
        """The same from the processing spans (first read to last sink write): throughput only,
        start-up, cluster connection and shutdown left out."""
        return self.one.processing / self.two.processing


@dataclass
class ProbeResult:
    families: int
    lines: int
    iters_per_us: float
    repeat: int
    epoch_seconds: float
    busy_budget: float
    rows: list[ProbeRow] = field(default_factory=list)
    ceiling: Ceiling | None = None
    iters_per_us_after: float = 0.0  # the calibration repeated at the end (drift = machine noise)

    HEADER = ("work µs/item/step", "items", "1 proc s", "2 proc s", "speed-up",
              "processing 1 / 2 s", "processing speed-up", "CPU 1 / 2 s", "others' cores 1 / 2")

    @staticmethod
    def _cells(r: ProbeRow) -> list[str]:
        return [f"{r.work_us:g}", _int(r.items), f"{r.one.wall:.2f}", f"{r.two.wall:.2f}",
                f"{r.speedup:.2f}×", f"{r.one.processing:.2f} / {r.two.processing:.2f}",
                f"{r.processing_speedup:.2f}×", f"{r.one.cpu:.2f} / {r.two.cpu:.2f}",
                f"{r.one.others_cpu / r.one.wall:.2f} / {r.two.others_cpu / r.two.wall:.2f}"]

    def ceiling_line(self) -> str:
        c = self.ceiling
        if c is None:
            return ""
        return (f"Ceiling (same busy loop, no Bytewax: {c.seconds:g} s in 1 process vs half in each of 2): "
                f"{c.one:.2f} s vs {c.two:.2f} s = {c.speedup:.2f}× (others' cores "
                f"{c.others_cpu_one / c.one:.2f} / {c.others_cpu_two / c.two:.2f}).")

    def table(self) -> str:
        """Plain-text table for the terminal."""
        rows = [list(self.HEADER)] + [self._cells(r) for r in self.rows]
        widths = [max(len(row[i]) for row in rows) for i in range(len(self.HEADER))]
        text = "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
        return text + ("\n" + self.ceiling_line() if self.ceiling else "")

    def markdown(self) -> str:
        """A Markdown table with a one-paragraph caption."""
        caption = (f"Trivial Bytewax flow (one-partition reader → `orjson.loads` → key → `stateful_map` → "
                   f"re-key → `stateful_map` → null sink), input from {self.families} families "
                   f"({_int(self.lines)} lines); work = busy loop per item at each stateful step; best of "
                   f"{self.repeat} (by wall clock); epoch interval {self.epoch_seconds:g} s. Speed-up = "
                   f"1-process wall / 2-process wall (fresh processes, start-up included); processing = "
                   f"source's first read to the sinks' last write (throughput only); CPU = all children, "
                   f"user + system; others' cores = CPU used by other processes on the machine during the "
                   f"run / its wall time. Busy loop calibrated at {self.iters_per_us:.1f} iterations/µs "
                   f"({self.iters_per_us_after:.1f} at the end).")
        out = [caption, "",
               "| " + " | ".join(self.HEADER) + " |",
               "|" + "|".join("---:" for _ in self.HEADER) + "|"]
        out += ["| " + " | ".join(self._cells(r)) + " |" for r in self.rows]
        if self.ceiling:
            out += ["", self.ceiling_line()]
        return "\n".join(out)


def _int(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def items_for(work_us: float, lines: int, busy_budget: float) -> int:
    """Lines to read for ``work_us``: all of them, or about ``busy_budget`` seconds of busy work
    per 1-process run (two stateful steps per item)."""
    if work_us <= 0:
        return lines
    return max(1, min(lines, int(busy_budget * 1e6 / (2 * work_us))))


def measure(families: int = 2000, work: Iterable[float] = DEFAULT_WORK, repeat: int = 2, *, days: int = 365,
            seed: int = 7, epoch_seconds: float = 0.0, busy_budget: float = 3.0, ceiling_seconds: float = 2.0,
            work_dir: Path | None = None, log: Callable[[str], Any] = print) -> ProbeResult:
    """Generate the input, then run 1 and 2 processes at each busy-work level (and, unless
    ``ceiling_seconds`` is 0, the no-Bytewax ceiling)."""
    from familycard.generator import generate

    work = list(work)
    with tempfile.TemporaryDirectory(prefix="scaleout-probe-input-") as tmp:
        path = (work_dir or Path(tmp)) / f"probe-{families}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = 0
        with open(path, "wb") as fh:
            for m in generate(families, START, days, seed):
                fh.write(orjson.dumps(m) + b"\n")
                lines += 1
        rate = calibrate()
        res = ProbeResult(families, lines, rate, repeat, epoch_seconds, busy_budget)
        log(f"[scaleout] {families} families -> {lines} lines; busy loop: {rate:.1f} iterations/µs")
        if ceiling_seconds > 0:
            res.ceiling = measure_ceiling(ceiling_seconds, rate, repeat)
            log(f"[scaleout] {res.ceiling_line()}")
        for w in work:
            n = items_for(w, lines, busy_budget)
            iters = round(w * rate)
            best: dict[int, RunFigures] = {}
            for _ in range(repeat):
                for procs in (1, 2):  # interleaved, so a slow spell of the machine hits both
                    f = run_once(procs, path, n, iters, epoch_seconds)
                    if f.items != n:
                        raise AssertionError(f"{procs} process(es) processed {f.items} items, expected {n}")
                    if procs not in best or f.wall < best[procs].wall:
                        best[procs] = f
            one, two = best[1], best[2]
            if (one.items, one.count_sum) != (two.items, two.count_sum):
                raise AssertionError(f"1 vs 2 processes disagree: items {one.items} vs {two.items}, "
                                     f"count sums {one.count_sum} vs {two.count_sum}")
            row = ProbeRow(w, n, one, two)
            res.rows.append(row)
            log(f"[scaleout] work {w:g} µs ({iters} iterations) x {n} items: "
                + ", ".join(f"{f.processes} proc {f.wall:.2f} s (flow {f.flow:.2f}, processing {f.processing:.2f}, "
                            f"cpu {' + '.join(f'{c:.2f}' for c in f.cpu_each)}, others {f.others_cpu:.2f})"
                            for f in (one, two))
                + f", speed-up {row.speedup:.2f}x (processing {row.processing_speedup:.2f}x)")
        res.iters_per_us_after = calibrate()
        log(f"[scaleout] busy loop at the end: {res.iters_per_us_after:.1f} iterations/µs")
    return res


def main(argv: Sequence[str] | None = None) -> ProbeResult | None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [WORKER_FLAG]:
        _worker_main(argv[1:])
        return None
    ap = argparse.ArgumentParser(prog="python -m bench.scaleout_probe", description=__doc__.split("\n")[0])
    ap.add_argument("--families", type=int, default=2000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--work", default=",".join(str(w) for w in DEFAULT_WORK),
                    help="µs of busy work per item per stateful step, comma-separated")
    ap.add_argument("--repeat", type=int, default=2, help="runs per configuration; the fastest is kept")
    ap.add_argument("--epoch-seconds", type=float, default=0.0,
                    help="Bytewax epoch interval (0, every batch an epoch, as familycard's file replays)")
    ap.add_argument("--busy-budget", type=float, default=3.0,
                    help="for work > 0, read only enough lines for about this many seconds of busy work")
    ap.add_argument("--ceiling-seconds", type=float, default=2.0,
                    help="busy seconds of the no-Bytewax ceiling measurement (0: skip it)")
    ap.add_argument("--markdown", action="store_true", help="print the Markdown table too")
    a = ap.parse_args(argv)
    t = time.monotonic()
    res = measure(a.families, [float(w) for w in a.work.split(",") if w.strip()], a.repeat, days=a.days,
                  epoch_seconds=a.epoch_seconds, busy_budget=a.busy_budget,
                  ceiling_seconds=a.ceiling_seconds)
    print()
    print(res.table())
    if a.markdown:
        print()
        print(res.markdown())
    print(f"\n[scaleout] total {time.monotonic() - t:.1f} s")
    return res


if __name__ == "__main__":
    main()
