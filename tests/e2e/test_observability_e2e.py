"""The operators' view end to end: a live 2-process flow on a real broker, scraped by a real
Prometheus that evaluates the alert rules; every dashboard expression must return data.

The input is a generated population with bad lines, plus the SMS replies its citizens would
send (computed from a file replay of the same input, so consents and assignments happen in
event time). The flow runs in live Kafka mode with ``--metrics-port`` and ``--recovery`` (as
deployed, so Bytewax's snapshot metrics exist); Prometheus (Debian's
``prometheus``, started here on a free loopback port, stopped by PID) scrapes both processes
every second. Set ``FAMILYCARD_DASHBOARD_PNG=docs/dashboard.png`` to also draw the dashboard
from this Prometheus with ``deploy/render_dashboard.py``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from familycard.cli import main
from familycard.generator import corrupt, generate
from flows.citizens import reply_for
from flows.kafka_io import ensure_topics
from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS
from tests.flows.test_metrics import personal_data_in

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "familycard.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
KZ = dt.timezone(dt.timedelta(hours=5))
FAMILIES, DAYS = 300, 40
# Grafana's variables, as Grafana would fill them for a short time range, with the dashboard's
# defaults: the familycard job, all of its processes (the instance variable's "All" is ".*").
GRAFANA_VARS = {"$__rate_interval": "2m", "$__range": "5m", "$__interval": "15s", "$job": "familycard",
                "$instance": ".*"}
# Dashboard panels that may show no data in this run, each with the metric whose absence from the
# flow's exposition excuses it and why. Only while that metric is really absent: once the flow
# exports it, the panel must return data like every other.
MAY_BE_EMPTY = {
    "Version": ("familycard_build_info",
                "the build-info gauge is added by a concurrent change (issue 14); no series until the flow exports it"),
}
ALERT_NAMES = {"FamilycardDeadLetterSpike", "FamilycardWatermarkStalled", "FamilycardLagGrowing", "FamilycardDayTicksMissing",
               "FamilycardNoInput", "FamilycardProcessDown"}


def require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed; `make tools` installs Prometheus and docker-compose "
                    "(as root: apt-get install -y prometheus docker-compose)", pytrace=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_pair() -> int:
    """A port P with P + 1 free too (the flow's processes serve P and P + 1)."""
    for _ in range(50):
        p = _free_port()
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback)
        return bytes(resp.read())


def query(prom: str, expr: str) -> dict[str, Any]:
    """``/api/v1/query`` of ``expr`` now; the ``data`` object (raises on an error status)."""
    url = f"{prom}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        answer = json.loads(_get(url))
    except urllib.error.HTTPError as exc:  # 400/422: a bad expression, with Prometheus's reason
        raise AssertionError(f"{expr!r}: {exc.read().decode(errors='replace')}") from exc
    assert answer["status"] == "success", (expr, answer)
    return dict(answer["data"])


def _values(data: dict[str, Any]) -> list[float]:
    if data["resultType"] == "scalar":
        return [float(data["result"][1])]
    return [float(r["value"][1]) for r in data["result"]]


def _scalar(prom: str, expr: str) -> float:
    values = _values(query(prom, expr))
    return values[0] if values else 0.0


def grafana_expr(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def dashboard_targets() -> list[tuple[str, str]]:
    """``(panel title, expression)`` of every query in the dashboard."""
    dash = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dash["panels"] if p.get("type") != "row" for t in p["targets"]]


_SELECTOR = re.compile(r"\b((?:familycard|bytewax|process)_[a-z_]+|up)\b(\{[^}]*\})?")


