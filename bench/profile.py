"""Where the full flow spends its time: py-spy over ``familycard run --input FILE`` (1 process).

Records with native frames (so time inside Bytewax's Rust core and sqlite shows up), writes
the flame graph to ``bench/profile.svg`` (recovery off) and, optionally, one with recovery on
to ``bench/profile-recovery.svg``; optionally also profiles a 2-process cluster
(``py-spy --subprocesses``). It summarises the samples of the dataflow run itself (startup
and imports left out, as are samples of waiting or sleeping threads):

- *self*: the innermost frame of each sample (where the CPU was);
- *inclusive*: project functions (``flows/``, ``state/``, ``rules/``, ``schemas/``,
  ``familycard/``) by the share of samples they are on the stack of;
- *by area*: each sample charged to one bucket (recovery/sqlite, the cyclic GC, the project
  module of its innermost project frame, pickling, Kafka client, Bytewax runtime, other).

Run alone: ``python -m bench.profile --families 1000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import BENCH_DIR, PY, ROOT

__all__ = ["Profile", "record", "analyse"]

PROJECT_DIRS = ("flows/", "state/", "rules/", "schemas/", "familycard/")
_ENTRY = ("familycard/__main__.py", "familycard/cli.py", "flows/runner.py", "flows/kafka/flow.py")


def _project(where: str) -> bool:
    """A project frame that does work (not the command line's way into the run)."""
    return where.startswith(PROJECT_DIRS) and not where.startswith(_ENTRY)
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<where>[^()]*)\)$")
_WAITING = ("Event.wait (threading.py", "Condition.wait (threading.py", "pthread_cond_timedwait", "epoll_wait",
            "lock_PyThread_acquire_lock", "clock_nanosleep", "nanosleep (", "GILGuard::acquire")


@dataclass
class Profile:
    label: str
    samples: int = 0  # samples of the dataflow run
    startup: int = 0  # samples before the run (imports, flow build)
    self_top: list[tuple[str, int]] = field(default_factory=list)
    inclusive_top: list[tuple[str, int]] = field(default_factory=list)
    areas: list[tuple[str, int]] = field(default_factory=list)
    svg: Path | None = None
    raw: Path | None = None
    seconds: float = 0.0


def _pyspy() -> str:
    exe = Path(PY).parent / "py-spy"
    return str(exe) if exe.exists() else "py-spy"


def record(input_path: Path, out_dir: Path, fmt: str, dest: Path, recovery: Path | None = None,
           rate: int = 100, workers: int = 1) -> None:
    argv = [_pyspy(), "record", "--native", "-r", str(rate), "--format", fmt, "-o", str(dest)]
    if workers > 1:
        argv.append("--subprocesses")
    argv += ["--", PY, "-m", "familycard", "run", "--input", str(input_path), "--output", str(out_dir),
             "--workers", str(workers)]
    if recovery is not None:
        argv += ["--recovery", str(recovery)]
    for _ in range(2 if workers > 1 else 1):  # py-spy --subprocesses has crashed as the processes exit
        dest.unlink(missing_ok=True)
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode == 0 and dest.exists():
            return
    raise RuntimeError(f"py-spy failed twice ({proc.returncode}): {proc.stderr[-500:]}")


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    func, where = m.group("func"), m.group("where")
    if "::" in func:  # a Rust symbol: drop the hash and generic noise
        func = re.sub(r"::h[0-9a-f]{16}$", "", func)
        for code, ch in (("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$C$", ","), ("$u7b$", "{"),
                         ("$u7d$", "}"), ("$RF$", "&"), ("$BP$", "*"), ("..", "::")):
            func = func.replace(code, ch)
        func = func.replace("_<", "<")
        return f"{'…' + func[-80:] if len(func) > 80 else func} [rust]"
    if where.endswith(".so") or ".so." in where:
        return f"{func} [{where.split('/')[-1]}]"
    return f"{func} ({where})"


def _area(frames: list[str]) -> str:
    text = ";".join(frames)
    if "RecoveryCommitter" in text or "sqlite3" in text or "recovery::" in text:
        return "recovery (snapshots, sqlite)"
    if "gc_collect" in frames[-1]:
        return "Python cyclic GC"
    for f in reversed(frames):
        m = _FRAME.match(f)
        if m and _project(m.group("where")):
            where = m.group("where").rsplit(":", 1)[0]
            return f"project: {where}"
    if "pickle" in text.lower():
        return "pickling (exchange between workers / snapshots)"
    if "rdkafka" in text or "confluent_kafka" in text:
        return "Kafka client"
    if "_bytewax" in text or "timely" in text:
        return "Bytewax / timely runtime (Rust)"
    return "other"


