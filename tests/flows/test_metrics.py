"""The flows' metrics: what a run records, that no label carries personal data, the HTTP
endpoint with Bytewax's own metrics re-exported, and the progress display."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from familycard.cli import main
from familycard.generator import corrupt, generate
from familycard.progress import Progress, counted, watch
from flows import metrics
from state import dates
from state.events import Event, Origin, wake_event

START = dt.date(2026, 1, 1)

# --- personal data in an exposition ---------------------------------------------------------

_IIN = re.compile(r"(?<!\d)\d{12}(?!\d)")            # an IIN is 12 digits
# +7 7xx xxx xx xx with optional separators, 8 7xx... (local), or any long international number;
# anchored so that hex ids such as a topic prefix "t7728f4ac22" do not look like phones
_PHONE = re.compile(r"(?<![0-9A-Za-z])(\+7|8)[\s(-]*7\d{2}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)|\+\d{10,}")
_LONG_NUMBER = re.compile(r"\d{7,}")                 # phone numbers without the +, account numbers
_FAMILY_ID = re.compile(r"\bF-\d+")
_IBAN = re.compile(r"\bKZ\d{2}[0-9A-Z]{10,}")
# Label values of our and Bytewax's metrics are identifiers from closed sets: codes, topics,
# types, outcomes, step ids, numbers. A name (capitalised, spaces, Cyrillic) is none of them.
_IDENTIFIER = re.compile(r"^([a-z0-9_.:+\-]*|\+Inf)$")
_ALLOWED_LABELS = {"topic", "type", "code", "kind", "outcome", "output", "partition", "process", "le",
                   "step_id", "worker_index", "otel_scope_name", "quantile",
                   "version", "bytewax", "python",  # familycard_build_info: versions, not data
                   "name", "part_id", "worker_id"}  # Bytewax's recovery store (bytewax_partd_*): its operation, partition, worker


def personal_data_in(text: str) -> list[str]:
    """Every label value (and help text) of a Prometheus exposition that looks like personal data."""
    found: list[str] = []
    for family in text_string_to_metric_families(text):
        ours = family.name.startswith(("familycard_", "bytewax_"))
        strings = [family.documentation]
        for sample in family.samples:
            for label, value in sample.labels.items():
                strings.append(value)
                if ours and (label not in _ALLOWED_LABELS or not _IDENTIFIER.match(value)):
                    found.append(f"{sample.name}{{{label}={value!r}}}: not an identifier label")
                if ours and label != "le" and _LONG_NUMBER.search(value):
                    found.append(f"{sample.name}{{{label}={value!r}}}: a long number")
        for s in strings:
            for pattern in (_IIN, _PHONE, _FAMILY_ID, _IBAN):
                if pattern.search(s):
                    found.append(f"{family.name}: {s!r} matches {pattern.pattern}")
    return found


def test_the_scanner_finds_personal_data() -> None:
    bad = ('# HELP familycard_x x\n# TYPE familycard_x counter\n'
           'familycard_x_total{code="870512400129"} 1.0\n'
           'familycard_x_total{code="+77011234567"} 1.0\n'
           'familycard_x_total{code="F-000042"} 1.0\n'
           'familycard_x_total{code="Aigerim Nurlanova"} 1.0\n'
           'familycard_x_total{iin="x"} 1.0\n')
    found = personal_data_in(bad)
    assert len([f for f in found if "870512400129" in f]) >= 1
    assert any("+77011234567" in f for f in found)
    assert any("F-000042" in f for f in found)
    assert any("Aigerim" in f for f in found)
    assert any("iin=" in f for f in found)
    assert personal_data_in('# HELP familycard_y y\n# TYPE familycard_y counter\n'
                            'familycard_y_total{code="birth_benefit",kind="offer"} 3.0\n') == []


# --- a run's metrics ----------------------------------------------------------------------

def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _sum(name: str) -> float:
    """Sum of every sample named ``name`` (all label values)."""
    return sum(s.value for m in REGISTRY.collect() for s in m.samples if s.name == name)


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A file replay (bad lines, simulated citizens) run in this process; metrics before and after."""
    tmp = tmp_path_factory.mktemp("metrics")
    path = tmp / "events.jsonl"
    lines = list(corrupt(generate(150, START, 45, seed=4), 0.03, seed=4))
    path.write_bytes(b"\n".join(lines) + b"\n")
    names = ("familycard_input_messages_total", "familycard_dead_letters_total",
             "familycard_latency_recorded_to_output_seconds_count", "familycard_notifications_total",
             "familycard_offer_funnel_total", "familycard_replies_total", "familycard_assignments_total",
             "familycard_latency_kafka_to_output_seconds_count")
    before = {n: _sum(n) for n in names}
    outputs = ("notifications", "assignments", "outcomes", "dead_letters")
    latency = {o: _value("familycard_latency_recorded_to_output_seconds_count", output=o) for o in outputs}
    state_before = {k: _value("familycard_state_size", kind=k) for k in
                    (metrics.PERSONS, metrics.FAMILIES, metrics.OPEN_OFFERS, metrics.CALENDAR_TIMERS)}
    assert main(["run", "--input", str(path), "--output", str(tmp / "out"), "--simulate-citizens"]) == 0
    last_tick = max(orjson.loads(x)["occurred_on"] for x in lines if b'"type":"day"' in x)
    yield {"lines": lines, "before": before, "after": {n: _sum(n) for n in names},
           "state_before": state_before, "last_tick": last_tick, "out": tmp / "out", "latency_before": latency}


