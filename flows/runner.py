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
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig
from bytewax.run import cli_main

__all__ = ["run_local", "run_cluster", "free_ports"]


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


def _recovery(recovery_dir: Path | None) -> RecoveryConfig | None:
    return None if recovery_dir is None else RecoveryConfig(str(recovery_dir))


def run_local(flow: Dataflow, *, process_id: int | None = None, addresses: list[str] | None = None,
              recovery_dir: Path | None = None, epoch_seconds: float = 0.0) -> None:
    cli_main(
        flow,
        workers_per_process=1,
        process_id=process_id,
        addresses=addresses,
        epoch_interval=timedelta(seconds=epoch_seconds),
        recovery_config=_recovery(recovery_dir),
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
    codes = [p.wait() for p in procs]
    if any(codes):
        for p in procs:
            if p.poll() is None:
                p.kill()
        raise RuntimeError(f"cluster processes exited with {codes}")
