"""Shared pieces of the benchmarks: the machine, a Kafka-protocol broker, process watching.

Nothing here knows about familycard's flows; the benchmark modules (``bench.kafka_throughput``,
``bench.population``, ``bench.latency``, ``bench.batch``, ``bench.profile``) use it, and
``bench.run`` ties them together and writes ``bench/RESULTS.md``.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from familycard.devbroker import local_tansu, tansu_binary, tansu_version

__all__ = [
    "BENCH_DIR", "ROOT", "PY", "machine", "Broker", "broker", "Watched", "run_watched", "percentiles",
    "fmt_int", "fmt_bytes", "Target", "load_split", "write_messages", "people_in",
]

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PY = sys.executable
GIB = 1024 ** 3


# --- the machine ------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def machine(broker_version: str) -> dict[str, str]:
    """What the figures were measured on (printed and written to RESULTS.md)."""
    import confluent_kafka

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} logical cores (affinity: {len(os.sched_getaffinity(0))})",
        "ram": f"{_ram_bytes() / GIB:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "bytewax": _version("bytewax"),
        "confluent-kafka": f"{confluent_kafka.version()[0]} (librdkafka {confluent_kafka.libversion()[0]})",
        "duckdb": _version("duckdb"),
        "broker": broker_version,
    }


# --- a broker ---------------------------------------------------------------------------------

@dataclass
class Broker:
    bootstrap: str
    version: str
    pid: int | None = None  # our own Tansu process, None for an external broker


@contextmanager
def broker(log_dir: Path) -> Iterator[Broker]:
    """``KAFKA_BOOTSTRAP_SERVERS`` if set, else a Tansu broker (in memory) started here and
    stopped by its PID at the end. Each benchmark uses its own topic prefix, so an external
    broker is never confused by earlier runs."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield Broker(external, f"external Kafka at {external} (KAFKA_BOOTSTRAP_SERVERS)")
        return
    binary = tansu_binary()
    version = tansu_version(binary)
    with local_tansu(log_dir / "tansu.log") as (bootstrap, proc):
        yield Broker(bootstrap, f"{version or 'tansu'} (memory storage, same machine)", proc.pid)


# --- watching a process tree ------------------------------------------------------------------

_CLK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def _tree(root: int) -> list[int]:
    kids = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, ()))
    return out


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of one live process (not its children)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _CLK


def _file_positions(pid: int, path: str) -> dict[int, int]:
    """fd -> read position of every descriptor of ``pid`` open on ``path``."""
    out: dict[int, int] = {}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != path:
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as fh:
                for line in fh:
                    if line.startswith("pos:"):
                        out[int(fd)] = int(line.split()[1])
                        break
        except OSError:
            continue
    return out


@dataclass
class Watched:
    """What ``run_watched`` saw of a command and its descendants."""

    argv: list[str]
    returncode: int
    wall: float  # seconds from start to exit
    cpu: float  # user + system seconds of the whole tree (wait4: reaped descendants included)
    ru_maxrss: int  # bytes, wait4's ru_maxrss (Linux carries the parent's high-water mark over fork/exec)
    peak_rss_sum: int  # bytes, largest sampled sum of VmRSS over the tree's processes
    peak_hwm: dict[int, int]  # pid -> VmHWM bytes (last seen)
    samples: list[tuple[float, int]] = field(default_factory=list)  # (t, rss sum)
    reads: list[tuple[float, int]] = field(default_factory=list)  # (t, position) of the reading descriptor
    stdout: str = ""
    stderr: str = ""

    @property
    def first_read(self) -> float | None:
        """When the reading descriptor was first seen open."""
        return self.reads[0][0] if self.reads else None

    def time_at_pos(self, offset: int) -> float | None:
        """First sample time at which the reading descriptor's position reached ``offset``
        (or the descriptor was closed: the source read to the end)."""
        for t, pos in self.reads:
            if pos >= offset:
                return t
        if self.reads:  # closed after its last sample: it reached the end
            later = [t for t, _ in self.samples if t > self.reads[-1][0]]
            return later[0] if later else None
        return None

    def rss_at(self, t: float) -> int:
        best = 0
        for ts, rss in self.samples:
            if ts <= t:
                best = rss
            else:
                break
        return best


