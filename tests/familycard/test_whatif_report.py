"""familycard.whatif_report: the what-if's summary, diff and report from hand-built outputs.

The last tests open the report in a real headless browser (Debian's chromium, installed by
``make tools``): the numbers a reader sees are the numbers of summary.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest

from familycard.whatif_report import FamilyInfo, families_from_events, read_outputs, write_whatif
from state.ids import RENEWAL_TAG, derived, offer_id

PERIOD = ("2026-01-01", "2026-06-30")
LABEL = "Birth benefit 45 MCI, large families +20 %"
CHANGES: list[dict[str, Any]] = [
    {"path": "coefficients.birth_benefit.1", "label": "Birth benefit, 1st child", "unit": "mci",
     "before": "38", "after": "45", "sources": ["https://adilet.zan.kz/rus/docs/K2300000224"]},
    {"path": "dated.mci.values.2026-07-01", "label": "Monthly calculation index", "unit": "KZT",
     "before": None, "after": 5000, "sources": ["budget law <2026>"]},
]

A = offer_id("900101400011|birth_benefit|child 260201500011")   # amount raised by the reform
B = offer_id("910202400022|large_family_benefit|F-2")            # renewed at a new amount under the reform
C = offer_id("870303300033|job_loss|dismissal 2026-01-05")       # only the baseline offers it
D = offer_id("880404300044|funeral_payment|death 2026-05-20")    # only the reform offers it
E = offer_id("900101400011|childcare_benefit|child 260201500011")  # the same on both sides
B2 = derived(B, RENEWAL_TAG, "2026-03-01")


def note(nid: str, code: str, family: str, amount: int | None, *, kind: str = "offer", period: str = "monthly",
         reasons: list[str] | None = None, iin: str = "900101400011") -> dict[str, Any]:
    return {"notification_id": nid, "kind": kind, "code": code, "iin": iin, "family_id": family,
            "amount_kzt": amount, "period": period, "reasons": reasons or [f"{code} in {family}"]}


def asg(nid: str, kind: str, code: str, amount: int, start: str, end: str | None, *, period: str = "monthly",
        family: str = "F-1", late: bool = False) -> dict[str, Any]:
    rec = {"assignment_id": f"a-{nid}-{kind}-{start}", "notification_id": nid, "kind": kind, "code": code,
           "iin": "900101400011", "family_id": family, "amount_kzt": amount, "period": period,
           "start_month": start, "end_month": end}
    if late:
        rec["late"] = True
    return rec


def base_side() -> dict[str, list[dict[str, Any]]]:
    return {
        "notifications": [
            note(A, "birth_benefit", "F-1", 100_000, period="one_time", reasons=["base: 38 x mci"]),
            note(B, "large_family_benefit", "F-2", 50_000, iin="910202400022"),
            note(derived(B, 1, B), "large_family_benefit", "F-2", 50_000, kind="reminder", iin="910202400022"),
            note(C, "job_loss", "F-3", 30_000, iin="870303300033", reasons=["dismissed 2026-01-05"]),
            note(E, "childcare_benefit", "F-1", 20_000),
            note(offer_id("x|pension_eligibility|y"), "pension_eligibility", "F-1", None, kind="notice"),
        ],
        "assignments": [
            asg(A, "start", "birth_benefit", 100_000, "2026-02", "2026-02", period="one_time"),
            asg(B, "start", "large_family_benefit", 50_000, "2026-01", None, family="F-2"),
            asg(B, "change", "large_family_benefit", 60_000, "2026-04", None, family="F-2"),
            asg(C, "start", "job_loss", 30_000, "2026-01", "2026-03", family="F-3"),
            asg(C, "close", "job_loss", 30_000, "2026-01", "2026-02", family="F-3"),
            asg(E, "start", "childcare_benefit", 20_000, "2026-05", "2026-12"),
            # a void consent (the close ends before the start): nothing paid
            asg("n-void-monthly", "start", "disability_benefit", 10_000, "2026-03", None),
            asg("n-void-monthly", "close", "disability_benefit", 10_000, "2026-03", "2026-02", late=True),
            # a void one-time consent: the flow closes it start = end, an overpayment to recover
            asg("n-void-once", "start", "birth_benefit", 7_000, "2026-03", "2026-03", period="one_time"),
            asg("n-void-once", "close", "birth_benefit", 7_000, "2026-03", "2026-03", period="one_time", late=True),
            # running since before the period: only its months within it count
            asg("n-earlier", "start", "disability_benefit", 5_000, "2025-11", "2026-01"),
        ],
        "outcomes": [],
        "dead-letters": [{"error": {"code": "bad_iin"}}],
    }


def reform_side() -> dict[str, list[dict[str, Any]]]:
    return {
        "notifications": [
            note(A, "birth_benefit", "F-1", 120_000, period="one_time", reasons=["reform: 45 x mci"]),
            note(B, "large_family_benefit", "F-2", 50_000, iin="910202400022"),
            note(B2, "large_family_benefit", "F-2", 60_000, iin="910202400022",
                 reasons=["offered again at a new amount"]),
            note(D, "funeral_payment", "F-4", 40_000, period="one_time", iin="880404300044",
                 reasons=["death 2026-05-20"]),
            note(E, "childcare_benefit", "F-1", 20_000),
        ],
        "assignments": [
            asg(A, "start", "birth_benefit", 120_000, "2026-02", "2026-02", period="one_time"),
            asg(B, "start", "large_family_benefit", 60_000, "2026-01", None, family="F-2"),
            # a change carries the benefit's new end
            asg(B, "change", "large_family_benefit", 70_000, "2026-03", "2026-05", family="F-2"),
            asg(D, "start", "funeral_payment", 40_000, "2026-06", "2026-06", period="one_time", family="F-4"),
            asg(E, "start", "childcare_benefit", 20_000, "2026-05", "2026-12"),
        ],
        "outcomes": [],
        "dead-letters": [],
    }


FAMILIES = {"F-1": FamilyInfo(3, "Astana"), "F-2": FamilyInfo(7, "Almaty"), "F-3": FamilyInfo(1, "Astana"),
            "F-5": FamilyInfo(2, "Shymkent")}

BASE_MONTHLY = [85_000, 180_000, 50_000, 60_000, 80_000, 80_000]
REFORM_MONTHLY = [60_000, 180_000, 70_000, 70_000, 90_000, 60_000]


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    out = tmp_path / "whatif"
    summary = write_whatif(out, label=LABEL, changes=CHANGES, base=base_side(), reform=reform_side(),
                           families=FAMILIES, period=PERIOD)
    return out, summary


def test_summary_numbers(written: tuple[Path, dict[str, Any]]) -> None:
    out, summary = written
    assert json.loads((out / "summary.json").read_text()) == summary
    assert list(summary) == ["label", "period", "codes", "families", "monthly_kzt", "consent"]
    assert summary["label"] == LABEL
    assert summary["period"] == {"from": "2026-01-01", "to": "2026-06-30"}

    def c(offers: int, kzt: int, fams: int) -> dict[str, int]:
        return {"offers": offers, "offered_kzt": kzt, "families": fams}

    assert summary["codes"] == {
        "birth_benefit": {"base": c(1, 100_000, 1), "reform": c(1, 120_000, 1), "delta": c(0, 20_000, 0)},
        "childcare_benefit": {"base": c(1, 20_000, 1), "reform": c(1, 20_000, 1), "delta": c(0, 0, 0)},
        "funeral_payment": {"base": c(0, 0, 0), "reform": c(1, 40_000, 1), "delta": c(1, 40_000, 1)},
        "job_loss": {"base": c(1, 30_000, 1), "reform": c(0, 0, 0), "delta": c(-1, -30_000, -1)},
        # the renewal is an offer too: counted and summed
        "large_family_benefit": {"base": c(1, 50_000, 1), "reform": c(2, 110_000, 1), "delta": c(1, 60_000, 0)},
    }
    # F-1 120k -> 140k, F-2 50k -> 110k, F-4 (only in the offers) 0 -> 40k gain; F-3 30k -> 0 loses;
    # F-5 has no offer on either side
    assert summary["families"] == {"gain": 3, "lose": 1, "unchanged": 1}
    assert isinstance(summary["consent"], str) and "consent" in summary["consent"].lower()


def test_monthly_cost_from_assignments(written: tuple[Path, dict[str, Any]]) -> None:
    _, summary = written
    assert summary["monthly_kzt"] == [
        {"month": f"2026-{m:02d}", "base": b, "reform": r}
        for m, b, r in zip(range(1, 7), BASE_MONTHLY, REFORM_MONTHLY, strict=True)]


def test_diff_lines(written: tuple[Path, dict[str, Any]]) -> None:
    out, _ = written
    lines = [orjson.loads(x) for x in (out / "diff.jsonl").read_bytes().splitlines()]
    assert lines == [
        {"occasion": D, "code": "funeral_payment", "iin": "880404300044", "family_id": "F-4",
         "base_amount_kzt": None, "reform_amount_kzt": 40_000, "reasons": ["death 2026-05-20"]},
        {"occasion": C, "code": "job_loss", "iin": "870303300033", "family_id": "F-3",
         "base_amount_kzt": 30_000, "reform_amount_kzt": None, "reasons": ["dismissed 2026-01-05"]},
        {"occasion": A, "code": "birth_benefit", "iin": "900101400011", "family_id": "F-1",
         "base_amount_kzt": 100_000, "reform_amount_kzt": 120_000, "reasons": ["reform: 45 x mci"]},
        # the renewal's id names its offer: one occasion, compared by its last offer
        {"occasion": B, "code": "large_family_benefit", "iin": "910202400022", "family_id": "F-2",
         "base_amount_kzt": 50_000, "reform_amount_kzt": 60_000, "reasons": ["offered again at a new amount"]},
    ]


def test_diff_ties_sorted_by_occasion(tmp_path: Path) -> None:
    base = {"notifications": [note(n, "birth_benefit", "F-1", 10) for n in (E, A, B)]}
    reform = {"notifications": [note(n, "birth_benefit", "F-1", 20) for n in (B, E, A)]}
    write_whatif(tmp_path, label="x", changes=[], base=base, reform=reform, families={}, period=PERIOD)
    lines = [orjson.loads(x) for x in (tmp_path / "diff.jsonl").read_bytes().splitlines()]
    assert [d["occasion"] for d in lines] == sorted([A, B, E])


def test_empty_reform(tmp_path: Path) -> None:
    side = base_side()
    summary = write_whatif(tmp_path, label="no change", changes=[], base=side, reform=side,
                           families=FAMILIES, period=PERIOD)
    assert (tmp_path / "diff.jsonl").read_bytes() == b""
    for code in summary["codes"].values():
        assert code["delta"] == {"offers": 0, "offered_kzt": 0, "families": 0}
        assert code["base"] == code["reform"]
    # F-1, F-2, F-3 and F-5
    assert summary["families"] == {"gain": 0, "lose": 0, "unchanged": 4}
    assert [m["base"] for m in summary["monthly_kzt"]] == BASE_MONTHLY
    assert all(m["base"] == m["reform"] for m in summary["monthly_kzt"])
    page = (tmp_path / "report.html").read_text()
    assert "No offer differs." in page and "the reform is the baseline" in page


def test_period_by_months_and_open_ended(tmp_path: Path) -> None:
    side = {"assignments": [asg(B, "start", "large_family_benefit", 1_000, "2026-11", None)]}
    summary = write_whatif(tmp_path, label="x", changes=[], base=side, reform={}, families={},
                           period=("2026-10", "2027-02"))
    assert summary["monthly_kzt"] == [
        {"month": "2026-10", "base": 0, "reform": 0}, {"month": "2026-11", "base": 1_000, "reform": 0},
        {"month": "2026-12", "base": 1_000, "reform": 0}, {"month": "2027-01", "base": 1_000, "reform": 0},
        {"month": "2027-02", "base": 1_000, "reform": 0}]
    assert summary["codes"] == {} and summary["families"] == {"gain": 0, "lose": 0, "unchanged": 0}


def ev(eid: str, kind: str, iin: str, on: str, **data: Any) -> dict[str, Any]:
    return {"event_id": eid, "type": kind, "iin": iin, "occurred_on": on,
            "recorded_at": f"{on}T09:00:00+05:00", "data": data}


def test_families_from_events() -> None:
    events: list[Any] = [
        ev("p1", "person_registered", "800101300011", "2025-12-31", birth_date="1980-01-01", sex="male",
           family_id="F-1", region="Astana"),
        ev("p2", "person_registered", "820101400012", "2025-12-31", birth_date="1982-01-01", sex="female",
           family_id="F-1", region="Astana"),
        ev("p3", "person_registered", "850101300013", "2025-12-31", birth_date="1985-01-01", sex="male",
           family_id="F-1", region="Almaty"),
        ev("c1", "birth", "260201500014", "2026-02-01", mother_iin="820101400012", family_id="F-1", sex="male"),
        ev("c1", "birth", "260201500014", "2026-02-01", mother_iin="820101400012", family_id="F-1", sex="male"),
        # P3 leaves for a family of their own
        ev("m1", "family_changed", "850101300013", "2026-03-01", family_id="F-3"),
        # the same event_id again (a re-delivery): not a second move
        ev("m1", "family_changed", "800101300011", "2026-03-02", family_id="F-9"),
        # F-2: an adult of Shymkent and a child of Almaty; the adult dies
        ev("p4", "person_registered", "700101300015", "2025-12-31", birth_date="1970-01-01", sex="male",
           family_id="F-2", region="Shymkent"),
        ev("p5", "person_registered", "150101500016", "2025-12-31", birth_date="2015-01-01", sex="male",
           family_id="F-2", region="Almaty"),
        ev("d1", "death", "700101300015", "2026-04-01"),
        # F-4: a death read before the registration it follows in event time: nobody is left
        ev("d2", "death", "600101300017", "2026-04-02"),
        ev("p6", "person_registered", "600101300017", "2025-12-31", birth_date="1960-01-01", sex="male",
           family_id="F-4", region="Aktobe"),
        # F-5: a child without a region; F-6: turned 18 before the input's last day
        ev("p7", "person_registered", "200101500018", "2025-12-31", birth_date="2020-01-01", sex="male",
           family_id="F-5"),
        ev("p8", "person_registered", "080601500019", "2025-12-31", birth_date="2008-06-01", sex="male",
           family_id="F-6", region="Atyrau"),
        ev("p9", "person_registered", "100601500020", "2025-12-31", birth_date="2010-06-01", sex="male",
           family_id="F-6", region="Aktau"),
        ev("p10", "person_registered", "100701500021", "2025-12-31", birth_date="2010-07-01", sex="male",
           family_id="F-6", region="Aktau"),
        {"event_id": "day-2026-06-30", "type": "day", "occurred_on": "2026-06-30"},
        {"event_id": "bad", "type": "birth", "occurred_on": "2026-05-01"},  # no iin: ignored
        "not a message",
    ]
    assert families_from_events(iter(events)) == {
        "F-1": FamilyInfo(3, "Astana"),
        "F-2": FamilyInfo(1, "Almaty"),
        "F-3": FamilyInfo(1, "Almaty"),
        "F-4": FamilyInfo(0, "Aktobe"),
        "F-5": FamilyInfo(1, "unknown"),
        "F-6": FamilyInfo(3, "Atyrau"),
    }


def test_read_outputs(tmp_path: Path) -> None:
    (tmp_path / "notifications.jsonl").write_bytes(b'{"kind": "offer", "code": "x"}\n\n{"kind": "notice"}\n')
    (tmp_path / "assignments.jsonl").write_bytes(b"")
    assert read_outputs(tmp_path) == {"notifications": [{"kind": "offer", "code": "x"}, {"kind": "notice"}],
                                      "assignments": [], "outcomes": [], "dead-letters": []}


def test_report_is_self_contained_and_deterministic(tmp_path: Path, written: tuple[Path, dict[str, Any]]) -> None:
    out, _ = written
    page = (out / "report.html").read_text()
    tags = _Tags()
    tags.feed(page)
    assert not {"script", "link", "img", "iframe", "object", "embed", "image", "audio", "video"} & set(tags.names)
    assert not [a for a in tags.attrs if a[0] in ("src", "srcset")]
    # the SVGs' <use> name their own markers (#...); the one link is a source, a citation to click
    assert {a[1] for a in tags.attrs if a[0] in ("href", "xlink:href") and not a[1].startswith("#")} \
        == {CHANGES[0]["sources"][0]}
    assert all(u.startswith("#") for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", page))  # clip paths
    assert "@import" not in page and "@font-face" not in page
    assert tags.names.count("svg") == 4  # cost by code, monthly, by size, by region
    assert LABEL.replace("%", "") in page.replace("%", "") and "2026-01-01" in page and "2026-06-30" in page
    again = tmp_path / "again"
    write_whatif(again, label=LABEL, changes=CHANGES, base=base_side(), reform=reform_side(),
                 families=FAMILIES, period=PERIOD)
    for name in ("summary.json", "diff.jsonl", "report.html"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


# -- in a real browser ---------------------------------------------------------------------------

HEADLINE = ("offers-base", "offers-reform", "offered-kzt-delta", "families-gain", "families-lose",
            "cost-base", "cost-reform")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium: `make tools` installs it (Debian package chromium)")


def _browse(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", *args]
    env = dict(os.environ, HOME=str(tmp_path))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {proc.stderr[-2000:]}"
    return proc


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.values: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.append(tag)
        got = {k: v or "" for k, v in attrs}
        self.attrs.extend(got.items())
        if "id" in got and "data-value" in got:
            self.values[got["id"]] = int(got["data-value"])


def test_report_in_a_browser(tmp_path: Path, written: tuple[Path, dict[str, Any]]) -> None:
    out, summary = written
    url = (out / "report.html").resolve().as_uri()
    dom = _browse(tmp_path, "--dump-dom", url).stdout
    tags = _Tags()
    tags.feed(dom)
    codes = summary["codes"].values()
    expected = {
        "offers-base": sum(c["base"]["offers"] for c in codes),
        "offers-reform": sum(c["reform"]["offers"] for c in codes),
        "offered-kzt-delta": sum(c["delta"]["offered_kzt"] for c in codes),
        "families-gain": summary["families"]["gain"],
        "families-lose": summary["families"]["lose"],
        "cost-base": sum(m["base"] for m in summary["monthly_kzt"]),
        "cost-reform": sum(m["reform"] for m in summary["monthly_kzt"]),
    }
    assert {k: tags.values.get(k) for k in HEADLINE} == expected
    assert expected == {"offers-base": 4, "offers-reform": 5, "offered-kzt-delta": 90_000, "families-gain": 3,
                        "families-lose": 1, "cost-base": sum(BASE_MONTHLY), "cost-reform": sum(REFORM_MONTHLY)}
    assert tags.names.count("svg") == 4

    shot = tmp_path / "report.png"
    _browse(tmp_path, f"--screenshot={shot}", "--window-size=1200,3000", url)
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    from PIL import Image  # matplotlib's dependency

    with Image.open(shot) as im:
        colours = im.convert("RGB").resize((120, 300)).getcolors(maxcolors=120 * 300)
    assert colours is not None and len(colours) > 50  # drawn, not a blank page
