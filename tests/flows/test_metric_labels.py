"""Metrics that cannot leak or explode (issue 14, item 4): no message field becomes a label value."""

from __future__ import annotations

import orjson
from prometheus_client import REGISTRY

from flows import metrics
from flows.dataflow import decode_counted
from schemas.codec import RawMessage


def _input_types() -> set[str]:
    return {s.labels["type"] for m in metrics.INPUT.collect() for s in m.samples}


def test_a_junk_type_is_counted_as_other_not_as_its_text() -> None:
    junk = [orjson.dumps({"event_id": f"x{i}", "type": f"IIN 910203401018 phone +7701000000{i}", "iin": "1"})
            for i in range(50)]
    before = REGISTRY.get_sample_value("familycard_input_messages_total", {"topic": "registry.status", "type": "other"})
    for value in junk:
        assert decode_counted(RawMessage("registry.status", value)).code == "unknown_type"  # type: ignore[union-attr]
    after = REGISTRY.get_sample_value("familycard_input_messages_total", {"topic": "registry.status", "type": "other"})
    assert (after or 0) - (before or 0) == len(junk)
    assert not any("IIN" in t or "+7701" in t for t in _input_types())
    assert _input_types() <= metrics.INPUT_TYPES | {metrics.OTHER}


def test_every_dead_letter_code_label_is_from_the_closed_set() -> None:
    assert metrics.code_label("schema") == "schema"
    assert metrics.code_label("something a message said") == metrics.OTHER
    codes = {s.labels["code"] for m in metrics.DEAD_LETTERS.collect() for s in m.samples}
    assert codes <= metrics.DEAD_LETTER_CODES | {metrics.OTHER}


def test_build_info_names_the_versions() -> None:
    samples = [s for m in metrics.BUILD_INFO.collect() for s in m.samples]
    assert len(samples) == 1 and samples[0].value == 1
    assert set(samples[0].labels) == {"version", "bytewax", "python"}
    assert samples[0].labels["bytewax"].startswith("0.21")