def test_a_replay_counts_every_input_line_and_its_outputs(replay: dict[str, Any]) -> None:
    b, a = replay["before"], replay["after"]
    assert a["familycard_input_messages_total"] - b["familycard_input_messages_total"] == len(replay["lines"])
    assert a["familycard_dead_letters_total"] > b["familycard_dead_letters_total"]
    assert a["familycard_notifications_total"] > b["familycard_notifications_total"]
    assert a["familycard_offer_funnel_total"] > b["familycard_offer_funnel_total"]
    assert a["familycard_assignments_total"] > b["familycard_assignments_total"]
    assert a["familycard_replies_total"] > b["familycard_replies_total"]


def test_latency_from_recorded_at_is_observed_before_each_output(replay: dict[str, Any]) -> None:
    b, a = replay["before"], replay["after"]
    name = "familycard_latency_recorded_to_output_seconds_count"
    assert a[name] > b[name]
    for output, before in replay["latency_before"].items():
        assert _value(name, output=output) > before, output
    # a file replay has no Kafka timestamps: nothing from Kafka was observed by it
    kafka = "familycard_latency_kafka_to_output_seconds_count"
    assert a[kafka] == b[kafka]


def test_state_sizes_and_the_watermark(replay: dict[str, Any]) -> None:
    grew = {k: _value("familycard_state_size", kind=k) - v for k, v in replay["state_before"].items()}
    assert grew[metrics.PERSONS] > 150 and grew[metrics.FAMILIES] >= 100
    # offers open at the end of the period (not yet answered, lapsed or withdrawn)
    assert grew[metrics.OPEN_OFFERS] >= 0
    assert _value("familycard_state_size", kind=metrics.CALENDAR_TIMERS) >= 0
    midnight = dt.datetime.combine(dt.date.fromisoformat(replay["last_tick"]), dt.time(), dt.UTC)
    assert _value("familycard_event_time_watermark_timestamp_seconds", process="0") == midnight.timestamp()


def test_open_offers_match_the_funnel(replay: dict[str, Any]) -> None:
    """Offers still open = offered - settled, as the outcomes file of the run says."""
    outcomes = [orjson.loads(x) for x in (replay["out"] / "outcomes.jsonl").read_bytes().splitlines() if x.strip()]
    steps: dict[str, set[str]] = {}
    for o in outcomes:
        steps.setdefault(o["notification_id"], set()).add(o["outcome"])
    settled = {"consented", "refused", "lapsed", "withdrawn"}
    still_open = sum(1 for s in steps.values() if "offered" in s and not s & settled)
    grew = _value("familycard_state_size", kind=metrics.OPEN_OFFERS) - replay["state_before"][metrics.OPEN_OFFERS]
    assert grew == still_open


