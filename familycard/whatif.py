"""``familycard whatif``: replay a history under the baseline and under reforms in one pass.

The reforms (``rules.reform``) are overlays on ``rules/parameters.json``. Reforms that change
only the rules' numbers run in the same dataflow as the baseline (``flows.dataflow.build_flow``
``variants``): the input is read, decoded and folded into person and family cards once, and
each policy has its own rules, ledgers and offers, so each side's outputs are exactly those of
``familycard run`` with its parameters. A reform that changes what shapes the state or the
calendar (``rules.family_fold.STATE_SHAPING``: ages, timers, lateness) is replayed on its own
(exact too, at the cost of a second pass). ``familycard.whatif_report`` then compares them.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from flows.config import ClusterConfig, LogConfig, flag, to_argv

__all__ = ["WhatifConfig", "Side", "plan", "run_sides", "report", "period_of", "iter_events"]

OUTPUTS = ("notifications.jsonl", "assignments.jsonl", "dead-letters.jsonl", "outcomes.jsonl")


@dataclass(frozen=True)
class WhatifConfig:
    """``familycard whatif``: built once by the command line (``familycard.cli.whatif_config``)
    and passed down; a cluster's members read it back whole (``child_argv``, as ``flows.config.RunConfig``).

    ``input``: the history (JSON lines of every topic). ``reforms``: the reform files, in order.
    ``output``: the report's directory. ``simulate_citizens``: each side's offers answered by
    the embedded simulator. ``future_horizon_days``: as for ``run``. ``shards`` and
    ``initial_state``: the sharded stages' count and seed (live slots, and never recovery: a
    what-if is a batch job, rerun from the start). ``cluster``: its processes.
    """

    input: Path = field(metadata=flag("--input"))
    reforms: tuple[Path, ...] = field(metadata=flag("--reform"))
    output: Path = field(metadata=flag("--output"))
    simulate_citizens: bool = field(metadata=flag("--simulate-citizens", off="--no-simulate-citizens"))
    future_horizon_days: int = field(metadata=flag("--future-horizon-days"))
    shards: int = field(metadata=flag("--shards"))
    initial_state: Path | None = field(metadata=flag("--initial-state"))
    cluster: ClusterConfig
    logs: LogConfig

    def child_argv(self) -> list[str]:
        """The arguments of ``python -m familycard`` for each member of this what-if's cluster
        (``flows.runner.run_cluster`` appends ``--process-id I --addresses ...``)."""
        return [*to_argv(self.logs), "whatif", *to_argv(self, omit=("logs",))]

    def member(self, process_id: int, addresses: tuple[str, ...]) -> WhatifConfig:
        return replace(self, cluster=replace(self.cluster, process_id=process_id, addresses=addresses))


@dataclass(frozen=True)
class Side:
    """One policy's run: its name (``base`` or the reform's slug), parameters and output directory."""

    name: str
    params: Any           # rules.params.Params
    out: Path
    reform: Any = None    # rules.reform.Reform, None for the baseline
    shared: bool = True   # evaluated in the baseline's pass


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:60] or "reform"


def plan(reform_paths: list[Path], out: Path) -> list[Side]:
    """The baseline and each reform (validated: a bad file raises ``rules.reform.ReformError``)."""
    from rules import load_params
    from rules.family_fold import STATE_SHAPING
    from rules.reform import load_reform

    sides = [Side("base", load_params(), out / "runs" / "base")]
    names: set[str] = {"base"}
    for path in reform_paths:
        reform = load_reform(path)
        name = slug(path.stem)
        while name in names:
            name += "-2"
        names.add(name)
        sides.append(Side(name, reform.params(), out / "runs" / name, reform,
                          shared=not reform.touches(set(STATE_SHAPING))))
    return sides


def _flow(input_path: Path, sides: list[Side], simulate: bool, epoch_seconds: float,
          future_horizon_days: int | None, state: Any = None) -> Any:
    from flows.dataflow import Outputs, build_flow
    from flows.files import JsonLinesSink, JsonLinesSource

    def outputs(side: Side) -> Outputs:
        return Outputs(*(JsonLinesSink(side.out / name) for name in OUTPUTS))

    first, *rest = sides
    return build_flow(JsonLinesSource(input_path, epoch_seconds=epoch_seconds, future_horizon_days=future_horizon_days),
                      outputs(first), params=first.params, simulate_citizens=simulate,
                      future_horizon_days=future_horizon_days, state=state,
                      variants=[(s.params, outputs(s)) for s in rest])


def passes(sides: list[Side]) -> list[list[Side]]:
    """The dataflows to run: the baseline with every shared reform, then each other reform alone."""
    return [[s for s in sides if s.shared], *([s] for s in sides if not s.shared)]


def run_sides(input_path: Path, sides: list[Side], *, simulate: bool, epoch_seconds: float = 0.0,
              future_horizon_days: int | None = 31, process_id: int | None = None,
              addresses: list[str] | None = None, recovery_dir: Path | None = None, state: Any = None) -> None:
    """Run every pass in this process (or as one member of a cluster, ``process_id``)."""
    from flows.runner import run_local

    for group in passes(sides):
        for side in group:
            side.out.mkdir(parents=True, exist_ok=True)
        run_local(_flow(input_path, group, simulate, epoch_seconds, future_horizon_days, state), process_id=process_id,
                  addresses=addresses, recovery_dir=recovery_dir, epoch_seconds=epoch_seconds)


def iter_events(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as fh:
        for line in fh:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                yield obj


def period_of(path: Path) -> tuple[str, str]:
    """The first and last ``day`` tick of the input (the period the what-if covers)."""
    ticks = sorted(str(m["occurred_on"]) for m in iter_events(path)
                   if m.get("type") == "day" and isinstance(m.get("occurred_on"), str)
                   and re.fullmatch(r"\d{4}-\d{2}-\d{2}", m["occurred_on"]))
    if not ticks:
        today = dt.date.today().isoformat()  # no tick: nothing date-driven ran; name a one-day period
        return today, today
    return ticks[0], ticks[-1]


def report(input_path: Path, sides: list[Side], out: Path, simulate: bool) -> list[dict[str, Any]]:
    """Compare each reform with the baseline: DIR itself for one reform, DIR/<reform> for several."""
    from familycard.whatif_report import families_from_events, read_outputs, write_whatif
    from rules.reform import describe

    base, reforms = sides[0], sides[1:]
    families = families_from_events(iter_events(input_path))
    period = period_of(input_path)
    base_out = read_outputs(base.out)
    summaries = []
    for side in reforms:
        target = out if len(reforms) == 1 else out / side.name
        summaries.append(write_whatif(target, label=side.reform.label, changes=describe(side.reform),
                                      base=base_out, reform=read_outputs(side.out), families=families,
                                      period=period, consent=_consent(simulate)))
    return summaries


def _consent(simulate: bool) -> str:
    if simulate:
        return ("Consent as simulated: the embedded citizen simulator answers each side's offers the same "
                "deterministic way (52 % consent, 8 % refuse, the rest silent).")
    return "Consent as given by the SMS replies in the input (a reform's renewed offers get no reply)."


def main(config: WhatifConfig) -> int:
    """The ``familycard whatif`` command (``familycard.cli`` builds its ``config``)."""
    from flows.runner import run_cluster
    from flows.shards import StateSettings
    from rules.reform import ReformError
    from store.seed import SeedError, SeedReader

    if not config.input.exists():
        print(f"familycard whatif: no such input file: {config.input}", file=sys.stderr)
        return 2
    try:
        sides = plan(list(config.reforms), config.output)
    except (ReformError, OSError, ValueError) as exc:
        print(f"familycard whatif: {exc}", file=sys.stderr)
        return 2
    try:  # no recovery: a what-if is a batch job, rerun from the start (no snapshots)
        state = StateSettings(config.shards, False, SeedReader(config.initial_state) if config.initial_state else None,
                              snapshots=False)
    except (SeedError, ValueError) as exc:
        print(f"familycard whatif: {exc}", file=sys.stderr)
        return 2
    simulate, cluster = config.simulate_citizens, config.cluster
    if cluster.is_member:  # one member of a cluster started below
        run_sides(config.input, sides, simulate=simulate, process_id=cluster.process_id,
                  addresses=list(cluster.addresses or ()), future_horizon_days=config.future_horizon_days,
                  state=state)
        return 0
    t0 = time.perf_counter()
    if cluster.launches:
        for side in sides:
            side.out.mkdir(parents=True, exist_ok=True)
        run_cluster(config.child_argv(), cluster.workers)
    else:
        run_sides(config.input, sides, simulate=simulate, future_horizon_days=config.future_horizon_days, state=state)
    seconds = time.perf_counter() - t0
    summaries = report(config.input, sides, config.output, simulate)
    for side, summary in zip(sides[1:], summaries, strict=True):
        codes = summary["codes"].values()
        offers = (sum(c["base"]["offers"] for c in codes), sum(c["reform"]["offers"] for c in codes))
        kzt = sum(c["delta"]["offered_kzt"] for c in codes)
        fam = summary["families"]
        where = config.output if len(sides) == 2 else config.output / side.name
        print(f"{side.reform.label}: offers {offers[0]} -> {offers[1]}, offered {kzt:+,} KZT, families "
              f"{fam['gain']} gain / {fam['lose']} lose / {fam['unchanged']} unchanged"
              f"{'' if side.shared else ' (replayed on its own: it changes what shapes the state)'} -> {where}/")
    print(f"what-if of {len(sides) - 1} reform(s) in {seconds:.1f} s ({len(passes(sides))} pass(es) over the input)")
    return 0
