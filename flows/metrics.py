"""Prometheus metrics of the flows. Labels carry codes, topics and types, never personal data.

Every flow process can serve them over HTTP (``familycard run --metrics-port P``; process
``i`` of a cluster serves ``P + i``), see ``start``. What is exported there:

- the counters below (input, dead letters, notifications, assignments, replies, funnel);
- end-to-end latency histograms, from the event's ``recorded_at`` and from the Kafka
  message timestamp to the output write (``observe_output``, a map step before each sink);
- the Kafka processing lag per input partition and the event-time watermark (gauges set
  by the aligned source and by ``day`` ticks);
- state sizes (persons, families, open offers, pending calendar timers), per process;
- Bytewax's own metrics (``bytewax_*``: items in and out per step, ``next_batch``,
  ``on_batch``, ``write_batch`` and snapshot durations). Bytewax 0.21 records them with
  OpenTelemetry into a Rust-side registry that Python cannot read; they are switched on,
  and served, only by its "dataflow API" web server (``BYTEWAX_DATAFLOW_API_ENABLED``,
  port ``BYTEWAX_DATAFLOW_API_PORT``, default 3030, path ``/metrics``). ``start`` enables
  that server on a port of its own and re-exports its ``bytewax_*`` families
  on our port (``BytewaxMetrics``), so one scrape target per process has everything.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

import orjson
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from state.events import LIFE_EVENT_TYPES

__all__ = [
    "INPUT", "DEAD_LETTERS", "NOTIFICATIONS", "LATE", "HELD", "HELD_NOW", "TICKS_FILLED", "ASSIGNMENTS", "FUNNEL", "REPLIES",
    "LATENCY_KAFKA", "LATENCY_RECORDED", "KAFKA_LAG", "WATERMARK", "STATE",
    "PERSONS", "FAMILIES", "OPEN_OFFERS", "CALENDAR_TIMERS", "LEDGERS",
    "child", "cause", "type_label", "code_label", "BUILD_INFO", "INPUT_TYPES", "DEAD_LETTER_CODES", "OTHER", "observe_output", "advance_watermark", "set_kafka_lag", "due", "state_size",
    "input_total", "start", "export_registry", "BytewaxMetrics", "readiness", "mark_started",
]

log = logging.getLogger(__name__)

INPUT = Counter("familycard_input_messages",
                "Input messages read, by topic and event type (a type outside the contract's counts as other)",
                ["topic", "type"])
DEAD_LETTERS = Counter("familycard_dead_letters", "Messages refused to the dead-letter topic, by error code", ["code"])
NOTIFICATIONS = Counter("familycard_notifications", "Notifications written, by code and kind", ["code", "kind"])
LATE = Counter("familycard_late_events", "Events recorded more than late_record_days after they occurred")
HELD = Counter("familycard_held_events", "Facts held because their subject was not registered yet")
HELD_NOW = Gauge("familycard_messages_held",
                 "Input messages waiting in state, by kind: facts about a person not registered yet (facts), SMS "
                 "replies for an offer not seen yet (replies); each is released or dead-lettered within its bound",
                 ["kind"])
TICKS_FILLED = Counter("familycard_day_ticks_filled",
                       "Day ticks the source made up for days the scheduler skipped (a gap in the calendar topic); "
                       "each fired that day's timers, in order, before the next real tick")
ASSIGNMENTS = Counter("familycard_assignments", "Assignments written on consent (and closings), by code", ["code"])
FUNNEL = Counter("familycard_offer_funnel",
                 "Offers by code and step: offered, reminded, consented, refused, lapsed, withdrawn",
                 ["code", "outcome"])
REPLIES = Counter("familycard_replies", "SMS replies by outcome", ["outcome"])

# Kafka: a message normally reaches its output in milliseconds to seconds; a backlog in minutes.
_KAFKA_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
# recorded_at: registries publish minutes to days after they recorded (and replays are older still).
_HOUR, _DAY = 3600.0, 86400.0
_RECORDED_BUCKETS = (1.0, 10.0, 60.0, 300.0, 900.0, _HOUR, 3 * _HOUR, 6 * _HOUR, 12 * _HOUR, _DAY, 2 * _DAY,
                     4 * _DAY, 7 * _DAY, 14 * _DAY, 30 * _DAY, 90 * _DAY, 365 * _DAY)
LATENCY_KAFKA = Histogram(
    "familycard_latency_kafka_to_output_seconds",
    "From the Kafka timestamp of the message that caused a record to the record's write, by output "
    "(records caused by day ticks and timers are not observed; file replays have no Kafka timestamp)",
    ["output"], buckets=_KAFKA_BUCKETS)
LATENCY_RECORDED = Histogram(
    "familycard_latency_recorded_to_output_seconds",
    "From the recorded_at (received_at for SMS replies) of the event that caused a record to the record's "
    "write, by output (ticks and timers are not observed; negative spans, i.e. clock skew, count as 0)",
    ["output"], buckets=_RECORDED_BUCKETS)
KAFKA_LAG = Gauge("familycard_kafka_lag_messages",
                  "Messages of an input partition not yet processed: high watermark minus the next offset to "
                  "release (buffered messages count as not processed)", ["topic", "partition"])
WATERMARK = Gauge("familycard_event_time_watermark_timestamp_seconds",
                  "Event-time low watermark of this process's source (00:00 UTC of the date, Unix seconds): every "
                  "input dated before it has been read", ["process"])
STATE = Gauge("familycard_state_size",
              "Keys held by this process: person slots (persons), family cards (families), offers still open "
              "(open_offers), due-date timers not yet fired (calendar_timers)", ["kind"])
PERSONS, FAMILIES, OPEN_OFFERS, CALENDAR_TIMERS = "persons", "families", "open_offers", "calendar_timers"
LEDGERS = "ledgers"  # recipients with rights (or recently notified) in the rights ledger
for _kind in (PERSONS, FAMILIES, OPEN_OFFERS, CALENDAR_TIMERS, LEDGERS):
    STATE.labels(_kind)  # present (at 0) from the start, so dashboards show every kind

# The index of the process these metrics describe (its watermark series' label): process-wide
# state of this module's registry, like the servers below, set by ``start`` from the run's
# configuration (``flows.config.ClusterConfig.process_id``); nothing reads it as a setting.
_process = "0"


ACCOUNTED = Counter(
    "familycard_messages_accounted",
    "Where each input message ended: processed, deduplicated or dead_lettered (counted where it happens); "
    "their sum equals the input once nothing is in flight",
    ["outcome"],
)


OTHER = "other"
INPUT_TYPES = frozenset(LIFE_EVENT_TYPES | {"day", "sms_reply", "unknown"})
"""The ``type`` label values of ``familycard_input_messages``: the contract's types; anything a
message claims beyond them (a junk ``type`` field, an IIN pasted there) counts as ``other``."""
DEAD_LETTER_CODES = frozenset({"invalid_json", "schema", "bad_iin", "unknown_type", "too_large", "future_date",
                               "duplicate", "unknown_person", "rejected_reply", "rule_error"})


def type_label(value: str) -> str:
    """A message's type as a label value: one of ``INPUT_TYPES``, else ``other`` (issue 14: no
    message field may become a label; 20 000 junk types made a 43 MB page)."""
    return value if value in INPUT_TYPES else OTHER


def code_label(value: str) -> str:
    return value if value in DEAD_LETTER_CODES else OTHER


BUILD_INFO = Gauge("familycard_build_info", "Always 1: the familycard, Bytewax and Python versions this process runs",
                   ["version", "bytewax", "python"])


def _versions() -> tuple[str, str, str]:
    import platform
    from importlib import metadata

    def of(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"
    return of("familycard"), of("bytewax"), platform.python_version()


BUILD_INFO.labels(*_versions()).set(1)


@lru_cache(maxsize=4096)
def child(metric: Any, *labels: str) -> Any:
    """The labelled child of ``metric``: ``labels()`` costs ~5 us a call, a cache hit far less.

    Label values are codes, topics and types from closed sets, so the cache stays small.
    """
    return metric.labels(*labels)


def state_size(kind: str) -> Any:
    """The ``familycard_state_size`` gauge of one kind (``PERSONS``, ``FAMILIES``, ...)."""
    return child(STATE, kind)


# --- end-to-end latency -------------------------------------------------------------------

_CAUSE_TYPES = LIFE_EVENT_TYPES | {"sms_reply"}


def cause(event: Any) -> Any:
    """The ``Origin`` of the input that caused an output, or None when a tick or a timer did.

    ``event`` is an ``Event`` (or None). Wakes and offer timers carry their tick's origin;
    latency from a tick says nothing about the pipeline, so they count as no cause.
    """
    if event is None or getattr(event, "type", None) not in _CAUSE_TYPES:
        return None
    return event.origin


@lru_cache(maxsize=4096)
def _recorded_at(raw: bytes) -> float | None:
    """Unix time of the message's ``recorded_at`` (``received_at`` for SMS replies), if readable."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict:
        return None
    text = obj.get("recorded_at") or obj.get("received_at")
    if type(text) is not str:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:  # the schema wants an offset; assume Kazakhstan time (UTC+5) if missing
        when = when.replace(tzinfo=dt.timezone(dt.timedelta(hours=5)))
    return when.timestamp()