def test_no_label_carries_personal_data_after_a_run(replay: dict[str, Any]) -> None:
    text = generate_latest(REGISTRY).decode()
    assert "familycard_notifications_total" in text
    assert personal_data_in(text) == []


# --- pieces -------------------------------------------------------------------------------

def _origin(raw: dict[str, Any], ts_ms: int | None) -> Origin:
    return Origin("registry.civil", 0, 7, orjson.dumps(raw), 1, ts_ms)


def test_observe_output_measures_from_kafka_and_recorded_at() -> None:
    registry_before = _value("familycard_latency_kafka_to_output_seconds_count", output="probe")
    now = dt.datetime.now(dt.UTC)
    recorded = (now - dt.timedelta(hours=2)).isoformat()
    origin = _origin({"recorded_at": recorded}, int(now.timestamp() * 1000) - 1500)
    assert metrics.observe_output("probe", ("k", b"v", origin)) == ("k", b"v")
    assert _value("familycard_latency_kafka_to_output_seconds_count", output="probe") == registry_before + 1
    kafka_sum = _value("familycard_latency_kafka_to_output_seconds_sum", output="probe")
    assert 1.4 < kafka_sum < 60
    rec_sum = _value("familycard_latency_recorded_to_output_seconds_sum", output="probe")
    assert 7100 < rec_sum < 7300
    # no cause (a tick or a timer), unreadable JSON, a future recorded_at (clamped to 0)
    assert metrics.observe_output("probe2", ("k", b"v", None)) == ("k", b"v")
    assert metrics.observe_output("probe2", ("k", b"v")) == ("k", b"v")
    metrics.observe_output("probe2", ("k", b"v", Origin("t", 0, 1, b"{not json", 1, None)))
    assert _value("familycard_latency_recorded_to_output_seconds_count", output="probe2") == 0
    future = (now + dt.timedelta(days=3)).isoformat()
    metrics.observe_output("probe3", ("k", b"v", _origin({"received_at": future}, None)))
    assert _value("familycard_latency_recorded_to_output_seconds_sum", output="probe3") == 0
    assert _value("familycard_latency_recorded_to_output_seconds_count", output="probe3") == 1


def test_cause_is_the_input_not_a_tick_or_a_timer() -> None:
    origin = Origin("registry.civil", 0, 1, b"{}")
    day = dates.day("2026-03-02")
    birth = Event("e1", "birth", "870512400129", day, day, {}, origin)
    tick = Event("day-2026-03-02", "day", "", day, day, {}, Origin("calendar", 0, 5, b"{}"))
    reply = Event("s1", "sms_reply", "+77010000000", day, day, {}, origin)
    assert metrics.cause(birth) is origin and metrics.cause(reply) is origin
    assert metrics.cause(tick) is None
    assert metrics.cause(wake_event("turns_18", "870512400129", tick)) is None
    assert metrics.cause(Event("x", "lapse", "n-1", day, day, {}, origin)) is None
    assert metrics.cause(None) is None


def test_kafka_lag_and_watermark_gauges() -> None:
    metrics.set_kafka_lag([("probe.topic", 0, 120, 100), ("probe.topic", 1, -1, None), ("probe.topic", 2, 5, None)])
    assert _value("familycard_kafka_lag_messages", topic="probe.topic", partition="0") == 20
    assert REGISTRY.get_sample_value("familycard_kafka_lag_messages", {"topic": "probe.topic", "partition": "1"}) \
        is None
    assert _value("familycard_kafka_lag_messages", topic="probe.topic", partition="2") == 5


