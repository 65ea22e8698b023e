"""All of issue 7's measurements in one run: ``make bench-quick`` / ``make bench``.

``python -m bench.run --quick`` (small sizes, a few minutes) or ``--full`` (larger sizes, long).
Prints every figure as it comes, then the summary table, and writes the mode's section of
``bench/RESULTS.md`` (the other mode's section is kept). Sizes can be overridden, e.g.
``python -m bench.run --full --population-families 20000``.

1. ``bench.kafka_throughput``: full flow vs Kafka passthroughs on one broker;
2. ``bench.population``: population load + a year, 1 and 2 processes, recovery on and off;
   ``bench.bulk_load``: the same load as a batch job (``familycard load``), the year from its seed;
3. ``bench.latency``: event → notification latency at a steady rate, recovery on;
4. scale-out: from 2 (1 vs 2 processes, same outputs);
5. ``bench.batch``: the nightly DuckDB batch vs the stream's per-event cost;
and ``bench.profile``: py-spy over the full flow (``bench/profile.svg``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import batch, bulk_load, kafka_throughput, latency, population, profile, scaleout_probe
from bench.common import BENCH_DIR, GIB, ROOT, Target, broker, fmt_bytes, fmt_int, machine

RESULTS = BENCH_DIR / "RESULTS.md"


@dataclass
class Sizes:
    throughput_families: int
    throughput_repeat: int
    population_families: int
    latency_families: int
    latency_window: float
    latency_rate: float
    latency_extra: bool  # also recovery off, and a 1 s epoch, for diagnosis
    batch_target_families: int
    profile_families: int
    profile_recovery: bool
    profile_cluster_families: int
    probe_families: int = 2000
    probe_work: tuple[float, ...] = scaleout_probe.DEFAULT_WORK
    probe_repeat: int = 2


QUICK = Sizes(2000, 1, 1000, 3000, 20.0, 1000.0, False, 620_000, 1000, False, 400, 1000, (0.0, 50.0, 200.0), 1)
FULL = Sizes(10_000, 2, 10_000, 8000, 60.0, 1000.0, True, population.NATION_FAMILIES, 3000, True, 2000)


def _git() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _pct(xs: dict[float, float]) -> str:
    return " / ".join(f"{1000 * xs[p]:.0f}" for p in (50, 99, 99.9))


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def targets(tp: kafka_throughput.ThroughputResult, pop: population.PopulationResult,
            lat: latency.LatencyResult, bat: batch.BatchResult,
            bulk: bulk_load.BulkResult | None = None) -> list[Target]:
    out = [Target("1. full flow throughput over Kafka / aligned passthrough", "≥ 0.5×",
                  f"{tp.ratio:.2f}× ({fmt_int(tp.rate('full'))} vs {fmt_int(tp.rate('aligned'))} msg/s)",
                  tp.ratio >= 0.5)]
    for key, label in (("w2", "live state, recovery off"), ("w2_packed", "packed state, recovery off"),
                       ("w2_rec", "live state, recovery on")):
        x = pop.extrapolate(key)
        out.append(Target(f"2. load 20 M people, 2 processes, {label} (extrapolated)", "≤ 10 min",
                          f"{x['load_seconds'] / 60:,.0f} min", x["load_seconds"] <= 600))
    if bulk is not None and 2 in bulk.loads:
        minutes = bulk.nation_load_minutes(2)
        out.append(Target("2. load 20 M people as a batch job (`familycard load`), 2 processes (extrapolated)",
                          "≤ 10 min", f"{minutes:,.1f} min", minutes <= 10))
    for key, label in (("w2_packed", "packed state"), ("w2", "live state")):
        rss = pop.extrapolate(key)["rss_peak"]
        out.append(Target(f"2. RSS with 20 M people, 2 processes, {label} (extrapolated peak)", "≤ 8 GiB",
                          fmt_bytes(rss), rss <= 8 * GIB))
    if bulk is not None and "packed" in bulk.years:
        rss = bulk.rss_per_person("packed") * bulk.people * bulk.scale
        out.append(Target("2. RSS with 20 M people, stream started from the seed, packed state (extrapolated)",
                          "≤ 8 GiB", fmt_bytes(rss), rss <= 8 * GIB))
    p = lat.pct()
    ok = lat.rate >= 0.95 * lat.rate_target and bool(lat.lat_create)
    out.append(Target(f"3. latency p99 at {lat.rate_target:.0f} events/s, recovery on", "≤ 100 ms",
                      f"{1000 * p[99]:,.0f} ms (p50 {1000 * p[50]:,.0f}, p99.9 {1000 * p[99.9]:,.0f}; "
                      f"{len(lat.lat_create)} samples)", ok and p[99] <= 0.1))
    same = all(pop.same_output.values())
    ndiff = sum(d["lines_1_only"] for d in pop.output_diff.values())
    out.append(Target("4. scale-out: 2 vs 1 process (file replay), same outputs", "≥ 1.6×, same",
                      f"{pop.speedup:.2f}×, outputs {'identical' if same else f'DIFFER ({ndiff} lines)'}",
                      pop.speedup >= 1.6 and same))
    out.append(Target(f"5. nightly batch over {fmt_int(bat.families)} families vs one event in the stream", "(compare)",
                      f"batch {bat.large_family_s + bat.tsa_s:.2f} s per night; stream "
                      f"{1000 * lat.cpu_per_event:.2f} ms CPU, p50 {1000 * p[50]:,.0f} ms per event", None))
    return out


def render(mode: str, sizes: Sizes, mach: dict[str, str], tp: kafka_throughput.ThroughputResult,
           pop: population.PopulationResult, lats: list[latency.LatencyResult], bat: batch.BatchResult,
           profs: list[profile.Profile], tgts: list[Target], seconds: float,
           probe: scaleout_probe.ProbeResult | None = None, bulk: bulk_load.BulkResult | None = None) -> str:
    lat = lats[0]
    L: list[str] = []
    L.append(f"## `make bench{'-quick' if mode == 'quick' else ''}` — {mach['date']}")
    L.append("")
    L.append(f"Whole run {seconds / 60:.1f} min. Code: {_git()}.")
    L.append("")
    L += _table(["machine", ""], [[k, v] for k, v in mach.items()])
    L.append("")
    L.append("### Summary")
    L.append("")
    L += _table(["measure", "target", "measured", "verdict"], [[t.name, t.target, t.measured, t.verdict] for t in tgts])
    L.append("")

    # 1 ------------------------------------------------------------------------------------------
    L.append(f"### 1. Throughput over Kafka ({fmt_int(tp.families)} families, {fmt_int(tp.messages)} messages: "
             f"population load + one year with day ticks)")
    L.append("")
    L.append(f"Produced once ({tp.produce_seconds:.1f} s), then drained by each flow in turn, each in a fresh process "
             f"(1 worker, epoch interval 0, recovery off), best of {len(tp.runs['full'])} run(s).")
    L.append("")
    rows = []
    for kind in kafka_throughput.KINDS:
        b = tp.best(kind)
        rows.append([kafka_throughput.LABELS[kind], f"{b['wall']:.2f}", fmt_int(tp.rate(kind)), f"{b['cpu']:.1f}",
                     fmt_bytes(b["peak_rss"]), ", ".join(f"{k} {fmt_int(v)}" for k, v in tp.outputs.get(kind, {}).items())])
    L += _table(["flow", "wall s", "msg/s", "CPU s", "peak RSS (VmHWM)", "outputs"], rows)
    L.append("")
    L.append(f"Full flow / aligned passthrough = **{tp.ratio:.2f}**; full / stock passthrough = "
             f"{tp.rate('full') / tp.rate('stock'):.2f}. (The aligned passthrough writes each `day` tick twice: "
             "the source emits a tick's second phase as its own batch.)")
    L.append("")

    # 2 ------------------------------------------------------------------------------------------
    L.append(f"### 2. Population load and a year ({fmt_int(pop.families)} families, {fmt_int(pop.people_loaded)} people, "
             f"file replay)")
    L.append("")
    L.append(f"{fmt_int(pop.load_messages)} load messages (registrations, then employment, 24 months of contributions, "
             f"pensions, rulings, awards as late records) + {fmt_int(pop.year_messages)} messages of the year "
             f"({pop.births_in_year} births, 365 day ticks). `familycard run --input FILE --workers W [--recovery DIR]` "
             "in a subprocess; load/year split by the input file's read position (`/proc/PID/fdinfo`); RSS = sum of "
             "VmRSS over the worker processes, sampled every 50 ms.")
    L.append("")
    rows = []
    for r in pop.runs.values():
        rows.append([population.run_label(r),
                     f"{r.wall:.1f}", f"{r.startup:.1f}", f"{r.load_seconds:.1f}",
                     fmt_int(pop.load_messages / max(r.load_seconds, 1e-9)), f"{r.year_seconds:.1f}",
                     fmt_int(pop.year_messages / max(r.year_seconds, 1e-9)), f"{r.cpu:.1f}",
                     fmt_bytes(r.rss_start), fmt_bytes(r.rss_loaded), fmt_bytes(r.peak_rss_sum),
                     ", ".join(fmt_bytes(v) for v in r.peak_hwm.values())])
    L += _table(["run", "wall s", "startup s", "load s", "load msg/s", "year s", "year events/s", "CPU s (tree)",
                 "RSS at start", "RSS loaded", "peak RSS", "VmHWM per process"], rows)
    L.append("")
    L.append(f"**Extrapolated to {fmt_int(population.NATION_FAMILIES)} families "
             f"(≈ {fmt_int(pop.people_per_family * population.NATION_FAMILIES)} people at the generator's "
             f"{pop.people_per_family:.2f} people per family), ×{pop.scale:,.0f}:**")
    L.append("")
    rows = []
    for key, r in pop.runs.items():
        x = pop.extrapolate(key)
        rows.append([population.run_label(r),
                     f"{x['load_seconds'] / 60:,.0f} min", f"{x['year_seconds'] / 3600:,.1f} h",
                     f"{pop.bytes_per_person(key):,.0f} B", fmt_bytes(x["rss_loaded"]), fmt_bytes(x["rss_peak"])])
    L += _table(["run", "load", "year (replayed)", "RSS per person (loaded − start) / people", "RSS loaded",
                 "RSS peak"], rows)
    L.append("")
    L.append("Assumptions: time and memory grow linearly with families (same event mix per family as the generator, "
             "same machine, the per-epoch costs of the 730 tick epochs grow with the state touched, not with N); "
             "RSS at start (imports, Bytewax) is paid once per process. Not modelled, all making the real figure "
             "worse: the cyclic GC's full collections grow with the heap, sqlite's B-trees deepen, dicts resize, "
             "and a year's replay at 6.2 M families has ~620× more work per tick epoch.")
    L.append("")
    rs = pop.runs["w2_rec"].recovery_stats
    if rs:
        L.append(f"**Recovery** (2 processes): snapshot files {fmt_bytes(rs['disk_bytes'])} after the run "
                 f"({', '.join(f'{n} {fmt_bytes(s)}' for n, s in rs['files'].items())}), {fmt_int(rs['epochs'])} epochs; "
                 f"run time with recovery − without = {pop.runs['w2_rec'].wall - pop.runs['w2'].wall:.1f} s "
                 f"(≈ {1000 * (pop.runs['w2_rec'].wall - pop.runs['w2'].wall) / max(1, rs['epochs']):.1f} ms per epoch).")
        L.append("")
        rows = []
        for step, s in sorted(rs["steps"].items(), key=lambda kv: -kv[1]["bytes"]):
            rows.append([f"`{step}`", fmt_int(s["keys"]), fmt_bytes(s["bytes"]), f"{s['bytes'] / max(1, s['keys']):,.0f}"])
        L += _table(["step (live snapshot rows, latest epoch per key; sharded steps: people or families in "
                     "their shards)", "keys", "bytes", "bytes/key"], rows)
        L.append("")
        steps = rs["steps"]
        per_person = steps.get(population.SHARDED_STEPS["person"], {"bytes": 0})["bytes"] / max(1, pop.people_loaded)
        fam = steps.get(population.SHARDED_STEPS["family"], {"bytes": 0, "keys": 1})
        total = sum(s["bytes"] for s in steps.values())
        L.append(f"State per person, serialized (pickle, as snapshotted): {per_person:,.0f} B per registered person; per "
                 f"family card {fam['bytes'] / max(1, fam['keys']):,.0f} B (it carries copies of its members' cards). "
                 f"A slot pickled (as `--state packed` holds it): PersonSlot {rs['heap'].get('person_pickled', 0):,.0f} B, "
                 f"FamilyCard {rs['heap'].get('family_pickled', 0):,.0f} B. "
                 f"In Python's heap (tracemalloc while unpickling a sample, as `--state live` holds it): PersonSlot "
                 f"{rs['heap'].get('person', 0):,.0f} B, FamilyCard {rs['heap'].get('family', 0):,.0f} B "
                 "(a family's member cards counted in full, as after crossing processes). "
                 f"All live snapshot rows: {fmt_bytes(total)}, i.e. "
                 f"{fmt_bytes(total * pop.scale)} at 6.2 M families.")
        L.append("")

    if bulk is not None:
        L += bulk_load.render(bulk)
        L.append("")

    # 3 ------------------------------------------------------------------------------------------
    L.append(f"### 3. Latency at {lat.rate_target:.0f} events/s ({lat.window_target:.0f} s window, Kafka, 1 process)")
    L.append("")
    L.append(f"Warm-up: {fmt_int(lat.warm_messages)} messages ({lat.families} families: load + {latency.WARM_DAYS} days) "
             f"drained before the window. Then the following events of the generated year (no day ticks) were "
             f"sent paced by a producer thread; a notification's latency = its Kafka timestamp (CreateTime, set by "
             f"the flow's sink) − the event's send time. Percentiles are nearest-rank (p99.9 of fewer than 1 000 "
             f"samples is the maximum).")
    L.append("")
    rows = []
    for lr in lats:
        p, pr, pb = lr.pct(), lr.pct("recv"), lr.pct("births")
        rows.append([f"recovery {'on' if lr.recovery else 'off'}, epoch {lr.epoch_seconds:g} s",
                     f"{fmt_int(lr.sent)} in {lr.send_seconds:.1f} s ({lr.rate:.0f}/s)", str(lr.births_sent),
                     f"{lr.attributed} of {lr.notifications}", _pct(p), _pct(pr), _pct(pb),
                     ", ".join(f"{1000 * q:.0f}" for q in lr.by_quarter), f"{1000 * lr.cpu_per_event:.2f}",
                     f"{100 * lr.idle_cpu_share:.0f} %"])
    L += _table(["run", "events sent", "births", "notifications attributed", "p50 / p99 / p99.9 ms (write)",
                 "… (consumer receive)", "… births only", "p50 ms by quarter of the window", "CPU ms/event",
                 "idle flow CPU"], rows)
    L.append("")
    L.append(f"Attributed by triggering event: {', '.join(f'{k} {v}' for k, v in lat.by_event_type.most_common())}. "
             "A notification is attributed when exactly one event of the window has its family and `occurred_on`.")
    L.append("")

    # 4 ------------------------------------------------------------------------------------------
    w1, w2 = pop.runs["w1"], pop.runs["w2"]
    L.append("### 4. Scale-out (file replay, recovery off)")
    L.append("")
    L += _table(["processes", "flow s (load + year)", "msg/s", "CPU s (tree)"],
                [[1, f"{w1.flow_seconds:.1f}", fmt_int(pop.messages / w1.flow_seconds), f"{w1.cpu:.1f}"],
                 [2, f"{w2.flow_seconds:.1f}", fmt_int(pop.messages / w2.flow_seconds), f"{w2.cpu:.1f}"]])
    L.append("")
    L.append(f"Speed-up {pop.speedup:.2f}× (live state). Live vs packed state, 1 process: outputs "
             f"{'identical' if pop.packed_same else 'DIFFER'}. Sorted output sets 1 vs 2 processes: "
             + ", ".join(f"{k} {'identical' if v else 'DIFFER'} ({fmt_int(w1.outputs.get(k, 0))} lines)"
                         for k, v in pop.same_output.items()) + ".")
    for name, d in pop.output_diff.items():
        L.append("")
        L.append(f"`{name}`: {d['lines_1_only']} line(s) only with 1 process, {d['lines_2_only']} only with 2; "
                 f"the record ids are {'the same' if d['same_ids'] else 'NOT the same'}; differing fields: "
                 f"{', '.join(d['fields']) or '-'}.")
    L.append("")

    if probe is not None:
        L.append("**What a second process can buy, Bytewax alone** (`python -m bench.scaleout_probe`: one-partition "
                 "file reader, `orjson.loads`, two keyed `stateful_map` steps of 4 096 keys with a calibrated busy "
                 "loop per item and step, a discarding sink; 1 process vs a 2-process cluster, same item counts "
                 "checked):")
        L.append("")
        L.append(probe.markdown())
        L.append("")
        L.append("Items cross between the two processes pickled one by one, and the single reader parses "
                 "everything on one worker; below ~20 µs of Python work per item and step a second process "
                 "is a net loss, and the machine's own ceiling for two busy Python processes (the last line) "
                 "bounds what any flow can gain.")
        L.append("")

    # 5 ------------------------------------------------------------------------------------------
    L.append(f"### 5. The batch alternative (DuckDB {mach['duckdb']}, {os.cpu_count()} threads)")
    L.append("")
    L.append(f"Tables: {fmt_int(bat.families)} families ({bat.copies} copies of the {fmt_int(bat.base_families)}-family "
             f"population of section 2), {fmt_int(bat.persons)} persons, {fmt_int(bat.contributions)} contribution "
             f"months; built in {bat.etl_seconds:.1f} s (ETL, not counted). Queries for the quarter starting "
             f"{batch.QUARTER}, evaluated with the facts recorded by {bat.as_of} like the "
             f"stream; median of "
             f"{len(bat.tsa_seconds)}.")
    L.append("")
    L += _table(["query", "families found", "seconds"],
                [["large family (≥ 4 living children under 18)", fmt_int(bat.large_families), f"{bat.large_family_s:.2f}"],
                 ["targeted social assistance (income test + able-bodied condition)", fmt_int(bat.tsa_families),
                  f"{bat.tsa_s:.2f}"]])
    L.append("")
    if bat.check:
        c = bat.check
        L.append(f"Same eligibility? At 1 copy, the assistance query finds {c['batch']} families; the stream offered "
                 f"{c['stream']} for that quarter; {c['both']} in both, {c['batch_only']} batch only, "
                 f"{c['stream_only']} stream only.")
        L.append("")
    per_family = (bat.large_family_s + bat.tsa_s) / max(1, bat.families)
    L.append(f"Cost comparison: the nightly batch answers both questions for everyone in "
             f"{bat.large_family_s + bat.tsa_s:.2f} s ({1e6 * per_family:.2f} µs per family), once a night, so an "
             f"event waits up to a day (12 h on average) to be reflected. The stream reflects one event in "
             f"{1000 * lat.cpu_per_event:.2f} ms of CPU (section 3, all stages and recovery included) with p50 "
             f"{1000 * lat.pct()[50]:,.0f} ms; at the generator's {pop.year_messages / max(1, pop.families):.1f} "
             f"events per family and year, a day of the whole country is "
             f"≈ {fmt_int(pop.year_messages / pop.families * population.NATION_FAMILIES / 365)} events ≈ "
             f"{pop.year_messages / pop.families * population.NATION_FAMILIES / 365 * lat.cpu_per_event / 60:,.1f} "
             f"CPU-minutes for the stream, against {bat.large_family_s + bat.tsa_s:.1f} s for these two batch queries "
             "(which cover 2 of the policy's rules; the stream runs all of them).")
    L.append("")

    # Profile ------------------------------------------------------------------------------------
    L.append("### Profile")
    L.append("")
    if not profs:
        L.append("py-spy failed in this run (see its output); no profile.")
        L.append("")
    for pf in profs:
        fams = sizes.profile_cluster_families if pf.label.startswith("2 ") else sizes.profile_families
        L.append(f"py-spy (native frames, 100 Hz) over `familycard run --input` of {fmt_int(fams)} "
                 f"families, **{pf.label}**: {fmt_int(pf.samples)} samples of the run "
                 f"({pf.startup} startup samples left out)"
                 + (f"; flame graph `{pf.svg.relative_to(ROOT)}`." if pf.svg else "."))
        L.append("")
        n = max(1, pf.samples)
        L += _table(["area", "share"], [[a, f"{100 * c / n:.1f} %"] for a, c in pf.areas[:10]])
        L.append("")
        L += _table(["innermost frame (self)", "share"], [[f"`{f}`", f"{100 * c / n:.1f} %"] for f, c in pf.self_top[:12]])
        L.append("")
        L += _table(["project function (inclusive)", "share"],
                    [[f"`{f}`", f"{100 * c / n:.1f} %"] for f, c in pf.inclusive_top[:12]])
        L.append("")
    return "\n".join(L).rstrip() + "\n"


HEADER = """# Benchmarks

