"""End to end over a real broker: registry topics in, notifications and dead letters out."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import orjson
import pytest
from bytewax.testing import run_main

from flows.kafka.admin import ensure_topics, produce_all, read_topic
from flows.kafka.flow import kafka_flow
from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS
from schemas.validation import validate_output
from tests import scenario

pytestmark = pytest.mark.kafka


def test_scenario_over_kafka(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    p = unique_topic_prefix
    inputs = tuple(p + t for t in INPUT_TOPICS)
    outputs = {k: p + v for k, v in OUTPUT_TOPICS.items()}
    ensure_topics(kafka_bootstrap, [*inputs, *outputs.values()])
    produce_all(kafka_bootstrap, scenario.kafka_messages(lambda t: p + t))

    run_main(kafka_flow(kafka_bootstrap, stop_at_end=True, input_topics=inputs, output_topics=outputs),
             epoch_interval=dt.timedelta(0))

    notes = [(k, orjson.loads(v)) for k, v in read_topic(kafka_bootstrap, outputs["notifications"])]
    dead = [orjson.loads(v) for _, v in read_topic(kafka_bootstrap, outputs["dead_letters"])]
    assert {(n["code"], n["kind"], n["iin"], n["amount_kzt"]) for _, n in notes} == scenario.EXPECTED
    assert all(k == n["iin"].encode() for k, n in notes), "notifications are keyed by recipient IIN"
    assert Counter(d["error"]["code"] for d in dead) == scenario.EXPECTED_DEAD
    assert all(validate_output("notification", n) is None for _, n in notes)
    assert all(validate_output("dead_letter", d) is None for d in dead)
    bad_iin = next(d for d in dead if d["error"]["code"] == "bad_iin")
    assert bad_iin["source_topic"] == p + "registry.civil" and bad_iin["offset"] is not None