_BYTEWAX_TEXT = """# HELP bytewax_item_inp_count_total number of items this step has ingested
# TYPE bytewax_item_inp_count_total counter
bytewax_item_inp_count_total{step_id="familycard.decode",worker_index="0",otel_scope_name="bytewax"} 42
# HELP target_info Target metadata
# TYPE target_info gauge
target_info{service_name="unknown_service"} 1
# HELP familycard_dead_letters_total Messages refused
# TYPE familycard_dead_letters_total counter
familycard_dead_letters_total{code="schema"} 3.0
"""


class _FakeBytewax(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = _BYTEWAX_TEXT.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_bytewax_metrics_are_reexported_and_only_theirs() -> None:
    server = HTTPServer(("127.0.0.1", 0), _FakeBytewax)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(metrics.BytewaxMetrics(f"http://127.0.0.1:{server.server_port}/metrics"))  # type: ignore[arg-type]
        text = generate_latest(registry).decode()
    finally:
        server.shutdown()
    assert 'bytewax_item_inp_count_total{otel_scope_name="bytewax",step_id="familycard.decode",worker_index="0"} 42.0' \
        in text
    assert "target_info" not in text and "familycard_dead_letters" not in text
    # the dataflow API not up (before or after the run): nothing, and no error
    down = CollectorRegistry(auto_describe=False)
    down.register(metrics.BytewaxMetrics("http://127.0.0.1:9/metrics", timeout=0.5))  # type: ignore[arg-type]
    assert generate_latest(down) == b""


def test_the_endpoint_serves_our_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_servers", {})
    port = metrics._free_port()
    assert metrics.start(port, bytewax_metrics=False, addr="127.0.0.1") == port
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    finally:
        metrics._servers[port].shutdown()
    assert "familycard_state_size" in text and "process_cpu_seconds_total" in text
    assert personal_data_in(text) == []
    assert metrics.start(0) == 0  # off: nothing served


# --- progress -----------------------------------------------------------------------------

class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal() -> None:
    out = _Tty()
    p = Progress("replay", 1000, stream=out)
    p.started -= 2.0  # as if two seconds had passed
    p.update(250)
    shown = out.getvalue()
    assert shown.startswith("\rreplay  [######") and "25%" in shown and "250/1,000 messages" in shown
    assert re.search(r"ETA 0:0[5-7]", shown), shown  # 750 left at ~125/s
    p.update(1000)
    p.close()
    assert out.getvalue().endswith("\n") and "100%  1,000/1,000 messages" in out.getvalue()
    stopped = _Tty()
    q = Progress("replay", 1000, stream=stopped)
    q.update(10)
    q.close()  # stopped short (an error): the bar says how far it got
    assert "  1%  10/1,000 messages" in stopped.getvalue() and " in 0:00" in stopped.getvalue()


def test_progress_log_lines_elsewhere() -> None:
    out = io.StringIO()
    p = Progress("generate", 100, stream=out, interval=5.0, approximate=True)
    p.update(10)
    assert out.getvalue() == ""  # nothing before the first interval has passed
    p._last_draw -= 6
    p.update(120)  # an estimate may be exceeded: the share stays below 100 % until the end
    assert "100%" not in out.getvalue() and "120/~100 messages" in out.getvalue()
    p.close()
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("generate  100%  120/120 messages") and " in 0:0" in last


def test_counted_and_watch() -> None:
    out = io.StringIO()
    assert list(counted(range(5), Progress("n", 5, stream=out))) == [0, 1, 2, 3, 4]
    assert "100%  5/5" in out.getvalue()
    box = {"n": 0.0}
    out2 = io.StringIO()
    with watch(lambda: box["n"], Progress("w", 10, stream=out2), every=0.01):
        box["n"] = 10
    assert "100%  10/10" in out2.getvalue()
    out3 = io.StringIO()
    with watch(lambda: 0.0, Progress("idle", 10, stream=out3), every=0.01):
        pass
    assert out3.getvalue() == ""  # a process that reads nothing shows nothing


def test_generate_reports_progress_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--families", "30", "--days", "5", "--output", str(tmp_path / "g.jsonl")]) == 0
    err = capsys.readouterr().err
    assert re.search(r"^generate  100%  \d[\d,]*/\d[\d,]* messages", err, re.M), err