def observe_output(output: str, item: tuple[Any, ...]) -> tuple[Any, Any]:
    """A map step's function right before a sink: observe the latencies, pass ``(key, value)`` on.

    ``item`` is ``(key, value)`` or ``(key, value, origin)``, where ``origin`` is the
    ``Origin`` of the input that caused the record (None for ticks and timers).
    """
    if len(item) < 3:
        return item[0], item[1]
    key, value, origin = item[0], item[1], item[2]
    if origin is not None:
        now = time.time()
        ts = getattr(origin, "timestamp_ms", None)  # absent on an Origin restored from an older snapshot
        if ts is not None and ts > 0:
            child(LATENCY_KAFKA, output).observe(max(0.0, now - ts / 1000.0))
        recorded = _recorded_at(origin.raw)
        if recorded is not None:
            child(LATENCY_RECORDED, output).observe(max(0.0, now - recorded))
    return key, value


# --- source progress: Kafka lag and the event-time watermark ------------------------------

_watermark: int | None = None
_due: dict[str, float] = {}


def due(what: str, every: float = 1.0) -> bool:
    """Whether ``every`` seconds have passed since ``what`` was last due (cheap rate limiting)."""
    now = time.monotonic()
    if now - _due.get(what, -1e18) < every:
        return False
    _due[what] = now
    return True