def analyse(raw: Path, label: str, top: int = 15) -> Profile:
    prof = Profile(label, raw=raw)
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        if any(w in stack for w in _WAITING):
            continue
        frames = stack.split(";")
        # The run: the main thread inside Bytewax, or (in a cluster) Bytewax's worker threads.
        if "_bytewax" not in stack and "run_local (flows/runner.py" not in stack:
            prof.startup += n
            continue
        prof.samples += n
        self_c[_short(frames[-1])] += n
        seen = set()
        for f in frames:
            m = _FRAME.match(f)
            if m and _project(m.group("where")):
                key = f"{m.group('func')} ({m.group('where').rsplit(':', 1)[0]})"
                if key not in seen:
                    seen.add(key)
                    incl[key] += n
        areas[_area(frames)] += n
    prof.self_top = self_c.most_common(top)
    prof.inclusive_top = incl.most_common(top)
    prof.areas = areas.most_common()
    return prof


def measure(input_path: Path, work: Path, with_recovery: bool = False, cluster_input: Path | None = None,
            log=print) -> list[Profile]:  # type: ignore[no-untyped-def]
    """Profiles: 1 process recovery off (+ flame graph), optionally recovery on, optionally a
    2-process cluster (``py-spy --subprocesses``) over ``cluster_input``."""
    import shutil
    import time

    work.mkdir(parents=True, exist_ok=True)
    out: list[Profile] = []

    def done(p: Profile) -> None:
        out.append(p)
        log(f"[profile] {p.label}: {p.samples} samples; top areas: "
            + ", ".join(f"{a} {100 * n / max(1, p.samples):.0f} %" for a, n in p.areas[:4]))

    t0 = time.perf_counter()
    record(input_path, work / "prof-out-svg", "flamegraph", BENCH_DIR / "profile.svg")
    raw = work / "profile.folded"
    record(input_path, work / "prof-out", "raw", raw)
    p = analyse(raw, "1 process, recovery off")
    p.svg = BENCH_DIR / "profile.svg"
    p.seconds = time.perf_counter() - t0
    done(p)
    if with_recovery:
        t0 = time.perf_counter()
        raw_r = work / "profile-recovery.folded"
        for fmt, dest in (("raw", raw_r), ("flamegraph", BENCH_DIR / "profile-recovery.svg")):
            rec = work / f"prof-rec-{fmt}"
            shutil.rmtree(rec, ignore_errors=True)
            record(input_path, work / f"prof-out-rec-{fmt}", fmt, dest, recovery=rec)
            shutil.rmtree(rec, ignore_errors=True)
        q = analyse(raw_r, "1 process, recovery on")
        q.svg = BENCH_DIR / "profile-recovery.svg"
        q.seconds = time.perf_counter() - t0
        done(q)
    if cluster_input is not None:
        t0 = time.perf_counter()
        raw_c = work / "profile-2proc.folded"
        try:
            record(cluster_input, work / "prof-out-2proc", "raw", raw_c, workers=2)
        except RuntimeError as exc:  # a profiler crash must not lose the other figures
            log(f"[profile] 2 processes: {exc}")
            return out
        c = analyse(raw_c, "2 processes, recovery off (both workers' samples)")
        c.seconds = time.perf_counter() - t0
        done(c)
    return out


def main() -> None:
    from bench.common import write_messages
    from familycard.generator import generate

    ap = argparse.ArgumentParser(prog="python -m bench.profile")
    ap.add_argument("--families", type=int, default=1000)
    ap.add_argument("--recovery", action="store_true", help="also profile with recovery on (slow)")
    ap.add_argument("--cluster", action="store_true", help="also profile 2 worker processes")
    ap.add_argument("--work", type=Path, default=Path("/tmp/familycard-bench/profile"))
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    path = a.work / "input.jsonl"
    write_messages(generate(a.families, dt.date(2026, 1, 1), 365, 7), path)
    for p in measure(path, a.work, a.recovery, path if a.cluster else None):
        print(f"\n== {p.label}: {p.samples} samples of the run ({p.startup} startup samples left out)")
        for title, rows in (("by area", p.areas), ("self", p.self_top), ("inclusive (project)", p.inclusive_top)):
            print(f"-- {title}")
            for name, n in rows[:12]:
                print(f"  {100 * n / max(1, p.samples):5.1f} %  {name}")


if __name__ == "__main__":
    main()
