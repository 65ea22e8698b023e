"""The batch alternative: the same eligibility as a nightly DuckDB job over the whole population.

What a batch system would do instead of the stream: keep the registries' current facts in
tables and, every night, ask which families are eligible. Two of the policy's questions:

- **large family** on day D: families with at least 4 living registered children under 18;
- **targeted social assistance** for the quarter starting D (the income test of
  ``rules/assistance.py``): living members born by D; family income = contributions of the
  previous quarter's three months + 3 × pensions; eligible when income < 3 × members ×
  poverty line (0.70 × subsistence minimum on D), there is an adult, and every adult under
  retirement age without a ruling in force had income, is registered unemployed or is a
  parent of a member under 3. (Not modelled: the amount rounding to 0 and the recipient
  rules beyond "there is an adult".)

Tables come from the generator's messages for N families, folded as of D + ``tsa_settle_days``
(the day the stream evaluates the quarter), then *tiled* in DuckDB — K copies with distinct
IINs and family ids — to reach the target number of families (up to the whole country,
6.2 million). Building the tables is ETL and is timed separately from the queries.

At K = 1 the assistance query is checked against the stream's own offers for the same
population and quarter (``targeted_social_assistance`` offers in the population benchmark's
1-process output), as agreement counts.

Run alone: ``python -m bench.batch --families 1000 --target-families 620000``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.common import fmt_int

__all__ = ["BatchResult", "measure", "build_base"]

QUARTER = dt.date(2026, 4, 1)


@dataclass
class BatchResult:
    base_families: int
    copies: int
    families: int = 0
    persons: int = 0
    contributions: int = 0
    etl_seconds: float = 0.0  # fold + CSV + load + tiling (not part of the nightly query)
    large_family_seconds: list[float] = field(default_factory=list)
    tsa_seconds: list[float] = field(default_factory=list)
    large_families: int = 0
    tsa_families: int = 0
    db_bytes: int = 0
    check: dict[str, int] = field(default_factory=dict)  # stream vs batch at K = 1
    as_of: dt.date = QUARTER  # facts recorded by this day (the stream's evaluation day)

    @property
    def large_family_s(self) -> float:
        return statistics.median(self.large_family_seconds)

    @property
    def tsa_s(self) -> float:
        return statistics.median(self.tsa_seconds)


def _month(text: str) -> int:
    return int(text[:4]) * 12 + int(text[5:7]) - 1


def build_base(messages: list[dict], as_of: dt.date) -> tuple[list[list[Any]], list[list[Any]]]:
    """Persons and contributions as the registries know them on ``as_of`` (recorded by then)."""
    from rules.params import load_params
    from rules.retirement import retirement_day
    from state.dates import add_months

    params = load_params()
    limit = as_of.isoformat()
    persons: dict[str, dict[str, Any]] = {}
    contrib: dict[tuple[str, int], int] = {}
    for m in messages:
        t = m["type"]
        if t == "day":
            continue
        recorded = (m.get("recorded_at") or m.get("occurred_on") or "")[:10]
        if recorded > limit or m["occurred_on"] > limit:
            continue
        iin: str = m.get("iin") or ""
        d, on = m.get("data") or {}, m["occurred_on"]
        if t == "person_registered":
            persons[iin] = {"family": d.get("family_id"), "birth": d["birth_date"], "sex": d["sex"],
                            "mother": d.get("mother_iin"), "father": d.get("father_iin")}
            continue
        if t == "birth":
            persons[iin] = {"family": d.get("family_id"), "birth": on, "sex": d["sex"],
                            "mother": d.get("mother_iin"), "father": d.get("father_iin")}
            continue
        p = persons.get(iin)
        if t == "contribution":
            contrib[(iin, _month(d["month"]))] = int(d["income_kzt"])
        if p is None:
            continue
        if t == "family_changed":
            p["family"] = d["family_id"]
        elif t == "death":
            p["died"] = on
        elif t == "pension_assigned":
            p["pension"] = int(d["monthly_amount_kzt"])
        elif t == "disability_ruling":
            if on >= p.get("ruling_as_of", ""):
                p["ruling_from"], p["ruling_until"], p["ruling_as_of"] = on, d.get("valid_until"), on
        elif t == "disability_revoked":
            if on >= p.get("ruling_as_of", ""):
                p["ruling_from"], p["ruling_until"], p["ruling_as_of"] = None, None, on
        elif t == "unemployed_registered":
            p["unemp_since"] = max(on, p.get("unemp_since") or on)
        elif t == "unemployed_deregistered":
            p["unemp_until"] = max(on, p.get("unemp_until") or on)

    def num(iin: str | None) -> int | None:
        return int(iin) if iin else None

    def fam(fid: str | None) -> int | None:
        return int(fid.split("-")[-1]) if fid else None

    rows = []
    for iin, p in persons.items():
        birth = dt.date.fromisoformat(p["birth"]).toordinal()
        rows.append([
            int(iin), fam(p["family"]), p["birth"], p["sex"], p.get("died"),
            dt.date.fromordinal(retirement_day(birth, p["sex"], params)).isoformat(),
            dt.date.fromordinal(add_months(birth, 18 * 12)).isoformat(),
            num(p["mother"]), num(p["father"]), p.get("pension") or 0,
            p.get("ruling_from"), p.get("ruling_until"), p.get("unemp_since"), p.get("unemp_until"),
        ])
    crows = [[int(i), mo, inc] for (i, mo), inc in contrib.items() if i in persons]
    return rows, crows


PERSON_COLUMNS = ("iin BIGINT, family BIGINT, birth DATE, sex VARCHAR, died_on DATE, retire DATE, adult_on DATE, "
                  "mother BIGINT, father BIGINT, pension BIGINT, ruling_from DATE, ruling_until DATE, "
                  "unemp_since DATE, unemp_until DATE")


def _write_csv(path: Path, rows: list[list[Any]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])


LARGE_FAMILY_SQL = """
SELECT count(*) FROM (
  SELECT family FROM persons
  WHERE died_on IS NULL AND birth <= $d AND adult_on > $d
  GROUP BY family HAVING count(*) >= 4)
