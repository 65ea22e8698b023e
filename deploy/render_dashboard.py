"""Draw the panels of the familycard Grafana dashboard from a Prometheus, as one PNG.

Used for the picture in the README (``docs/dashboard.png``): the observability end-to-end
test runs a live flow scraped by a real Prometheus and, with
``FAMILYCARD_DASHBOARD_PNG=docs/dashboard.png``, calls ``render`` on that Prometheus before
stopping it. Against any other Prometheus::

    python deploy/render_dashboard.py --prometheus http://localhost:9090 --minutes 60 --output dashboard.png

Needs matplotlib (``pip install -e '.[dashboard]'``). Grafana itself is not needed: each
panel's expressions are evaluated with ``/api/v1/query_range`` (time series) or
``/api/v1/query`` (bar gauges and stats) and drawn with a simple reading of its unit. The
dashboard's ``$job`` and ``$instance`` variables are ``--job`` (default ``familycard``) and
``--instance`` (a regular expression, default ``.*``: every process).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["render"]

# Grafana's built-ins, and the dashboard's variables at their defaults: the familycard job, all of
# its processes (the instance variable's "All" is ".*").
DEFAULT_VARS = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "15s", "$job": "familycard",
                "$instance": ".*"}
_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _api(prom: str, path: str, **params: Any) -> dict[str, Any]:
    url = f"{prom}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 (an operator-given URL)
        answer = json.loads(resp.read())
    if answer.get("status") != "success":
        raise RuntimeError(f"{path} {params}: {answer}")
    return dict(answer["data"])


_CONTRACT_TOPICS = ("registry.population", "registry.civil", "registry.employment", "registry.disability",
                    "registry.status", "sms.replies", "calendar")


def _topic(value: str) -> str:
    """A topic label without a deployment's prefix (``test123.registry.civil`` -> ``registry.civil``)."""
    for name in _CONTRACT_TOPICS:
        if value.endswith("." + name):
            return name
    return value


def _legend(fmt: str, labels: dict[str, str]) -> str:
    labels = {k: (_topic(v) if k == "topic" else v) for k, v in labels.items()}
    text = _LEGEND.sub(lambda m: labels.get(m.group(1), ""), fmt or "")
    return text.strip() or ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__") or "value"


def _substitute(expr: str, variables: dict[str, str]) -> str:
    for name, value in variables.items():
        expr = expr.replace(name, value)
    return expr


