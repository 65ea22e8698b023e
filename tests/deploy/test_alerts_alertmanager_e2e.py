"""Alerts reach someone: a real Prometheus evaluates the real rules of ``deploy/prometheus/alerts.yml``
(their ``for:`` shortened to 1 s) and sends what fires to a real Alertmanager (Debian's
``prometheus-alertmanager``) running ``deploy/alertmanager/alertmanager.yml`` as the compose
service renders it (its group timings shortened), which posts to a webhook served here.

Prometheus scrapes one job ``familycard`` of two targets: a small prometheus_client server in
this test, whose ``familycard_day_ticks_filled_total`` goes up once (FamilycardDayTicksMissing),
and a port nobody listens on (``up == 0``: FamilycardProcessDown). The webhook must receive both
alerts with their labels and rendered annotations, runbook_url included; FamilycardNoInput (the
test's input counter is flat) must be held back by the inhibit rule. Everything listens on free
loopback ports and is stopped by its own handle.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from tests.deploy.test_alerts_rules import ALERTS, RUNBOOK, render_compose_config
from tests.e2e.test_observability_e2e import _free_port, _get, query, require

DEADLINE = 30.0  # seconds for both alerts to reach the webhook (typically ~5)


class Webhook:
    """A webhook receiver on a free loopback port: keeps every JSON body Alertmanager posts."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook.arrived:
                    hook.posts.append({"path": self.path, **json.loads(body)})
                    hook.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (quiet)
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/familycard-alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self) -> list[dict[str, Any]]:
        with self.arrived:
            return [a for post in self.posts for a in post["alerts"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _fast_rules(tmp: Path) -> Path:
    """The real rules with every ``for:`` at 1 s, so the test needs seconds, not half hours."""
    text, n = re.subn(r"^(\s+)for: \S+$", r"\1for: 1s", ALERTS.read_text(), flags=re.M)
    assert n >= 5, "alerts.yml: fewer `for:` clauses than expected"
    path = tmp / "alerts.yml"
    path.write_text(text)
    return path


def _fast_alertmanager(tmp: Path, url: str) -> Path:
    """The compose-rendered Alertmanager configuration, its group timings shortened."""
    path = render_compose_config(url, tmp)
    text = path.read_text()
    for key, value in (("group_wait", "1s"), ("group_interval", "2s")):
        text, n = re.subn(rf"^(\s+){key}: \S+$", rf"\g<1>{key}: {value}", text, flags=re.M)
        assert n == 1, key
    path.write_text(text)
    return path


@pytest.fixture
def alerting(tmp_path: Path) -> Iterator[dict[str, Any]]:
    require("prometheus", "prometheus-alertmanager", "amtool", "yq")
    hook = Webhook()
    # The process we control: one flow process's worth of metrics.
    registry = CollectorRegistry()
    ticks = Counter("familycard_day_ticks_filled", "made-up day ticks", registry=registry)
    inputs = Counter("familycard_input_messages", "input", ["topic", "type"], registry=registry)
    inputs.labels("registry.population", "birth").inc(10)
    watermark = Gauge("familycard_event_time_watermark_timestamp_seconds", "watermark", ["process"], registry=registry)
    watermark.labels("0").set(time.time() - 86400)
    metrics_port = _free_port()
    server, _thread = start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
    dead_port = _free_port()  # nobody listens there: a flow process that is down

    am_port = _free_port()
    am_log = (tmp_path / "alertmanager.log").open("wb")
    alertmanager = subprocess.Popen(
        ["prometheus-alertmanager", f"--config.file={_fast_alertmanager(tmp_path, hook.url)}",
         f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
         "--cluster.listen-address=", "--log.level=warn"],
        stdout=am_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    prom_port = _free_port()
    config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
              "rule_files": [str(_fast_rules(tmp_path))],
              "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
              "scrape_configs": [{"job_name": "familycard", "static_configs": [
                  {"targets": [f"127.0.0.1:{metrics_port}", f"127.0.0.1:{dead_port}"]}]}]}
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    prom_log = (tmp_path / "prometheus.log").open("wb")
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
        stdout=prom_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield {"hook": hook, "ticks": ticks, "metrics": f"127.0.0.1:{metrics_port}", "dead": f"127.0.0.1:{dead_port}",
               "prometheus": f"http://127.0.0.1:{prom_port}", "alertmanager": f"http://127.0.0.1:{am_port}",
               "procs": (prom, alertmanager), "logs": (tmp_path / "prometheus.log", tmp_path / "alertmanager.log")}
    finally:
        _stop(prom)
        _stop(alertmanager)
        prom_log.close()
        am_log.close()
        server.shutdown()
        server.server_close()
        hook.close()


def _wait_for(alerting: dict[str, Any], names: set[str]) -> dict[str, dict[str, Any]]:
    """The first webhook alert of each name in ``names``; fails with the logs after DEADLINE."""
    hook: Webhook = alerting["hook"]
    deadline = time.monotonic() + DEADLINE
    while True:
        got = {a["labels"]["alertname"]: a for a in reversed(hook.alerts()) if a["status"] == "firing"}
        if names <= set(got):
            return got
        for proc in alerting["procs"]:
            if proc.poll() is not None:
                break
        else:
            if time.monotonic() < deadline:
                with hook.arrived:
                    hook.arrived.wait(timeout=0.5)
                continue
        try:
            firing = json.loads(_get(f"{alerting['prometheus']}/api/v1/alerts"))["data"]["alerts"]
        except OSError as exc:
            firing = [f"Prometheus did not answer: {exc}"]
        logs = "\n".join(f"--- {p.name}:\n{p.read_text(errors='replace')[-1500:]}" for p in alerting["logs"])
        pytest.fail(f"after {DEADLINE:.0f} s the webhook has {sorted(got)}, not all of {sorted(names)}\n"
                    f"Prometheus's alerts: {firing}\n{logs}", pytrace=False)


def _scraped(prom: str, expr: str) -> bool:
    try:
        return bool(query(prom, expr)["result"])
    except OSError:  # not listening yet
        return False


def test_alerts_reach_the_webhook_with_labels_and_annotations(alerting: dict[str, Any]) -> None:
    # Prometheus must have scraped the counter at 0 before it goes up, or it never sees an increase
    deadline = time.monotonic() + DEADLINE
    while not _scraped(alerting["prometheus"], "familycard_day_ticks_filled_total == 0"):
        assert time.monotonic() < deadline, "Prometheus never scraped the test's metrics"
        time.sleep(0.3)
    alerting["ticks"].inc()
    got = _wait_for(alerting, {"FamilycardProcessDown", "FamilycardDayTicksMissing"})

    down = got["FamilycardProcessDown"]
    assert down["labels"] == {"alertname": "FamilycardProcessDown", "job": "familycard",
                              "instance": alerting["dead"], "severity": "critical"}
    assert down["annotations"] == {
        "summary": f"familycard process {alerting['dead']} is down",
        "description": "A Bytewax cluster needs every process; the others wait for it. Restart it "
                       "(recovery resumes it).",
        "runbook_url": "deploy/RUNBOOK.md#familycardprocessdown",
    }
    assert "/graph?g0.expr=" in down["generatorURL"]  # a link back to the rule's expression in Prometheus

    ticks = got["FamilycardDayTicksMissing"]
    assert ticks["labels"] == {"alertname": "FamilycardDayTicksMissing", "job": "familycard", "severity": "warning"}
    assert re.fullmatch(r"familycard made up [0-9.]+ day ticks the scheduler skipped in the last hour",
                        ticks["annotations"]["summary"]), ticks["annotations"]
    assert ticks["annotations"]["runbook_url"] == "deploy/RUNBOOK.md#familycarddayticksmissing"

    # every alert that arrived carries a runbook link to an existing section
    headings = {h.lower() for h in re.findall(r"^## (\S+)$", RUNBOOK.read_text(), flags=re.M)}
    hook: Webhook = alerting["hook"]
    for alert in hook.alerts():
        anchor = alert["annotations"]["runbook_url"].removeprefix("deploy/RUNBOOK.md#")
        assert anchor in headings, alert
    # FamilycardNoInput fires too (the test's input counter is flat), but a process down is its
    # cause: alertmanager.yml's inhibit rule holds it back
    deadline = time.monotonic() + 10
    while True:
        held = [a for a in json.loads(_get(f"{alerting['alertmanager']}/api/v2/alerts"))
                if a["labels"]["alertname"] == "FamilycardNoInput"]
        if held and held[0]["status"]["inhibitedBy"]:
            break
        assert time.monotonic() < deadline, f"FamilycardNoInput is not inhibited by FamilycardProcessDown: {held}"
        time.sleep(0.3)
    assert held[0]["status"]["state"] == "suppressed"
    # posted to the configured URL's path, grouped as alertmanager.yml says
    posts = hook.posts
    assert {p["path"] for p in posts} == {"/familycard-alerts"}
    assert all(p["receiver"] == "familycard-webhook" and set(p["groupLabels"]) <= {"alertname", "job"} for p in posts)