def advance_watermark(day: int | None) -> None:
    """Move this process's event-time watermark to ``day`` (a ``date.toordinal()``) if later."""
    global _watermark
    if day is None or (_watermark is not None and day <= _watermark):
        return
    _watermark = day
    midnight = dt.datetime.combine(dt.date.fromordinal(day), dt.time(), dt.UTC)
    WATERMARK.labels(_process).set(midnight.timestamp())


def set_kafka_lag(parts: Iterable[tuple[str, int, int, int | None]]) -> None:
    """``(topic, partition, high watermark, next offset to release)`` per input partition.

    A negative high watermark means "not known yet" (no fetch answered) and is skipped.
    """
    for topic, partition, high, next_offset in parts:
        if high >= 0:
            child(KAFKA_LAG, topic, str(partition)).set(max(0, high - (next_offset or 0)))


def input_total() -> float:
    """Input messages read by this process so far (the sum of ``familycard_input_messages``)."""
    return sum(s.value for m in INPUT.collect() for s in m.samples if s.name.endswith("_total"))


# --- serving ------------------------------------------------------------------------------

class BytewaxMetrics:
    """Re-exports Bytewax's ``bytewax_*`` metric families from its dataflow API server.

    Registered in ``export_registry()`` only — never in the default ``REGISTRY``, which
    Bytewax's own server renders on every request (that would make each request fetch
    itself). Yields nothing while the dataflow API is not up (before and after the run).
    """

    def __init__(self, url: str, timeout: float = 1.0) -> None:
        self.url = url
        self.timeout = timeout

    def describe(self) -> list[Metric]:
        return []  # unknown until the dataflow runs; no duplicate check at registration

    def collect(self) -> Iterator[Metric]:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:  # noqa: S310 (loopback URL)
                text = resp.read().decode("utf-8", errors="replace")
        except OSError:
            return
        for family in text_string_to_metric_families(text):
            if family.name.startswith("bytewax_"):
                yield family