def _scale(unit: str, values: list[float]) -> tuple[list[float], str]:
    """Values in a readable unit for the axis, and its label."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    top = max(finite, default=0.0)
    if unit == "percentunit":
        return [v * 100 for v in values], "%"
    if unit == "bytes":
        return [v / 2**20 for v in values], "MiB"
    if unit == "s":
        for div, name in ((86400.0, "days"), (3600.0, "hours"), (60.0, "minutes")):
            if top >= 2 * div:
                return [v / div for v in values], name
        return values, "seconds"
    return values, ""


def _timeseries(ax: Any, prom: str, panel: dict[str, Any], start: float, end: float, step: float,
                variables: dict[str, str]) -> None:
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
    label = ""
    for target in panel["targets"]:
        data = _api(prom, "/api/v1/query_range", query=_substitute(target["expr"], variables),
                    start=start, end=end, step=step)
        for series in data["result"]:
            xs = [float(t) - start for t, _ in series["values"]]
            ys, label = _scale(unit, [float(v) for _, v in series["values"]])
            ax.plot(xs, ys, linewidth=1.3, label=_legend(target.get("legendFormat", ""), series["metric"]))
    ax.set_xlabel("seconds into the run", fontsize=7)
    if label:
        ax.set_ylabel(label, fontsize=7)
    handles, labels = ax.get_legend_handles_labels()
    if handles:  # the ten largest series at most: a legend must not cover the plot
        peak = [max((abs(y) for y in line.get_ydata() if math.isfinite(y)), default=0) for line in ax.lines]
        keep = sorted(range(len(handles)), key=lambda i: -peak[i])[:10]
        ax.legend([handles[i] for i in keep], [labels[i] for i in keep], fontsize=6, loc="best",
                  ncol=2 if len(keep) > 4 else 1)


def _instant(ax: Any, prom: str, panel: dict[str, Any], at: float, variables: dict[str, str]) -> None:
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
    rows: list[tuple[dict[str, str], float, str]] = []  # (labels, value, legend format)
    for target in panel["targets"]:
        data = _api(prom, "/api/v1/query", query=_substitute(target["expr"], variables), time=at)
        fmt = target.get("legendFormat", "")
        if data["resultType"] == "scalar":
            rows.append(({}, float(data["result"][1]), fmt))
        else:
            rows += [(r["metric"], float(r["value"][1]), fmt) for r in data["result"]]
    scaled, label = _scale(unit, [v for _, v, _ in rows])
    if panel["type"] == "stat" and len(scaled) == 1:
        text = f"{scaled[0]:.1f} {label}".strip() if math.isfinite(scaled[0]) else "no data"
        ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=26, transform=ax.transAxes)
        ax.set_axis_off()
        return
    keys = _LEGEND.findall(rows[0][2]) if rows else []
    if len(keys) == 2:  # e.g. {{code}} {{outcome}}: grouped bars, one group per first label
        groups = sorted({m.get(keys[0], "") for m, _, _ in rows})
        kinds = sorted({m.get(keys[1], "") for m, _, _ in rows})
        value = {(m.get(keys[0], ""), m.get(keys[1], "")): v for (m, _, _), v in zip(rows, scaled)}
        height = 0.8 / max(1, len(kinds))
        for j, kind in enumerate(kinds):
            ax.barh([i + j * height for i in range(len(groups))], [value.get((g, kind), 0) for g in groups],
                    height=height, label=kind)
        ax.set_yticks([i + 0.4 - height / 2 for i in range(len(groups))], groups, fontsize=6)
        ax.invert_yaxis()
        ax.legend(fontsize=6, loc="lower right")
    else:
        names = [_legend(fmt, m) for m, _, fmt in rows]
        order = sorted(range(len(names)), key=lambda i: names[i])
        ax.barh([names[i] for i in order], [scaled[i] for i in order], color="#3b78c3")
        ax.tick_params(axis="y", labelsize=6)
        ax.invert_yaxis()
    if label:
        ax.set_xlabel(label, fontsize=7)


def render(prom: str, dashboard: Path, start: float, end: float, output: Path,
           variables: dict[str, str] | None = None) -> Path:
    """Draw every panel of ``dashboard`` over ``[start, end]`` (Unix seconds) into ``output``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Short runs are drawn with short rate windows, or every curve is one smeared ramp.
    variables = {**DEFAULT_VARS, **(variables or {})}
    dash = json.loads(dashboard.read_text())
    panels = [p for p in dash["panels"] if p.get("type") != "row"]
    cols = 3
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 5.4, rows * 3.1))
    step = max(1.0, (end - start) / 200)
    for ax, panel in zip(axes.flat, panels):
        ax.set_title(panel["title"], fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        try:
            if panel["type"] == "timeseries":
                _timeseries(ax, prom, panel, start, end, step, variables)
            else:
                _instant(ax, prom, panel, end, variables)
        except Exception as exc:  # one broken panel must not hide the others
            ax.text(0.5, 0.5, f"error: {exc}", ha="center", va="center", fontsize=7, wrap=True,
                    transform=ax.transAxes)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    when = dt.datetime.fromtimestamp(end, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    fig.suptitle(f"{dash['title']} (rendered from Prometheus at {when}, {end - start:.0f} s shown)", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=90)
    plt.close(fig)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus", default="http://localhost:9090")
    parser.add_argument("--dashboard", type=Path,
                        default=Path(__file__).parent / "grafana" / "dashboards" / "familycard.json")
    parser.add_argument("--minutes", type=float, default=60.0, help="time range to draw, ending now")
    parser.add_argument("--rate-interval", default="1m", help="value of Grafana's $__rate_interval")
    parser.add_argument("--job", default="familycard", help="value of the dashboard's $job")
    parser.add_argument("--instance", default=".*", help="value of the dashboard's $instance (a regex)")
    parser.add_argument("--output", type=Path, default=Path("dashboard.png"))
    args = parser.parse_args()
    end = time.time()
    start = end - args.minutes * 60
    out = render(args.prometheus, args.dashboard, start, end, args.output,
                 {"$__rate_interval": args.rate_interval, "$__range": f"{int(args.minutes * 60)}s",
                  "$job": args.job, "$instance": args.instance})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