Issue 7's measurements. Run them with `make bench-quick` (small sizes, under 5 minutes from a
fresh clone on the 2-core machine) or `make bench` (larger sizes, long); both print every
figure and rewrite their own section below (the other section is kept). What each benchmark
does and how it measures is in the docstring of its module (`bench/*.py`); `bench/run.py`
ties them together. A FAIL is a finding about the engine, not a bug in the benchmark.

"""


def write_results(mode: str, section: str) -> None:
    start, end = f"<!-- bench:{mode}:start -->", f"<!-- bench:{mode}:end -->"
    block = f"{start}\n{section}{end}\n"
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end) + r"\n?", lambda _: block, text, flags=re.S)
    else:
        # full before quick: the long run's figures come first
        other = {"full": "<!-- bench:quick:start -->", "nation": "<!-- bench:full:start -->"}.get(mode, "")
        if other and other in text:
            text = text.replace(other, block + "\n" + other, 1)
        else:
            text = text.rstrip() + "\n\n" + block
    RESULTS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="small sizes (the default)")
    g.add_argument("--full", action="store_true", help="larger sizes; long")
    ap.add_argument("--throughput-families", type=int)
    ap.add_argument("--population-families", type=int)
    ap.add_argument("--latency-families", type=int)
    ap.add_argument("--latency-window", type=float)
    ap.add_argument("--batch-target-families", type=int)
    ap.add_argument("--work", type=Path, help="scratch directory (default: a fresh temporary one, removed after)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md as it is")
    a = ap.parse_args(argv)
    mode = "full" if a.full else "quick"
    base = FULL if a.full else QUICK
    sizes = Sizes(**{**base.__dict__, **{k: v for k, v in (
        ("throughput_families", a.throughput_families), ("population_families", a.population_families),
        ("latency_families", a.latency_families), ("latency_window", a.latency_window),
        ("batch_target_families", a.batch_target_families)) if v is not None}})
    work = a.work or Path(tempfile.mkdtemp(prefix="familycard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"{time.perf_counter() - t0:7.1f}s {msg}", flush=True)

    log(f"bench {mode}: {sizes}; scratch {work}")
    try:
        with broker(work / "broker") as b:
            mach = machine(b.version)
            log("machine: " + "; ".join(f"{k} {v}" for k, v in mach.items()))
            tp = kafka_throughput.measure(b.bootstrap, sizes.throughput_families, sizes.throughput_repeat, log=log)
            lats = [latency.measure(b.bootstrap, sizes.latency_families, sizes.latency_window, sizes.latency_rate,
                                    work / "latency", log=log)]
            if sizes.latency_extra:
                lats.append(latency.measure(b.bootstrap, sizes.latency_families, sizes.latency_window,
                                            sizes.latency_rate, work / "latency-norec", recovery=False, log=log))
                lats.append(latency.measure(b.bootstrap, sizes.latency_families, sizes.latency_window,
                                            sizes.latency_rate, work / "latency-epoch1", epoch_seconds=1.0, log=log))
        pop = population.measure(sizes.population_families, work / "population", log=log)
        bulk = bulk_load.measure(sizes.population_families, work / "bulk", log=log,
                                 whole_output=work / "population" / "out-w1")
        from familycard.generator import generate

        messages = list(generate(sizes.population_families, population.START, 365, 7))  # the same population
        bat = batch.measure(messages, sizes.population_families, sizes.batch_target_families, work / "batch",
                            work / "population" / "out-w1" / "notifications.jsonl", log=log)
        del messages
        from bench.common import write_messages

        prof_input = work / "profile" / "input.jsonl"
        prof_input.parent.mkdir(parents=True, exist_ok=True)
        write_messages(generate(sizes.profile_families, population.START, 365, 7), prof_input)
        cluster_input = work / "profile" / "input-2proc.jsonl"
        write_messages(generate(sizes.profile_cluster_families, population.START, 365, 7), cluster_input)
        try:
            profs = profile.measure(prof_input, work / "profile", sizes.profile_recovery, cluster_input, log=log)
        except Exception as exc:  # the profiler failing must not lose the measurements
            log(f"[profile] failed: {exc}")
            profs = []
        try:
            probe = scaleout_probe.measure(sizes.probe_families, sizes.probe_work, sizes.probe_repeat,
                                           work_dir=work / "probe", log=log)
        except Exception as exc:  # a failing probe must not lose the other figures
            log(f"[probe] failed: {exc}")
            probe = None
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - t0
    tgts = targets(tp, pop, lats[0], bat, bulk)
    section = render(mode, sizes, mach, tp, pop, lats, bat, profs, tgts, seconds, probe, bulk)
    print()
    print(section)
    width = max(len(t.name) for t in tgts)
    print("SUMMARY")
    for t in tgts:
        print(f"  {t.name:<{width}}  target {t.target:<14} measured {t.measured:<60} {t.verdict}")
    if not a.no_write:
        write_results(mode, section)
        print(f"\nwritten to {RESULTS.relative_to(ROOT)} ({mode} section); took {seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