class _Default:
    """The default registry (our metrics and the process/GC collectors) inside another registry."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


_export: CollectorRegistry | None = None
_servers: dict[int, Any] = {}
_bytewax_api_used = False
_lock = threading.Lock()


def export_registry(bytewax_url: str | None = None) -> CollectorRegistry:
    """The registry our HTTP endpoint serves: the default one plus, once known, Bytewax's metrics."""
    global _export
    with _lock:
        if _export is None:
            _export = CollectorRegistry(auto_describe=False)
            _export.register(_Default())  # type: ignore[arg-type]
        if bytewax_url is not None:
            _export.register(BytewaxMetrics(bytewax_url))  # type: ignore[arg-type]
        return _export


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- health: /healthz (the process answers) and /readyz (started, caught up, not stalled) ----

READY_LAG_MESSAGES = 1000
"""Ready when at most this many input messages wait unread (``familycard_kafka_lag_messages``)."""
STALLED_SECONDS = 120.0
"""Not ready when messages wait and none was read for this long: the flow is stuck."""

_started = False
_progress = (0.0, 0.0)  # (input messages read, when that count last changed)


def mark_started() -> None:
    """The flow read its first message (the source calls it, cheaply, every batch)."""
    global _started
    _started = True


def readiness() -> tuple[bool, str]:
    """Whether this process is ready, and why (the body of ``/readyz``)."""
    global _progress
    if not _started:
        return False, "starting: no input read yet"
    lag = sum(s.value for m in KAFKA_LAG.collect() for s in m.samples if s.value > 0)
    read, since = _progress
    now_read = input_total()
    now = time.monotonic()
    if now_read != read or since == 0.0:
        _progress = (now_read, now)
        since = now
    if lag > 0 and now - since > STALLED_SECONDS:
        return False, f"stalled: {lag:.0f} messages wait and none was read for {now - since:.0f} s"
    if lag > READY_LAG_MESSAGES:
        return False, f"catching up: {lag:.0f} messages wait (ready at {READY_LAG_MESSAGES})"
    return True, f"ready: {lag:.0f} messages wait"


def _serve(port: int, addr: str, registry: CollectorRegistry) -> Any:
    """``/metrics`` (Prometheus), ``/healthz`` and ``/readyz`` on one port, in a daemon thread."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client import make_wsgi_app

    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz"):
            ok, why = (True, "alive") if path == "/healthz" else readiness()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [why.encode() + b"\n"]
        return metrics_app(environ, start_response)  # type: ignore[no-any-return]

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

    server = make_server(addr, port, app, Server, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True, name=f"metrics-{port}").start()
    return server


def start(port: int, process_id: int | None = None, *, bytewax_metrics: bool = True,
          addr: str = "127.0.0.1") -> int:
    """Prepare this process's metrics; serve them on ``port + process_id`` unless ``port`` is 0.

    Call once per flow run, in the process that runs the dataflow, before it starts. With
    ``bytewax_metrics`` (and a port), Bytewax's dataflow API server is switched on for the
    run that follows, on ``BYTEWAX_DATAFLOW_API_PORT + process_id`` if that variable is set,
    else on a free port, and its ``bytewax_*`` metrics are re-exported on ours. Bytewax can
    register its metrics only once per process, so a second run in the same process runs
    without them. Returns the port served (0 = none).
    """
    global _process, _watermark, _bytewax_api_used
    index = process_id or 0
    _process = str(index)
    _watermark = None
    if _bytewax_api_used:
        # A second in-process run must not start Bytewax's metrics again (it raises).
        os.environ.pop("BYTEWAX_DATAFLOW_API_ENABLED", None)
    if not port:
        return 0
    bytewax_url = None
    if bytewax_metrics and not _bytewax_api_used:
        base = os.environ.get("BYTEWAX_DATAFLOW_API_PORT")
        api_port = int(base) + index if base else _free_port()
        os.environ["BYTEWAX_DATAFLOW_API_ENABLED"] = "1"
        os.environ["BYTEWAX_DATAFLOW_API_PORT"] = str(api_port)
        # Bytewax writes the dataflow's JSON there when its API starts; keep it out of the work dir.
        os.environ.setdefault("BYTEWAX_DATAFLOW_API_CACHE_PATH", tempfile.gettempdir())
        _bytewax_api_used = True
        bytewax_url = f"http://127.0.0.1:{api_port}/metrics"
        log.info("Bytewax dataflow API (its own metrics at /metrics) on port %d", api_port)
    registry = export_registry(bytewax_url)
    serve = port + index
    if serve not in _servers:
        _servers[serve] = _serve(serve, addr, registry)
        log.info("metrics on http://%s:%d/metrics", addr, serve)
    return serve