def run_watched(argv: Sequence[str], *, watch_file: Path | None = None, interval: float = 0.05,
                env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float | None = None,
                exclude_root_rss: bool = False) -> Watched:
    """Run ``argv``; sample its process tree's RSS (and a file's read position) until it exits.

    ``exclude_root_rss``: leave the root process out of the RSS sum (a launcher that only waits
    for its worker processes, as ``familycard run --workers 2`` is).

    ``watch_file``: the file may be opened several times (``familycard run`` counts its lines
    before and after the run); each opening is followed while its descriptor stays open with a
    growing position, and the longest-lived one is taken as the source's reading.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    samples: list[tuple[float, int]] = []
    hwm: dict[int, int] = {}
    peak_sum = 0
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    watch = str(watch_file.resolve()) if watch_file else None
    opens: list[list[tuple[float, int]]] = []
    current: dict[tuple[int, int], list[tuple[float, int]]] = {}

    def drain(stream: Any, into: list[bytes]) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            into.append(chunk)

    readers = [threading.Thread(target=drain, args=(proc.stdout, out_chunks), daemon=True),
               threading.Thread(target=drain, args=(proc.stderr, err_chunks), daemon=True)]
    for r in readers:
        r.start()
    done = threading.Event()
    status: dict[str, Any] = {}

    def reap() -> None:
        _, st, ru = os.wait4(proc.pid, 0)
        status["ru"] = ru
        status["code"] = os.waitstatus_to_exitcode(st)
        status["t"] = time.perf_counter() - t0
        done.set()

    reaper = threading.Thread(target=reap, daemon=True)
    reaper.start()
    while not done.wait(interval):
        t = time.perf_counter() - t0
        if timeout is not None and t > timeout:
            for pid in reversed(_tree(proc.pid)):
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            done.wait(10)
            raise TimeoutError(f"{' '.join(argv)} ran longer than {timeout} s")
        pids = _tree(proc.pid)
        rss_sum = 0
        for pid in pids:
            rss = _status_kib(pid, "VmRSS:") * 1024
            h = _status_kib(pid, "VmHWM:") * 1024
            if h:
                hwm[pid] = max(hwm.get(pid, 0), h)
            if not (exclude_root_rss and pid == proc.pid):
                rss_sum += rss
        peak_sum = max(peak_sum, rss_sum)
        samples.append((t, rss_sum))
        if watch:
            seen = {(pid, fd): pos for pid in pids for fd, pos in _file_positions(pid, watch).items()}
            for key in [k for k in current if k not in seen]:
                del current[key]  # closed
            for key, pos in seen.items():
                series = current.get(key)
                if series is None or pos < series[-1][1]:  # a new opening (or a reused fd number)
                    series = []
                    opens.append(series)
                    current[key] = series
                series.append((t, pos))
    for r in readers:
        r.join(5)
    ru = status["ru"]
    proc.returncode = status["code"]
    reads = max(opens, key=lambda o: o[-1][0] - o[0][0]) if opens else []
    return Watched(list(argv), status["code"], status["t"], ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024,
                   peak_sum, {p: v for p, v in hwm.items() if not (exclude_root_rss and p == proc.pid)},
                   samples, reads, b"".join(out_chunks).decode(errors="replace"),
                   b"".join(err_chunks).decode(errors="replace"))


def self_maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- data ------------------------------------------------------------------------------------

def load_split(messages: Sequence[dict], start: dt.date) -> int:
    """Index of the first message of the period (the population load comes before it).

    The generator writes the load (registrations, then history as late records, all recorded
    before ``start``) and then the period day by day; the first message recorded on or after
    ``start`` (or the first ``day`` tick) opens the period.
    """
    s = start.isoformat()
    for i, m in enumerate(messages):
        when = m.get("recorded_at") or m.get("occurred_on") or ""
        if m.get("type") == "day" or when[:10] >= s:
            return i
    return len(messages)


def write_messages(messages: Iterable[dict], path: Path) -> list[int]:
    """Write JSON lines; returns the byte offset at which each line starts (plus the end)."""
    offsets = [0]
    pos = 0
    with open(path, "wb") as fh:
        for m in messages:
            line = orjson.dumps(m) + b"\n"
            fh.write(line)
            pos += len(line)
            offsets.append(pos)
    return offsets


def people_in(messages: Iterable[dict]) -> int:
    return sum(1 for m in messages if m.get("type") in ("person_registered", "birth"))


# --- figures ---------------------------------------------------------------------------------

def percentiles(values: Sequence[float], ps: Sequence[float] = (50, 99, 99.9)) -> dict[float, float]:
    """Nearest-rank percentiles (no interpolation): p99.9 of fewer than 1000 values is the max."""
    if not values:
        return {p: float("nan") for p in ps}
    xs = sorted(values)
    n = len(xs)
    out = {}
    for p in ps:
        k = max(1, -(-int(p * n * 1000) // 100_000))  # ceil(p/100 * n), in integers
        out[p] = xs[min(n, k) - 1]
    return out


def fmt_int(x: float) -> str:
    return f"{x:,.0f}".replace(",", " ")


def fmt_bytes(x: float) -> str:
    for unit, size in (("GiB", GIB), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if abs(x) >= size:
            return f"{x / size:.1f} {unit}"
    return f"{x:.0f} B"


@dataclass
class Target:
    """One line of the summary table."""

    name: str
    target: str
    measured: str
    passed: bool | None  # None: not judged (information only, or not measured)
    note: str = ""

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else ("PASS" if self.passed else "FAIL")
