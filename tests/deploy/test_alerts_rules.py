"""The alert rules' own tests and their wiring, without a running system.

- ``promtool test rules deploy/prometheus/alerts_test.yml`` passes, and that file has, for every
  alert of ``alerts.yml``, at least one case where it fires and one where it stays quiet
  (including the vanished-series cases: no ``up`` series at all, a running process without a
  watermark);
- every rule has a ``runbook_url`` to its own section of ``deploy/RUNBOOK.md``;
- Prometheus sends to the Alertmanager of ``docker-compose.yml``, whose configuration
  ``amtool`` accepts, also as the compose service renders it with a webhook URL.

YAML is read with ``yq`` (Debian's, YAML to JSON), which ``make tools`` installs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROM_DIR = ROOT / "deploy" / "prometheus"
ALERTS = PROM_DIR / "alerts.yml"
ALERTS_TEST = PROM_DIR / "alerts_test.yml"
RUNBOOK = ROOT / "deploy" / "RUNBOOK.md"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
COMPOSE = ROOT / "docker-compose.yml"
PLACEHOLDER = "http://WEBHOOK_URL_PLACEHOLDER/familycard-alerts"


def require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed; `make tools` installs them (as root: apt-get install -y "
                    "prometheus prometheus-alertmanager docker-compose yq)", pytrace=False)


def load_yaml(path: Path) -> Any:
    require("yq")
    done = subprocess.run(["yq", ".", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def alert_rules() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in load_yaml(ALERTS)["groups"] for r in g["rules"] if "alert" in r}


def rule_cases() -> list[tuple[str, str, list[dict[str, Any]]]]:
    """``(test name, alert name, expected alerts)`` of every ``alert_rule_test`` in alerts_test.yml."""
    return [(test["name"], case["alertname"], case.get("exp_alerts") or [])
            for test in load_yaml(ALERTS_TEST)["tests"] for case in test.get("alert_rule_test", [])]


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    require("promtool")
    done = subprocess.run(["promtool", "test", "rules", str(ALERTS_TEST)], capture_output=True, text=True,
                          timeout=120, cwd=PROM_DIR)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    rules = alert_rules()
    assert len(rules) >= 6
    assert load_yaml(ALERTS_TEST)["rule_files"] == ["alerts.yml"]
    cases = rule_cases()
    assert {alert for _, alert, _ in cases} <= set(rules), "a case for an alert alerts.yml does not have"
    for name in rules:
        firing = [t for t, alert, exp in cases if alert == name and exp]
        quiet = [t for t, alert, exp in cases if alert == name and not exp]
        assert firing, f"{name}: no case where it fires"
        assert quiet, f"{name}: no case where it stays quiet"


def test_vanished_series_still_alert() -> None:
    """No familycard `up` series at all, and a running process without a watermark, are tested."""
    rules = alert_rules()
    assert 'absent(up{job="familycard"})' in rules["FamilycardProcessDown"]["expr"]
    assert "familycard_event_time_watermark_timestamp_seconds" in rules["FamilycardWatermarkStalled"]["expr"]
    assert "unless" in rules["FamilycardWatermarkStalled"]["expr"]
    fired: dict[str, list[dict[str, str]]] = {}
    for _, alert, exp in rule_cases():
        fired.setdefault(alert, []).extend(a["exp_labels"] for a in exp)
    assert any("instance" not in labels for labels in fired["FamilycardProcessDown"]), \
        "no case for every up series gone (absent)"
    assert any(labels.get("watermark") == "missing" for labels in fired["FamilycardWatermarkStalled"]), \
        "no case for a running process without a watermark"


def _runbook_sections() -> dict[str, str]:
    """``## Heading`` -> its text, for every second-level section of the runbook."""
    parts = re.split(r"^## (.+)$", RUNBOOK.read_text(), flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_rule_has_a_runbook_section() -> None:
    sections = _runbook_sections()
    rules = alert_rules()
    for name, rule in rules.items():
        url = rule.get("annotations", {}).get("runbook_url")
        # a GitHub-style anchor: the heading in lower case (alert names have no spaces or punctuation)
        assert url == f"deploy/RUNBOOK.md#{name.lower()}", (name, url)
        assert name in sections, f"deploy/RUNBOOK.md has no section '## {name}'"
        for part in ("**Means.**", "**Check.**", "**Fix.**"):
            assert part in sections[name], f"{name}: the runbook section has no {part}"
    alerts_sections = {s for s in sections if s.startswith("Familycard")}
    assert alerts_sections == set(rules), "runbook sections for alerts that do not exist"
    for anchor in re.findall(r"\]\(#([a-z0-9-]+)\)", RUNBOOK.read_text()):  # its own cross-links
        assert anchor in {s.lower() for s in sections}, anchor


def test_prometheus_sends_to_the_compose_alertmanager() -> None:
    config = load_yaml(PROM_DIR / "prometheus.yml")
    targets = [t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]]
    assert targets == ["alertmanager:9093"]
    compose = load_yaml(COMPOSE)
    service = compose["services"]["alertmanager"]
    assert "9093:9093" in service["ports"]
    assert "./deploy/alertmanager:/etc/alertmanager:ro" in service["volumes"]
    assert "alertmanager" in compose["services"]["prometheus"]["depends_on"]


def test_amtool_accepts_the_alertmanager_config() -> None:
    require("amtool")
    done = subprocess.run(["amtool", "check-config", str(ALERTMANAGER)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    config = load_yaml(ALERTMANAGER)
    hooks = [w["url"] for r in config["receivers"] for w in r.get("webhook_configs", [])]
    assert hooks == [PLACEHOLDER]
    assert config["route"]["receiver"] in {r["name"] for r in config["receivers"]}


def render_compose_config(url: str | None, tmp: Path) -> Path:
    """Run the compose ``alertmanager`` service's start script, as the container would, on this
    machine: ``/etc/alertmanager`` is ``deploy/alertmanager``, ``/alertmanager`` a temporary
    directory, and ``exec /bin/alertmanager`` is left out. Returns the rendered configuration."""
    service = load_yaml(COMPOSE)["services"]["alertmanager"]
    assert service["entrypoint"] == ["/bin/sh", "-ec"]
    script = service["command"][0].replace("$$", "$")  # compose's escape of a literal $
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    script = script.replace("/etc/alertmanager/", f"{ALERTMANAGER.parent}/").replace(" /alertmanager/", f" {data}/")
    script = re.sub(r"^exec /bin/alertmanager .*(\n\s+.*)*", "", script, flags=re.M)
    env = {"PATH": "/usr/bin:/bin"} | ({"ALERTMANAGER_WEBHOOK_URL": url} if url is not None else {})
    done = subprocess.run(["/bin/sh", "-ec", script], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return data / "alertmanager.yml"


def test_the_compose_service_puts_the_webhook_url_in(tmp_path: Path) -> None:
    require("amtool")
    url = "https://hooks.example.kz/alerts?token=a&b|c"  # & and | must survive sed
    rendered = render_compose_config(url, tmp_path)
    done = subprocess.run(["amtool", "check-config", str(rendered)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    hooks = [w["url"] for r in load_yaml(rendered)["receivers"] for w in r.get("webhook_configs", [])]
    assert hooks == [url]
    unset = render_compose_config(None, tmp_path)  # no URL: the placeholder stays (and a warning)
    assert [w["url"] for r in load_yaml(unset)["receivers"] for w in r.get("webhook_configs", [])] == [PLACEHOLDER]
