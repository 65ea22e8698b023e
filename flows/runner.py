"""Running a flow: in this process, or as a cluster of N local Bytewax processes.

Processes (not threads) are how Bytewax scales on one machine: worker threads share the GIL.
Each process builds the same flow from the same arguments; the single-partition sources
and sinks live on one worker, the keyed stages spread over all of them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

__all__ = ["run_local", "run_cluster", "free_ports", "init_recovery", "ensure_recovery", "default_epoch_seconds",
           "recovery_has_state",
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
    """Create ``partitions`` empty Bytewax recovery partitions in ``recovery_dir``."""
    recovery_dir.mkdir(parents=True, exist_ok=True)
    init_db_dir(recovery_dir, partitions)


def ensure_recovery(recovery_dir: Path, processes: int = 1) -> None:
    """Initialise a missing or empty recovery directory. A cluster's parent calls it before it
    starts the processes: two processes initialising one directory at once race on its SQLite
    files ("database is locked")."""
    if not recovery_dir.exists() or not any(recovery_dir.iterdir()):
        init_recovery(recovery_dir, max(1, processes))


def recovery_has_state(recovery_dir: Path | None) -> bool:
    """Whether ``recovery_dir`` holds snapshots a run would resume from (not just empty partitions)."""
    import sqlite3

    if recovery_dir is None or not recovery_dir.is_dir():
        return False
    for db in recovery_dir.glob("*.sqlite3"):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            if con.execute("SELECT 1 FROM snaps LIMIT 1").fetchone() is not None:
                return True
        except sqlite3.DatabaseError:
            continue
        finally:
            con.close()
    return False


def _recovery(recovery_dir: Path | None, processes: int = 1) -> RecoveryConfig | None:
    """The recovery config; a missing or empty directory is initialised first (once)."""
    if recovery_dir is None:
        return None
    ensure_recovery(recovery_dir, processes)
    return RecoveryConfig(str(recovery_dir))


def run_local(flow: Dataflow, *, process_id: int | None = None, addresses: list[str] | None = None,
              recovery_dir: Path | None = None, epoch_seconds: float = 0.0) -> None:
    from flows.gc_tuning import tune_gc
    from flows.shards import set_snapshots

    set_snapshots(recovery_dir is not None)
    tune_gc()
    cli_main(
        flow,
        workers_per_process=1,
        process_id=process_id,
        addresses=addresses,
        epoch_interval=timedelta(seconds=epoch_seconds),
        recovery_config=_recovery(recovery_dir, len(addresses) if addresses else 1),
    )


def run_cluster(worker_argv: Sequence[str], processes: int) -> None:
    """Start ``processes`` copies of ``python -m familycard <worker_argv>`` as one cluster and wait.

    Each copy receives ``--process-id I --addresses a;b;...``. If any process fails, the
    others are stopped and the error is raised.
    """
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
        if any(c not in (None, 0) for c in codes) or all(c == 0 for c in codes):
            break
        time.sleep(0.05)
    if any(codes):
        for p in procs:
            if p.poll() is None:
                p.kill()
        codes = [p.wait() for p in procs]
        raise RuntimeError(f"cluster processes exited with {codes}")
