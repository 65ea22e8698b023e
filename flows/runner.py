"""Running a flow: in this process, or as a cluster of N local Bytewax processes.

Processes (not threads) are how Bytewax scales on one machine: worker threads share the GIL.
Each process builds the same flow from the same arguments; the single-partition sources
and sinks live on one worker, the keyed stages spread over all of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

__all__ = ["run_local", "run_cluster", "free_ports", "init_recovery", "ensure_recovery", "default_epoch_seconds",
           "recovery_has_state", "recovery_epoch", "ClusterFailed", "STOP_GRACE_SECONDS",
           "LIVE_RECOVERY_EPOCH_SECONDS"]

LIVE_RECOVERY_EPOCH_SECONDS = 0.25
"""Epoch interval of live (Kafka) mode with recovery when ``--epoch-seconds`` is not given.

With recovery, closing an epoch writes the snapshots of the keys touched in it and commits
(Bytewax's commit also scans the whole snapshot table); the source does not poll while that
runs. An epoch per batch (interval 0) pays that per poll, even idle; long epochs make each
pause longer (more keys touched). See docs/DESIGN.md, "Epochs and latency", for the figures.
"""


def default_epoch_seconds(*, live: bool, recovery: bool) -> float:
    """``--epoch-seconds`` when it is not given.

    0 (every batch an epoch) for file replays, with or without recovery: a replay's ticks
    come every few dozen messages, and with longer epochs each would wait for up to three
    epoch boundaries. ``LIVE_RECOVERY_EPOCH_SECONDS`` for live mode with recovery; 0 for live
    mode without (no snapshots are stored, so an epoch costs little).
    """
    return LIVE_RECOVERY_EPOCH_SECONDS if live and recovery else 0.0


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def init_recovery(recovery_dir: Path, partitions: int) -> None:
    """Create ``partitions`` empty Bytewax recovery partitions in ``recovery_dir``.

    Private: the directory 0700 (before Bytewax writes into it), its SQLite files 0600. The
    snapshots hold personal data and are unpickled on resume: whoever can write them can run
    code as this user (docs/DESIGN.md, "Trust boundaries and data at rest"). Files SQLite
    creates later (WAL, journals) follow the umask, but the 0700 directory keeps others out.
    """
    from store.private import make_private

    recovery_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    make_private(recovery_dir)
    init_db_dir(recovery_dir, partitions)
    make_private(recovery_dir)


def ensure_recovery(recovery_dir: Path, processes: int = 1) -> None:
    """Initialise a missing or empty recovery directory. A cluster's parent calls it before it
    starts the processes: two processes initialising one directory at once race on its SQLite
    files ("database is locked").

    An existing directory is made private too (0700, its files 0600: what this user owns), and
    one that others can still write is refused: a run resumes by unpickling its snapshots."""
    import stat

    from store.private import make_private

    if not recovery_dir.exists() or not any(recovery_dir.iterdir()):
        init_recovery(recovery_dir, max(1, processes))
    else:
        make_private(recovery_dir)
    st = recovery_dir.stat()
    if stat.S_IMODE(st.st_mode) & 0o022:
        raise ValueError(f"the recovery directory {recovery_dir} is writable by other users (mode "
                         f"{stat.S_IMODE(st.st_mode):o}, owner uid {st.st_uid}): a run resumes by unpickling its "
                         f"snapshots, so whoever can write them can run code as this user. Make it private "
                         f"(its owner: chmod 700) or use another directory")


def recovery_epoch(recovery_dir: Path | None) -> int | None:
    """The latest epoch the recovery directory holds snapshots of (a resume starts after it)."""
    import sqlite3

    if recovery_dir is None or not recovery_dir.is_dir():
        return None
    best: int | None = None
    for db in recovery_dir.glob("*.sqlite3"):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT max(snap_epoch) FROM snaps").fetchone()
        except sqlite3.DatabaseError:
            continue
        finally:
            con.close()
        if row and row[0] is not None and (best is None or row[0] > best):
            best = int(row[0])
    return best


def recovery_has_state(recovery_dir: Path | None) -> bool:
    """Whether ``recovery_dir`` holds snapshots a run would resume from (not just empty partitions)."""
    return recovery_epoch(recovery_dir) is not None


def _recovery(recovery_dir: Path | None, processes: int = 1) -> RecoveryConfig | None:
    """The recovery config; a missing or empty directory is initialised first (once)."""
    if recovery_dir is None:
        return None
    ensure_recovery(recovery_dir, processes)
    return RecoveryConfig(str(recovery_dir))


class _Signalled(KeyboardInterrupt):
    """SIGTERM, delivered the way Bytewax stops on SIGINT (its run loop checks Python's signals)."""


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """While a flow runs in this (main) thread: SIGTERM stops it as Ctrl-C does, instead of the
    default action killing the process mid-epoch without a word (issue 14)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: object) -> None:
        raise _Signalled(signal.Signals(signum).name)

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def run_local(flow: Dataflow, *, process_id: int | None = None, addresses: list[str] | None = None,
              recovery_dir: Path | None = None, epoch_seconds: float = 0.0) -> bool:
    """Run ``flow`` in this process (one member of a cluster with ``process_id``). Returns True if
    SIGTERM or SIGINT stopped it (Bytewax shuts the workers down; with recovery the next run
    resumes from the last closed epoch), False when the input ended."""
    from flows.gc_tuning import tune_gc

    tune_gc()
    try:
        with _stop_on_sigterm():
            cli_main(
                flow,
                workers_per_process=1,
                process_id=process_id,
                addresses=addresses,
                epoch_interval=timedelta(seconds=epoch_seconds),
                recovery_config=_recovery(recovery_dir, len(addresses) if addresses else 1),
            )
    except BaseException as exc:
        interrupt = _interrupt_in(exc)  # Bytewax may wrap it: "signal received", caused by the interrupt
        if interrupt is None:
            raise
        what = str(interrupt) if isinstance(interrupt, _Signalled) else "SIGINT"
        who = "" if process_id is None else f" (process {process_id})"
        logging.getLogger("familycard").warning(
            f"stopped by {what}{who}{'; the next run with the same --recovery resumes' if recovery_dir else ''}",
            extra={"fields": {"event": "stopped", "signal": what, "process": process_id}})
        return True
    return False


def _interrupt_in(exc: BaseException | None) -> KeyboardInterrupt | None:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


STOP_GRACE_SECONDS = 15.0
"""How long a cluster's parent waits for its processes after forwarding SIGTERM, before SIGKILL."""


class ClusterFailed(RuntimeError):
    """A cluster process exited with an error; the others were stopped."""


def run_cluster(worker_argv: Sequence[str], processes: int) -> bool:
    """Start ``processes`` copies of ``python -m familycard <worker_argv>`` as one cluster and wait.

    Each copy receives ``--process-id I --addresses a;b;...``. If any process fails, the
    others are stopped and ``ClusterFailed`` is raised. SIGTERM or SIGINT to this parent is
    forwarded to every process (each stops as on Ctrl-C), waited for up to
    ``STOP_GRACE_SECONDS``, then killed: no orphan keeps serving its metrics port. Returns True
    if a signal stopped the cluster.
    """
    stop: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stop.append(signum)

    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)} if main else {}
    try:
        return _supervise(worker_argv, processes, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _supervise(worker_argv: Sequence[str], processes: int, stop: list[int]) -> bool:
    addresses = [f"127.0.0.1:{p}" for p in free_ports(processes)]
    env = dict(os.environ)
    env.setdefault("PYTHONHASHSEED", "0")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "familycard", *worker_argv,
             "--process-id", str(i), "--addresses", ";".join(addresses)],
            env=env,
        )
        for i in range(processes)
    ]
    # Poll all of them: a process that dies leaves its peers waiting for it forever, so waiting
    # on them in order would turn one crash into a hang.
    while True:
        codes = [p.poll() for p in procs]
        if stop:
            _stop_all(procs)
            logging.getLogger("familycard").warning(
                f"{signal.Signals(stop[0]).name} received; stopped all {processes} processes",
                extra={"fields": {"event": "stopped", "signal": signal.Signals(stop[0]).name, "processes": processes}})
            return True
        if any(c not in (None, 0) for c in codes) or all(c == 0 for c in codes):
            break
        time.sleep(0.05)
    if any(codes):
        failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
        _stop_all(procs)
        raise ClusterFailed(f"cluster process {failed[0][0]} exited with code {failed[0][1]}; stopped the other "
                            f"{processes - 1} (exit codes {[p.returncode for p in procs]})")
    return False


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each live process, wait up to ``STOP_GRACE_SECONDS`` in all, then SIGKILL the rest."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
