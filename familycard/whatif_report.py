"""The what-if report: what a reform changes, from the baseline's and the reform's outputs.

``familycard whatif`` (``familycard.whatif``) replays one input under the baseline and under a
reform; each side yields the records ``familycard run`` writes (contract §2). This module turns
the two sides into the files of the what-if's output directory (docs/WHATIF.md):

- ``summary.json``: offers, offered KZT and families per code (base, reform, delta), families
  gaining / losing / unchanged, the monthly cost of the assigned benefits;
- ``diff.jsonl``: one line per occasion whose offer differs between the sides;
- ``report.html``: one self-contained page (charts as inline SVG, no network) for a minister.

Only the records are read: no rule, parameter or flow is imported, so the report says what the
outputs say, whatever produced them.
"""

from __future__ import annotations

import html
import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from state.ids import base_of

__all__ = ["FamilyInfo", "families_from_events", "read_outputs", "write_whatif", "summarize",
           "diff_lines", "monthly_cost", "cost_by_code", "OUTPUT_FILES", "DEFAULT_CONSENT"]

#: The record lists of one side, by key, and the file ``familycard run`` writes each to.
OUTPUT_FILES = {"notifications": "notifications.jsonl", "assignments": "assignments.jsonl",
                "outcomes": "outcomes.jsonl", "dead-letters": "dead-letters.jsonl"}

DEFAULT_CONSENT = ("Consent is as simulated or as given in the input: the assignments, and so the cost, "
                   "follow the replies each side's offers received, not a modelled take-up.")