def selectors(expr: str) -> list[str]:
    """The metric selectors inside a PromQL expression (``name`` or ``name{matchers}``)."""
    return sorted({m.group(1) + (m.group(2) or "") for m in _SELECTOR.finditer(expr)})


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)  # the launcher and its cluster processes (its own session)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _input(tmp: Path) -> tuple[Path, Path, int, int]:
    """Two files of messages to produce, one after the other: the first half of the events (with
    bad lines), then the rest of them with the citizens' replies.

    Two batches because the flow reads a whole file in well under one scrape interval: had it all
    come at once, every counter would be flat in any window Prometheus can see, and rate() and
    histogram_quantile() over it would be 0 and NaN. The second batch lands after Prometheus has
    seen the first, so each series changes inside its window, as in a live system.

    Returns the two files, the total message count and the number of replies.
    """
    start = dt.datetime.now(KZ).date() - dt.timedelta(days=DAYS)  # event time ends yesterday
    lines = list(corrupt(generate(FAMILIES, start, DAYS, seed=11), 0.02, seed=11))
    events = tmp / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["run", "--input", str(events), "--output", str(tmp / "replay")]) == 0
    notes = [orjson.loads(x) for x in (tmp / "replay" / "notifications.jsonl").read_bytes().splitlines() if x]
    replies = sorted((r for r in map(reply_for, notes) if r is not None), key=lambda r: r["received_at"])
    half = len(lines) // 2
    first, second = tmp / "input-1.jsonl", tmp / "input-2.jsonl"
    first.write_bytes(b"\n".join(lines[:half]) + b"\n")
    second.write_bytes(b"\n".join([*lines[half:], *map(orjson.dumps, replies)]) + b"\n")
    return first, second, len(lines) + len(replies), len(replies)


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require("prometheus", "promtool")
    tmp = tmp_path_factory.mktemp("observability")
    # letters only: a long digit run in a topic name would trip the personal-data scan
    prefix = "obs" + "".join(random.choice(string.ascii_lowercase) for _ in range(8)) + "."
    first, second, total, n_replies = _input(tmp)
    n_first = sum(1 for _ in first.read_bytes().splitlines())
    assert n_replies > 5, "the population should answer some offers"
    ensure_topics(kafka_bootstrap, [prefix + "out." + t for t in OUTPUT_TOPICS.values()])
    assert main(["produce", "--kafka", kafka_bootstrap, "--input", str(first), "--topic-prefix", prefix]) == 0

    port = _free_pair()
    flow_log = (tmp / "flow.log").open("wb")
    flow = subprocess.Popen(
        [sys.executable, "-m", "familycard", "run", "--kafka", kafka_bootstrap, "--input-prefix", prefix,
         "--output-prefix", prefix + "out.", "--workers", "2", "--metrics-port", str(port),
         "--recovery", str(tmp / "recovery")],
        stdout=flow_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=tmp)
    prom_port = _free_port()
    # Scrapes every 2 s with a 2 s timeout: a busy machine must not make a scrape fail (a failed
    # scrape marks the target's series stale, and queries at that instant find nothing).
    config = {"global": {"scrape_interval": "2s", "scrape_timeout": "2s", "evaluation_interval": "1s"},
              "rule_files": [str(ALERTS)],
              "scrape_configs": [{"job_name": "familycard",
                                  "static_configs": [{"targets": [f"127.0.0.1:{port}", f"127.0.0.1:{port + 1}"]}]}]}
    (tmp / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    prom_log = (tmp / "prometheus.log").open("wb")
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
        stdout=prom_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{prom_port}"
    started = time.time()
    try:
        deadline = time.monotonic() + 90

        def failed(what: str) -> None:
            flow_log.flush()
            prom_log.flush()
            tail = (tmp / "flow.log").read_text(errors="replace")[-3000:]
            ptail = (tmp / "prometheus.log").read_text(errors="replace")[-1500:]
            pytest.fail(f"{what}\n--- flow log:\n{tail}\n--- prometheus log:\n{ptail}", pytrace=False)

        def wait_for(expected: int, assignments: bool) -> None:
            """Until Prometheus has seen the flow read `expected` messages (and assign benefits)."""
            while True:
                if flow.poll() is not None:
                    failed(f"the flow exited with {flow.returncode}")
                if prom.poll() is not None:
                    failed(f"prometheus exited with {prom.returncode}")
                try:
                    read = _scalar(url, "sum(familycard_input_messages_total)")
                    assigned = _scalar(url, "sum(familycard_assignments_total)")
                    if read >= expected and (assigned > 0 or not assignments):
                        return
                except OSError:
                    read = assigned = 0
                if time.monotonic() > deadline:
                    failed(f"after 90 s Prometheus saw {read:.0f} of {expected} input messages, "
                           f"{assigned:.0f} assignments")
                time.sleep(0.5)

        wait_for(n_first, assignments=False)
        time.sleep(2.5)  # one more scrape of the flat counters, so the second batch is a change
        assert main(["produce", "--kafka", kafka_bootstrap, "--input", str(second), "--topic-prefix", prefix]) == 0
        wait_for(total, assignments=True)
        time.sleep(5)  # a few more scrapes and rule evaluations after the last change
        yield {"prometheus": url, "ports": (port, port + 1), "total": total, "replies": n_replies,
               "start": started, "tmp": tmp}
        png = os.environ.get("FAMILYCARD_DASHBOARD_PNG")
        if png:
            spec = importlib.util.spec_from_file_location("render_dashboard", ROOT / "deploy" / "render_dashboard.py")
            assert spec is not None and spec.loader is not None
            render = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(render)
            end = time.time()  # short rate windows: the run lasts seconds, not hours
            render.render(url, DASHBOARD, started - 2, end, Path(png),
                          {"$__rate_interval": "6s", "$__range": f"{int(end - started) + 5}s"})
    finally:
        _stop_group(flow)
        prom.terminate()
        try:
            prom.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        flow_log.close()
        prom_log.close()


def _empty(prom: str, targets: list[tuple[str, str]]) -> list[str]:
    empty = []
    for title, expr in targets:
        data = query(prom, grafana_expr(expr))
        values = _values(data)
        if not values or not any(math.isfinite(v) for v in values):
            empty.append(f"{title}: {expr} -> {data['result']}")
    return empty


def test_every_dashboard_expression_returns_data(stack: dict[str, Any]) -> None:
    targets = dashboard_targets()
    assert len(targets) >= 15
    titles = {title for title, _ in targets}
    assert set(MAY_BE_EMPTY) <= titles, "MAY_BE_EMPTY names a panel the dashboard no longer has"
    exposition = " ".join(_get(f"http://127.0.0.1:{p}/metrics").decode() for p in stack["ports"])
    excused = {title for title, (metric, _why) in MAY_BE_EMPTY.items() if metric not in exposition}
    checked = [(title, expr) for title, expr in targets if title not in excused]
    for _ in range(3):  # one failed scrape (a busy machine) may blank an instant: ask again a bit later
        empty = _empty(stack["prometheus"], checked)
        if not empty:
            break
        time.sleep(2.5)
    assert empty == [], "\n".join(empty)
    for title in excused:  # and an excused panel is empty only because its metric is missing
        assert _empty(stack["prometheus"], [(t, e) for t, e in targets if t == title])


def test_every_alert_rule_is_loaded_evaluates_and_reads_real_series(stack: dict[str, Any]) -> None:
    prom = stack["prometheus"]
    groups = json.loads(_get(f"{prom}/api/v1/rules"))["data"]["groups"]
    rules = [r for g in groups for r in g["rules"] if r["type"] == "alerting"]
    assert {r["name"] for r in rules} == ALERT_NAMES
    for rule in rules:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
        query(prom, rule["query"])  # evaluates without error (whether it fires or not)
        inner = selectors(rule["query"])
        assert inner, rule["query"]
        for sel in inner:
            assert query(prom, sel)["result"], f"{rule['name']}: {sel} has no series"
    # the flow is healthy: no process down, and nothing fires yet (every rule has a `for`)
    assert not [r["name"] for r in rules if r["state"] == "firing"]
    # not even pending: the vanished-series parts (no up series, no watermark) stay quiet on a real
    # cluster, where only the process with the aligned source exports the watermark
    for name in ("FamilycardProcessDown", "FamilycardWatermarkStalled"):
        assert [r["alerts"] for r in rules if r["name"] == name] == [[]], name
    assert _scalar(prom, 'min(max_over_time(up{job="familycard"}[10s]))') == 1


def test_metrics_of_the_run(stack: dict[str, Any]) -> None:
    prom = stack["prometheus"]
    assert _scalar(prom, "sum(familycard_input_messages_total)") == stack["total"]
    assert _scalar(prom, 'sum(familycard_input_messages_total{topic=~".*sms.replies"})') == stack["replies"]
    assert _scalar(prom, "count(familycard_kafka_lag_messages)") >= len(INPUT_TOPICS)
    assert _scalar(prom, "max(familycard_kafka_lag_messages)") == 0  # caught up with the backlog
    assert _scalar(prom, "sum(familycard_latency_kafka_to_output_seconds_count)") > 0
    # event time ends with yesterday's tick: the watermark is at most two days behind the clock
    behind = _scalar(prom, "time() - max(familycard_event_time_watermark_timestamp_seconds)")
    assert 0 < behind < 2 * 86400 + 3600
    assert _scalar(prom, 'sum(familycard_state_size{kind="persons"})') > FAMILIES
    assert _scalar(prom, 'count(familycard_state_size{kind="persons"} > 0)') == 2  # keys on both processes
    assert _scalar(prom, "sum(bytewax_item_inp_count_total)") > 0


def test_scraped_metrics_carry_no_personal_data(stack: dict[str, Any]) -> None:
    texts = [_get(f"http://127.0.0.1:{p}/metrics").decode() for p in stack["ports"]]
    assert all("familycard_state_size" in t for t in texts)
    assert any("bytewax_item_inp_count_total" in t for t in texts)
    assert any("bytewax_partd_write_duration_seconds" in t for t in texts)  # recovery is on
    for text in texts:
        assert personal_data_in(text) == []  # Bytewax's recovery labels are on the scanner's allow-list


# --- the files themselves (no stack needed) -------------------------------------------------

def test_promtool_accepts_the_rules_and_the_config() -> None:
    require("promtool")
    for args in (["check", "rules", str(ALERTS)], ["check", "config", str(PROMETHEUS_CONFIG)]):
        done = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_docker_compose_file_is_valid() -> None:
    require("docker-compose")
    done = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dashboard_and_grafana_provisioning_agree() -> None:
    dash = json.loads(DASHBOARD.read_text())
    datasource = (ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    assert re.search(r"type:\s*prometheus", datasource)  # what the dashboard's data source variable lists
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for name in ("job", "instance"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert variables["instance"]["includeAll"] and variables["instance"]["allValue"] == ".*"
    # no hard-coded data source uid anywhere: every panel and query uses the variable
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    assert panels
    for p in panels:
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert all(t["datasource"] == p["datasource"] for t in p["targets"]), p["title"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    # every metric selector of every query is narrowed to the chosen job and processes
    for title, expr in dashboard_targets():
        for sel in selectors(expr):
            assert 'job=~"$job"' in sel and 'instance=~"$instance"' in sel, f"{title}: {sel}"
    text = " ".join(e for _, e in dashboard_targets())
    for metric in ("familycard_input_messages_total", "familycard_latency_kafka_to_output_seconds_bucket",
                   "familycard_latency_recorded_to_output_seconds_bucket", "familycard_kafka_lag_messages",
                   "familycard_offer_funnel_total", "familycard_dead_letters_total", "familycard_state_size",
                   "familycard_event_time_watermark_timestamp_seconds", "bytewax_", "process_start_time_seconds",
                   "familycard_build_info", "bytewax_snapshot_duration_seconds_bucket",
                   "bytewax_partd_write_duration_seconds_bucket"):
        assert metric in text, metric
    assert "time() - max by (instance) (familycard_event_time_watermark_timestamp_seconds" in text  # lag in time
    assert "changes(process_start_time_seconds" in text  # restarts


def _threshold_values(panel: dict[str, Any]) -> set[float]:
    steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    return {s["value"] for s in steps if s["value"] is not None}


def test_dashboard_thresholds_are_the_targets() -> None:
    """The threshold lines are the targets of bench/RESULTS.md and the alerts' thresholds."""
    panels = {p["title"]: p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"}
    assert 0.1 in _threshold_values(panels["From the Kafka timestamp (p50, p99)"])  # p99 <= 100 ms
    assert 0.05 in _threshold_values(panels["Dead-letter share of input"])  # FamilycardDeadLetterSpike: 5 %
    assert 1000 in _threshold_values(panels["Processing lag by topic (messages)"])  # FamilycardLagGrowing
    assert 50 * 3600 in _threshold_values(panels["Lag in time: event-time watermark behind the wall clock"])
    assert 8 * 2**30 in _threshold_values(panels["Resident memory"])  # RSS target, national scale
    assert 1 in _threshold_values(panels["Restarts (last hour)"])
    for title in ("From the Kafka timestamp (p50, p99)", "Dead-letter share of input"):
        assert panels[title]["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off", title