"""

TSA_SQL = """
WITH members AS (
  SELECT * FROM persons WHERE died_on IS NULL AND birth <= $d
), wages AS (
  SELECT iin, sum(income) AS wages FROM contributions WHERE month BETWEEN $m1 AND $m3 GROUP BY iin
), young_parents AS (
  SELECT mother AS iin FROM members WHERE birth > $young AND mother IS NOT NULL
  UNION SELECT father FROM members WHERE birth > $young AND father IS NOT NULL
), m AS (
  SELECT members.*, coalesce(wages.wages, 0) AS wages FROM members LEFT JOIN wages USING (iin)
), fam AS (
  SELECT family, count(*) AS n, sum(wages) + 3 * sum(pension) AS income,
         count(*) FILTER (WHERE adult_on <= $d) AS adults,
         count(*) FILTER (WHERE adult_on <= $d AND retire > $d
                          AND NOT (ruling_from IS NOT NULL AND ruling_from <= $d
                                   AND (ruling_until IS NULL OR $d <= ruling_until))
                          AND wages <= 0 AND pension <= 0
                          AND NOT (unemp_since IS NOT NULL AND unemp_since <= $d
                                   AND (unemp_until IS NULL OR unemp_until < unemp_since))
                          AND iin NOT IN (SELECT iin FROM young_parents)) AS idle_adults
  FROM m GROUP BY family
)
SELECT family FROM fam WHERE income < 3 * n * $line AND adults > 0 AND idle_adults = 0
"""


def _query_params(d: dt.date) -> dict[str, Any]:
    from rules import load_params
    from state.dates import add_months

    p = load_params()
    on = d.toordinal()
    line = float(p.scalar_decimal("poverty_line_share") * p.subsistence_minimum(on))
    q = d.year * 12 + d.month - 1
    young = dt.date.fromordinal(add_months(on, -12 * p.scalar_int("tsa_young_child_age_below")))
    return {"d": d, "m1": q - 3, "m3": q - 1, "line": line, "young": young}


def stream_tsa_families(notifications: Path, d: dt.date) -> set[int]:
    """Families the stream offered targeted social assistance for the quarter starting ``d``."""
    end = dt.date(d.year + (d.month > 9), (d.month + 2) % 12 + 1, 1).isoformat()
    out = set()
    if notifications.exists():
        for line in notifications.read_bytes().splitlines():
            rec = orjson.loads(line)
            if (rec["code"] == "targeted_social_assistance" and rec["kind"] == "offer"
                    and d.isoformat() <= rec["issued_on"] < end):
                out.add(int(rec["family_id"].split("-")[-1]))
    return out


def measure(messages: list[dict], base_families: int, target_families: int, work: Path,
            stream_notifications: Path | None = None, repeat: int = 3, log=print) -> BatchResult:  # type: ignore[no-untyped-def]
    import duckdb

    from rules import load_params

    settle = load_params().scalar_int("tsa_settle_days")
    d = QUARTER
    as_of = d + dt.timedelta(days=settle)
    copies = max(1, math.ceil(target_families / base_families))
    res = BatchResult(base_families, copies, as_of=as_of)
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "batch.duckdb"
    for p in (db_path, Path(str(db_path) + ".wal")):
        p.unlink(missing_ok=True)
    params = _query_params(d)

    t0 = time.perf_counter()
    persons, contrib = build_base(messages, as_of)
    _write_csv(work / "persons.csv", persons)
    _write_csv(work / "contributions.csv", contrib)
    con = duckdb.connect(str(db_path))
    con.execute(f"CREATE TABLE base_persons AS SELECT * FROM read_csv('{work / 'persons.csv'}', header=false, "
                f"columns={{{', '.join(repr(c.split()[0]) + ': ' + repr(c.split()[1]) for c in PERSON_COLUMNS.split(', '))}}})")
    con.execute(f"CREATE TABLE base_contrib AS SELECT * FROM read_csv('{work / 'contributions.csv'}', header=false, "
                "columns={'iin': 'BIGINT', 'month': 'INTEGER', 'income': 'BIGINT'})")

    # Check at K = 1 against the stream, before tiling.
    if stream_notifications is not None:
        con.execute("CREATE VIEW persons AS SELECT * FROM base_persons")
        con.execute("CREATE VIEW contributions AS SELECT * FROM base_contrib")
        batch = {r[0] for r in con.execute(TSA_SQL, params).fetchall()}
        stream = stream_tsa_families(stream_notifications, d)
        res.check = {"batch": len(batch), "stream": len(stream), "both": len(batch & stream),
                     "batch_only": len(batch - stream), "stream_only": len(stream - batch)}
        log(f"[batch] assistance {d} at {base_families} families: batch {len(batch)}, stream {len(stream)}, "
            f"both {len(batch & stream)}")
        con.execute("DROP VIEW persons")
        con.execute("DROP VIEW contributions")
    mult = 10 ** len(str(copies))
    con.execute(f"""CREATE TABLE persons AS SELECT iin * {mult} + k AS iin, family * {mult} + k AS family, birth, sex,
        died_on, retire, adult_on, mother * {mult} + k AS mother, father * {mult} + k AS father, pension,
        ruling_from, ruling_until, unemp_since, unemp_until FROM base_persons, range({copies}) t(k)""")
    con.execute(f"""CREATE TABLE contributions AS SELECT iin * {mult} + k AS iin, month, income
        FROM base_contrib, range({copies}) t(k)""")
    con.execute("CHECKPOINT")
    res.etl_seconds = time.perf_counter() - t0
    res.families = base_families * copies
    res.persons = con.execute("SELECT count(*) FROM persons").fetchone()[0]  # type: ignore[index]
    res.contributions = con.execute("SELECT count(*) FROM contributions").fetchone()[0]  # type: ignore[index]
    res.db_bytes = db_path.stat().st_size
    log(f"[batch] tables: {fmt_int(res.families)} families, {fmt_int(res.persons)} persons, "
        f"{fmt_int(res.contributions)} contribution months ({res.etl_seconds:.1f} s to build)")
    lf_params = {"d": as_of}
    for _ in range(repeat):
        t = time.perf_counter()
        res.large_families = con.execute(LARGE_FAMILY_SQL, lf_params).fetchone()[0]  # type: ignore[index]
        res.large_family_seconds.append(time.perf_counter() - t)
        t = time.perf_counter()
        res.tsa_families = con.execute(f"SELECT count(*) FROM ({TSA_SQL})", params).fetchone()[0]  # type: ignore[index]
        res.tsa_seconds.append(time.perf_counter() - t)
    con.close()
    log(f"[batch] large families: {fmt_int(res.large_families)} in {res.large_family_s:.2f} s; "
        f"assistance: {fmt_int(res.tsa_families)} families in {res.tsa_s:.2f} s (median of {repeat})")
    for p in (db_path, Path(str(db_path) + ".wal"), work / "persons.csv", work / "contributions.csv"):
        p.unlink(missing_ok=True)
    return res


def main() -> None:
    from familycard.generator import generate

    ap = argparse.ArgumentParser(prog="python -m bench.batch")
    ap.add_argument("--families", type=int, default=1000)
    ap.add_argument("--target-families", type=int, default=620_000)
    ap.add_argument("--stream-notifications", type=Path)
    ap.add_argument("--work", type=Path, default=Path("/tmp/familycard-bench/batch"))
    a = ap.parse_args()
    messages = list(generate(a.families, dt.date(2026, 1, 1), 365, 7))
    measure(messages, a.families, a.target_families, a.work, a.stream_notifications)


if __name__ == "__main__":
    main()