SIZE_BUCKETS = ("1", "2", "3", "4", "5", "6+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class FamilyInfo:
    """A family as the input leaves it: its number of members and its region."""

    size: int
    region: str


# -- inputs -------------------------------------------------------------------------------------

def read_outputs(dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The records of a ``familycard run`` output directory, by ``OUTPUT_FILES`` key (a missing
    file is an empty list; blank lines are skipped)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key, name in OUTPUT_FILES.items():
        path = Path(dir) / name
        records: list[dict[str, Any]] = []
        if path.exists():
            with open(path, "rb") as fh:
                records = [orjson.loads(line) for line in fh if line.strip()]
        out[key] = records
    return out


@dataclass
class _Person:
    family: str | None = None
    birth_date: str | None = None
    region: str | None = None


def families_from_events(events: Iterable[dict[str, Any]]) -> dict[str, FamilyInfo]:
    """Every family of the input (``person_registered``, ``birth``, ``family_changed`` name them)
    with its size and region at the end of the input.

    The population events are applied in event time (``occurred_on``; input order among equal
    dates), each ``event_id`` once: a registration puts a person in ``data.family_id``, a birth
    adds the child to ``data.family_id``, ``family_changed`` moves the person, a death removes
    them for good. ``size`` is the members left (0 when none is); ``region`` the most common
    region of the adult members (18 or over on the input's last date), else of any member, else
    of anyone who was ever a member, else ``"unknown"`` (ties: the first name in sort order).
    """
    rows: list[tuple[str, int, str, str, str | None, str | None, str | None]] = []
    seen: set[str] = set()
    last_day = ""
    for seq, ev in enumerate(events):
        if not isinstance(ev, dict) or not isinstance(ev.get("occurred_on"), str):
            continue
        on = ev["occurred_on"][:10]
        if not _DATE.fullmatch(on):
            continue
        last_day = max(last_day, on)
        kind, iin = ev.get("type"), ev.get("iin")
        if kind not in ("person_registered", "birth", "family_changed", "death") or not isinstance(iin, str):
            continue
        eid = ev.get("event_id")
        if isinstance(eid, str):
            if eid in seen:
                continue
            seen.add(eid)
        data = ev.get("data")
        if not isinstance(data, dict):
            data = {}
        fid, born, region = (data.get(k) for k in ("family_id", "birth_date", "region"))
        rows.append((on, seq, kind, iin, fid if isinstance(fid, str) and fid else None,
                     born if isinstance(born, str) else None, region if isinstance(region, str) and region else None))
    rows.sort(key=lambda r: (r[0], r[1]))

    persons: dict[str, _Person] = {}
    dead: set[str] = set()
    ever: dict[str, set[str]] = defaultdict(set)
    regions: dict[str, str] = {}  # the last region registered of anyone, dead or alive
    for on, _, kind, iin, fid, born, region in rows:
        if iin in dead:
            continue
        if kind == "death":
            dead.add(iin)
            persons.pop(iin, None)
            continue
        if fid is None:
            continue
        p = persons.setdefault(iin, _Person())
        p.family = fid
        ever[fid].add(iin)
        if kind == "person_registered":
            p.birth_date = born or p.birth_date
            if region is not None:
                p.region = regions[iin] = region
        elif kind == "birth" and p.birth_date is None:
            p.birth_date = on
    del rows

    adult_by = f"{int(last_day[:4]) - 18:04d}{last_day[4:]}" if len(last_day) == 10 else ""
    members: dict[str, list[_Person]] = defaultdict(list)
    for p in persons.values():
        if p.family is not None:
            members[p.family].append(p)
    out: dict[str, FamilyInfo] = {}
    for fid in sorted(ever):
        now = members.get(fid, [])
        adults = [p.region for p in now if p.region and p.birth_date is not None and p.birth_date <= adult_by]
        anyone = [p.region for p in now if p.region]
        former = [regions[i] for i in ever[fid] if i in regions]
        region = UNKNOWN
        for names in (adults, anyone, former):
            if names:
                counts = Counter(names)
                region = min(counts, key=lambda r: (-counts[r], r))
                break
        out[fid] = FamilyInfo(len(now), region)
    return out


# -- the numbers --------------------------------------------------------------------------------

def _month(text: str) -> int:
    """``YYYY-MM`` (or a date ``YYYY-MM-DD``) as a month number."""
    return int(text[:4]) * 12 + int(text[5:7]) - 1


def _month_iso(m: int) -> str:
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


def _months(period: tuple[str, str]) -> range:
    return range(_month(period[0]), _month(period[1]) + 1)


@dataclass
class _Benefit:
    code: str
    monthly: bool
    start: int
    segments: list[tuple[int, int]] = field(default_factory=list)  # (from month, amount), ascending
    end: int | None = None  # last month paid; None = open-ended
    void: bool = False

    def amount_at(self, m: int) -> int:
        amount = 0
        for since, value in self.segments:
            if since > m:
                break
            amount = value
        return amount


def _benefits(assignments: Iterable[dict[str, Any]]) -> list[_Benefit]:
    """The benefits the ``assignments`` records describe, each ``notification_id``'s records
    applied in file order: ``start`` opens one, ``change`` replaces its amount from its
    ``start_month`` (and sets the end it carries), ``close`` ends it with its ``end_month``. A
    close ending before the start voids it, and so does any close of a one-time benefit: the
    flow writes one only when the consent was void (docs/DESIGN.md, an overpayment to recover)."""
    by_nid: dict[str, _Benefit] = {}
    for rec in assignments:
        nid, kind = str(rec.get("notification_id")), rec.get("kind", "start")
        start = _month(rec["start_month"])
        end_text = rec.get("end_month")
        end = _month(end_text) if end_text else None
        amount = int(rec.get("amount_kzt") or 0)
        b = by_nid.get(nid)
        if kind == "start" or (b is None and kind == "change"):
            by_nid[nid] = _Benefit(str(rec.get("code")), rec.get("period") == "monthly", start, [(start, amount)], end)
        elif b is None:
            continue  # a close of nothing known: nothing was paid
        elif kind == "change":
            since = max(start, b.start)
            b.segments = [s for s in b.segments if s[0] < since] + [(since, amount)]
            if "end_month" in rec:
                b.end = end
        elif kind == "close":
            if end is None:
                continue
            if end < b.start or not b.monthly:
                b.void = True
            else:
                b.end = end
    return list(by_nid.values())


def _paid(b: _Benefit, months: range) -> dict[int, int]:
    if b.void:
        return {}
    if not b.monthly:
        return {b.start: b.amount_at(b.start)} if b.start in months else {}
    last = months.stop - 1 if b.end is None else min(b.end, months.stop - 1)
    return {m: b.amount_at(m) for m in range(max(b.start, months.start), last + 1)}


def monthly_cost(assignments: Iterable[dict[str, Any]], period: tuple[str, str]) -> list[int]:
    """KZT paid in each month of ``period`` (first to last month, inclusive) by the benefits
    the ``assignments`` records describe."""
    months = _months(period)
    totals = [0] * len(months)
    for b in _benefits(assignments):
        for m, kzt in _paid(b, months).items():
            totals[m - months.start] += kzt
    return totals


def cost_by_code(assignments: Iterable[dict[str, Any]], period: tuple[str, str]) -> dict[str, int]:
    """KZT paid over ``period`` by the benefits of each code."""
    months = _months(period)
    out: Counter[str] = Counter()
    for b in _benefits(assignments):
        out[b.code] += sum(_paid(b, months).values())
    return dict(out)


def _offers(side: Mapping[str, Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [n for n in side.get("notifications", ()) if n.get("kind") == "offer"]


def _code_stats(offers: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    stats: dict[str, dict[str, int]] = {}
    fams: dict[str, set[str]] = defaultdict(set)
    for n in offers:
        s = stats.setdefault(str(n.get("code")), {"offers": 0, "offered_kzt": 0, "families": 0})
        s["offers"] += 1
        s["offered_kzt"] += int(n.get("amount_kzt") or 0)
        if n.get("family_id"):
            fams[str(n.get("code"))].add(str(n["family_id"]))
    for code, s in stats.items():
        s["families"] = len(fams[code])
    return stats


def _family_values(offers: list[dict[str, Any]]) -> Counter[str]:
    values: Counter[str] = Counter()
    for n in offers:
        if n.get("family_id"):
            values[str(n["family_id"])] += int(n.get("amount_kzt") or 0)
    return values


def _family_verdicts(base_offers: list[dict[str, Any]], reform_offers: list[dict[str, Any]],
                     families: Mapping[str, FamilyInfo]) -> dict[str, str]:
    """``gain``, ``lose`` or ``unchanged`` for every family known or offered anything."""
    b, r = _family_values(base_offers), _family_values(reform_offers)
    verdicts = {}
    for fid in sorted(set(families) | set(b) | set(r)):
        verdicts[fid] = "gain" if r[fid] > b[fid] else "lose" if r[fid] < b[fid] else "unchanged"
    return verdicts


def summarize(*, label: str, base: Mapping[str, Sequence[dict[str, Any]]],
              reform: Mapping[str, Sequence[dict[str, Any]]], families: Mapping[str, FamilyInfo],
              period: tuple[str, str], consent: str | None = None) -> dict[str, Any]:
    """The ``summary.json`` object (docs/WHATIF.md has the definitions)."""
    bo, ro = _offers(base), _offers(reform)
    bs, rs = _code_stats(bo), _code_stats(ro)
    zero = {"offers": 0, "offered_kzt": 0, "families": 0}
    codes = {}
    for code in sorted(set(bs) | set(rs)):
        b, r = bs.get(code, zero), rs.get(code, zero)
        codes[code] = {"base": dict(b), "reform": dict(r), "delta": {k: r[k] - b[k] for k in zero}}
    verdicts = Counter(_family_verdicts(bo, ro, families).values())
    months = _months(period)
    bm = monthly_cost(base.get("assignments", ()), period)
    rm = monthly_cost(reform.get("assignments", ()), period)
    return {
        "label": label,
        "period": {"from": period[0], "to": period[1]},
        "codes": codes,
        "families": {k: verdicts.get(k, 0) for k in ("gain", "lose", "unchanged")},
        "monthly_kzt": [{"month": _month_iso(m), "base": bm[i], "reform": rm[i]} for i, m in enumerate(months)],
        "consent": consent or DEFAULT_CONSENT,
    }


def _last_by_occasion(offers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    last: dict[str, dict[str, Any]] = {}
    for n in offers:
        nid = str(n.get("notification_id"))
        last[base_of(nid) or nid] = n
    return last


def diff_lines(base: Mapping[str, Sequence[dict[str, Any]]],
               reform: Mapping[str, Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One line per occasion whose offer differs: the amount of the last offer of each occasion
    (an offer and its renewals share ``state.ids.base_of``) on each side, null where a side
    has none; sorted by the size of the difference, largest first, then by occasion."""
    b, r = _last_by_occasion(_offers(base)), _last_by_occasion(_offers(reform))
    lines: list[tuple[int, str, dict[str, Any]]] = []
    for occasion in set(b) | set(r):
        bn, rn = b.get(occasion), r.get(occasion)
        ba = None if bn is None else int(bn.get("amount_kzt") or 0)
        ra = None if rn is None else int(rn.get("amount_kzt") or 0)
        if ba == ra:
            continue
        rec = rn if rn is not None else bn
        assert rec is not None
        reasons: Any = rn.get("reasons") if rn is not None else None
        if reasons is None and bn is not None:
            reasons = bn.get("reasons")
        delta = (ra or 0) - (ba or 0)
        lines.append((-abs(delta), occasion,
                      {"occasion": occasion, "code": rec.get("code"), "iin": rec.get("iin"),
                       "family_id": rec.get("family_id"), "base_amount_kzt": ba, "reform_amount_kzt": ra,
                       "reasons": list(reasons or [])}))
    lines.sort(key=lambda t: (t[0], t[1]))
    return [line for _, _, line in lines]


# -- the files ----------------------------------------------------------------------------------

def write_whatif(out: Path, *, label: str, changes: list[dict[str, Any]],
                 base: dict[str, list[dict[str, Any]]], reform: dict[str, list[dict[str, Any]]],
                 families: dict[str, FamilyInfo], period: tuple[str, str],
                 consent: str | None = None) -> dict[str, Any]:
    """Write ``summary.json``, ``diff.jsonl`` and ``report.html`` into ``out`` (created if need
    be) and return the summary. ``base`` and ``reform`` are each side's record lists by
    ``OUTPUT_FILES`` key (``read_outputs``); ``changes`` the reform's changed parameters
    (``{"path", "label", "unit", "before", "after", "sources"}`` each); ``period`` the first
    and last date (or month) of the input; ``consent`` the sentence saying where the consents
    came from (default ``DEFAULT_CONSENT``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(label=label, base=base, reform=reform, families=families, period=period, consent=consent)
    diff = diff_lines(base, reform)
    (out / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
    with open(out / "diff.jsonl", "wb") as fh:
        for line in diff:
            fh.write(orjson.dumps(line) + b"\n")
    page = _render_html(summary, diff, changes, base, reform, families, period)
    (out / "report.html").write_text(page, encoding="utf-8")
    return summary


# -- the page -----------------------------------------------------------------------------------

NNBSP = "\u202f"  # narrow no-break space: the thin space between groups of digits
MINUS = "\u2212"
BASE_COLOUR, REFORM_COLOUR = "#9aa0a6", "#1f5fa8"
GAIN_COLOUR, LOSE_COLOUR = "#2e7d32", "#c62828"


def _fmt(n: int) -> str:
    return (MINUS if n < 0 else "") + f"{abs(n):,}".replace(",", NNBSP)


def _fmt_signed(n: int) -> str:
    return ("+" if n > 0 else "") + _fmt(n)


def _num(n: int, *, id: str | None = None, signed: bool = False) -> str:
    ident = f' id="{id}"' if id else ""
    return f'<span{ident} class="num" data-value="{int(n)}">{_fmt_signed(n) if signed else _fmt(n)}</span>'


def _td(n: int | None, signed: bool = False) -> str:
    if n is None:
        return '<td class="r muted">—</td>'
    return f'<td class="r">{_num(n, signed=signed)}</td>'


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _value(v: Any) -> str:
    if v is None:
        return "(new)"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return _fmt(v)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_value(x)}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return ", ".join(_value(x) for x in v)
    return str(v)


def _source(s: Any) -> str:
    text = str(s)
    if re.match(r"^https?://", text):
        return f'<a href="{_e(text)}" rel="noreferrer">{_e(text)}</a>'
    return _e(text)


def _size_bucket(info: FamilyInfo | None) -> str:
    if info is None:
        return UNKNOWN
    if info.size <= 0:
        return "0"
    return str(info.size) if info.size < 6 else "6+"


def _svg(fig: Any, name: str) -> str:
    """The figure as SVG markup to put inline: no XML prolog, no metadata, stable ids."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"whatif-{name}", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    return f'<figure class="chart" id="chart-{name}">{text.strip()}</figure>'


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)  # the Agg backend, without touching pyplot's global state
    return fig


def _kzt_axis(axis: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    def fmt(x: float, _pos: int) -> str:
        if abs(x) >= 1e9:
            return f"{x / 1e9:g} bn"
        if abs(x) >= 1e6:
            return f"{x / 1e6:g} M"
        return _fmt(int(round(x))).replace(NNBSP, "\u2009")
    axis.set_major_formatter(FuncFormatter(fmt))


def _grouped_barh(name: str, labels: list[str], series: list[tuple[str, list[int], str]], xlabel: str,
                  money: bool) -> str:
    if not labels:
        return '<p class="muted">Nothing to draw: no records on either side.</p>'
    from matplotlib.ticker import MaxNLocator

    fig = _figure(8.5, max(1.6, 0.42 * len(labels) * max(1, len(series)) / 2 + 1.0))
    ax = fig.add_subplot()
    height = 0.8 / len(series)
    ys = range(len(labels))
    for i, (legend, values, colour) in enumerate(series):
        ax.barh([y - 0.4 + height * (i + 0.5) for y in ys], values, height=height, label=legend, color=colour)
    ax.set_yticks(list(ys), labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if money:
        _kzt_axis(ax.xaxis)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=len(series), frameon=False)
    return _svg(fig, name)


def _grouped_bar(name: str, labels: list[str], series: list[tuple[str, list[int], str]], xlabel: str,
                 ylabel: str) -> str:
    from matplotlib.ticker import MaxNLocator

    fig = _figure(8.5, 3.2)
    ax = fig.add_subplot()
    width = 0.8 / len(series)
    xs = range(len(labels))
    for i, (legend, values, colour) in enumerate(series):
        ax.bar([x - 0.4 + width * (i + 0.5) for x in xs], values, width=width, label=legend, color=colour)
    ax.set_xticks(list(xs), labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=len(series), frameon=False)
    return _svg(fig, name)


def _line_chart(name: str, months: list[str], base: list[int], reform: list[int]) -> str:
    if not months:
        return '<p class="muted">The period has no month.</p>'
    fig = _figure(8.5, 3.4)
    ax = fig.add_subplot()
    xs = list(range(len(months)))
    ax.plot(xs, reform, marker="o", color=REFORM_COLOUR, label="reform", linewidth=2.2, zorder=2)
    ax.plot(xs, base, marker="o", markersize=4, color="#5f6368", label="baseline", linewidth=1.6,
            linestyle="--", zorder=3)  # on top and dashed: equal months still show both
    step = max(1, len(months) // 12)
    ax.set_xticks(xs[::step], months[::step], rotation=45 if len(months) > 6 else 0)
    ax.set_ylabel("KZT paid in the month")
    _kzt_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=2, frameon=False)
    return _svg(fig, name)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:#1b1b1b;
max-width:1060px;margin:2rem auto;padding:0 1.2rem;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd;
padding-bottom:.2rem}.sub{color:#555;margin-top:0}.muted{color:#777}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:.8rem;margin:1.2rem 0}
.card{border:1px solid #ddd;border-radius:8px;padding:.8rem 1rem;background:#fafafa}
.card h3{margin:0 0 .3rem;font-size:.85rem;text-transform:uppercase;letter-spacing:.04em;color:#555}
.card .big{font-size:1.45rem;font-weight:600}.card .small{font-size:.9rem;color:#444}
.up{color:#2e7d32}.down{color:#c62828}.num{font-variant-numeric:tabular-nums;white-space:nowrap}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.6rem 0}
th,td{border-bottom:1px solid #e3e3e3;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.r,th.r{text-align:right}.nowrap{white-space:nowrap}code{font-size:.85em}
figure.chart{margin:.6rem 0}figure.chart svg{max-width:100%;height:auto}
ul.reasons{margin:0;padding-left:1.1rem}.consent{background:#fff8e1;border-left:4px solid #f0b400;
padding:.5rem .8rem}footer{margin-top:2.5rem;font-size:.85rem;color:#666}
@media print{body{margin:0}h2{break-after:avoid}figure,table{break-inside:avoid}}
"""


def _render_html(summary: dict[str, Any], diff: list[dict[str, Any]], changes: list[dict[str, Any]],
                 base: Mapping[str, Sequence[dict[str, Any]]], reform: Mapping[str, Sequence[dict[str, Any]]],
                 families: Mapping[str, FamilyInfo], period: tuple[str, str]) -> str:
    codes: dict[str, Any] = summary["codes"]
    tot = {side: {k: sum(c[side][k] for c in codes.values()) for k in ("offers", "offered_kzt")}
           for side in ("base", "reform")}
    monthly = summary["monthly_kzt"]
    cost_b, cost_r = sum(m["base"] for m in monthly), sum(m["reform"] for m in monthly)
    fam = summary["families"]
    cb = cost_by_code(base.get("assignments", ()), period)
    cr = cost_by_code(reform.get("assignments", ()), period)
    all_codes = sorted(set(codes) | set(cb) | set(cr))
    zero = {"offers": 0, "offered_kzt": 0, "families": 0}
    label = summary["label"]
    p = summary["period"]
    parts: list[str] = []
    add = parts.append

    add(f'<h1 id="title">Policy what-if: {_e(label)}</h1>')
    add(f'<p class="sub">Period <b id="period-from">{_e(p["from"])}</b> to <b id="period-to">{_e(p["to"])}</b>: '
        "the same input replayed under today's parameters (baseline) and under the reform.</p>")

    add('<section id="headline"><div class="cards">')
    add('<div class="card"><h3>Offers sent</h3>'
        f'<div class="big">{_num(tot["base"]["offers"], id="offers-base")} → '
        f'{_num(tot["reform"]["offers"], id="offers-reform")}</div>'
        f'<div class="small">baseline → reform, '
        f'{_num(tot["reform"]["offers"] - tot["base"]["offers"], id="offers-delta", signed=True)}</div></div>')
    add('<div class="card"><h3>Value offered, KZT</h3>'
        f'<div class="big">{_num(tot["reform"]["offered_kzt"] - tot["base"]["offered_kzt"], id="offered-kzt-delta", signed=True)}</div>'
        f'<div class="small">{_num(tot["base"]["offered_kzt"], id="offered-kzt-base")} → '
        f'{_num(tot["reform"]["offered_kzt"], id="offered-kzt-reform")}</div></div>')
    add('<div class="card"><h3>Families</h3>'
        f'<div class="big"><span class="up">{_num(fam["gain"], id="families-gain")} gain</span> · '
        f'<span class="down">{_num(fam["lose"], id="families-lose")} lose</span></div>'
        f'<div class="small">{_num(fam["unchanged"], id="families-unchanged")} unchanged</div></div>')
    add('<div class="card"><h3>Cost over the period, KZT</h3>'
        f'<div class="big">{_num(cost_b, id="cost-base")} → {_num(cost_r, id="cost-reform")}</div>'
        f'<div class="small">baseline → reform, {_num(cost_r - cost_b, id="cost-delta", signed=True)}</div></div>')
    add("</div>")
    add(f'<p class="consent" id="consent">{_e(summary["consent"])}</p></section>')

    # cost by code
    add('<section id="by-code"><h2>By benefit</h2>')
    add("<p>Offers and the value offered come from the offer notifications; the cost is what the "
        "benefits assigned on consent pay within the period.</p>")
    add('<table id="codes-table"><thead><tr><th rowspan="2">benefit (code)</th>'
        '<th class="r" colspan="3">offers</th><th class="r" colspan="3">value offered, KZT</th>'
        '<th class="r" colspan="2">families offered</th><th class="r" colspan="3">cost over the period, KZT</th></tr>'
        '<tr><th class="r">base</th><th class="r">reform</th><th class="r">Δ</th>'
        '<th class="r">base</th><th class="r">reform</th><th class="r">Δ</th>'
        '<th class="r">base</th><th class="r">reform</th>'
        '<th class="r">base</th><th class="r">reform</th><th class="r">Δ</th></tr></thead><tbody>')
    for code in all_codes:
        c = codes.get(code, {"base": zero, "reform": zero, "delta": zero})
        add(f'<tr data-code="{_e(code)}"><td><code>{_e(code)}</code></td>'
            + _td(c["base"]["offers"]) + _td(c["reform"]["offers"]) + _td(c["delta"]["offers"], True)
            + _td(c["base"]["offered_kzt"]) + _td(c["reform"]["offered_kzt"]) + _td(c["delta"]["offered_kzt"], True)
            + _td(c["base"]["families"]) + _td(c["reform"]["families"])
            + _td(cb.get(code, 0)) + _td(cr.get(code, 0)) + _td(cr.get(code, 0) - cb.get(code, 0), True) + "</tr>")
    add("</tbody></table>")
    add(_grouped_barh("cost-by-code", all_codes,
                      [("baseline", [cb.get(c, 0) for c in all_codes], BASE_COLOUR),
                       ("reform", [cr.get(c, 0) for c in all_codes], REFORM_COLOUR)],
                      "KZT paid over the period", money=True))
    add("</section>")

    # monthly
    add('<section id="monthly"><h2>Cost month by month</h2>')
    add("<p>What the assigned benefits pay in each month: monthly benefits from their first to "
        "their last month (open-ended ones to the end of the period), one-time benefits once.</p>")
    add(_line_chart("monthly", [m["month"] for m in monthly], [m["base"] for m in monthly],
                    [m["reform"] for m in monthly]))
    add('<details><summary>The numbers</summary><table id="monthly-table"><thead><tr><th>month</th>'
        '<th class="r">baseline, KZT</th><th class="r">reform, KZT</th><th class="r">Δ</th></tr></thead><tbody>')
    for m in monthly:
        add(f'<tr><td>{_e(m["month"])}</td>' + _td(m["base"]) + _td(m["reform"])
            + _td(m["reform"] - m["base"], True) + "</tr>")
    add("</tbody></table></details></section>")

    # winners and losers
    verdicts = _family_verdicts(_offers(base), _offers(reform), families)
    by_size: dict[str, Counter[str]] = defaultdict(Counter)
    by_region: dict[str, Counter[str]] = defaultdict(Counter)
    for fid, verdict in verdicts.items():
        info = families.get(fid)
        by_size[_size_bucket(info)][verdict] += 1
        by_region[info.region if info is not None else UNKNOWN][verdict] += 1
    sizes = [s for s in ("0",) if by_size.get(s)] + list(SIZE_BUCKETS) + [s for s in (UNKNOWN,) if by_size.get(s)]
    regions = sorted(by_region, key=lambda r: (r == UNKNOWN, r))
    add('<section id="families"><h2>Who gains, who loses</h2>')
    add("<p>A family gains when the total value offered to its members is higher under the reform, "
        "and loses when it is lower. Families whose offers do not change are not drawn.</p>")
    add("<h3>By family size (members at the end of the input)</h3>")
    add(_grouped_bar("by-size", sizes, [("gain", [by_size[s]["gain"] for s in sizes], GAIN_COLOUR),
                                         ("lose", [by_size[s]["lose"] for s in sizes], LOSE_COLOUR)],
                     "members", "families"))
    add(_verdict_table("size-table", "members", sizes, by_size))
    add("<h3>By region</h3>")
    add(_grouped_barh("by-region", regions, [("gain", [by_region[r]["gain"] for r in regions], GAIN_COLOUR),
                                             ("lose", [by_region[r]["lose"] for r in regions], LOSE_COLOUR)],
                      "families", money=False))
    add(_verdict_table("region-table", "region", regions, by_region))
    add("</section>")

    # largest changes
    add('<section id="changes"><h2>The largest individual changes</h2>')
    add(f"<p>{_num(len(diff), id='diff-count')} offers differ (every one is in <code>diff.jsonl</code>); below "
        + ("the 20 largest" if len(diff) > 20 else "all of them") + ", the largest change first. "
        "A dash: that side sends no such offer.</p>")
    if diff:
        add('<table id="top-changes"><thead><tr><th>benefit</th><th>family</th><th class="r">baseline, KZT</th>'
            '<th class="r">reform, KZT</th><th class="r">Δ</th><th>why (the reform\'s reasons, else the baseline\'s)</th></tr></thead><tbody>')
        for d in diff[:20]:
            delta = (d["reform_amount_kzt"] or 0) - (d["base_amount_kzt"] or 0)
            reasons = "".join(f"<li>{_e(r)}</li>" for r in d["reasons"])
            add(f'<tr data-occasion="{_e(d["occasion"])}"><td><code>{_e(d["code"])}</code></td>'
                f'<td class="nowrap">{_e(d["family_id"] or "—")}</td>' + _td(d["base_amount_kzt"]) + _td(d["reform_amount_kzt"])
                + _td(delta, True) + f'<td><ul class="reasons">{reasons}</ul></td></tr>')
        add("</tbody></table>")
    else:
        add('<p class="muted">No offer differs.</p>')
    add("</section>")

    # parameters
    add('<section id="parameters"><h2>What the reform changes</h2>')
    if changes:
        add('<table id="parameters-table"><thead><tr><th>parameter</th><th>before → after</th><th>unit</th>'
            "<th>sources (of today's value)</th></tr></thead><tbody>")
        for c in changes:
            sources = "<br>".join(_source(s) for s in c.get("sources") or []) or '<span class="muted">—</span>'
            add(f'<tr><td>{_e(c.get("label") or c.get("path"))}<br><code class="muted">{_e(c.get("path", ""))}'
                f'</code></td><td>{_e(_value(c.get("before")))} → <b>{_e(_value(c.get("after")))}</b></td>'
                f'<td>{_e(c.get("unit") or "")}</td><td>{sources}</td></tr>')
        add("</tbody></table>")
    else:
        add('<p class="muted">No parameter changes: the reform is the baseline.</p>')
    add("</section>")

    dl_b = len(base.get("dead-letters", base.get("dead_letters", ())))
    dl_r = len(reform.get("dead-letters", reform.get("dead_letters", ())))
    add(f'<footer><p>Inputs that could not be acted on (dead letters): baseline {_num(dl_b, id="dead-letters-base")}, '
        f'reform {_num(dl_r, id="dead-letters-reform")}. Offers count every offer notification '
        "(an offer sent again at a new amount counts again); the value offered adds their amounts "
        "(a monthly amount once). The cost counts only benefits assigned on consent. Every "
        "number here is in <code>summary.json</code> and <code>diff.jsonl</code>; "
        "definitions and limits: docs/WHATIF.md.</p></footer>")

    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>What-if: {_e(label)} ({_e(p['from'])} – {_e(p['to'])})</title>"
            f"<style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def _verdict_table(ident: str, head: str, keys: list[str], counts: Mapping[str, Counter[str]]) -> str:
    rows = "".join(f'<tr><td>{_e(k)}</td>' + _td(counts[k]["gain"]) + _td(counts[k]["lose"])
                   + _td(counts[k]["unchanged"]) + "</tr>" for k in keys)
    return (f'<details><summary>The numbers</summary><table id="{ident}"><thead><tr><th>{_e(head)}</th>'
            '<th class="r">gain</th><th class="r">lose</th><th class="r">unchanged</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></details>")
