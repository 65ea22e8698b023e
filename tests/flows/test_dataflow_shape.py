"""The dataflow's shape: the stateful steps' ids are the recovery store's keys (and the
dashboards' ``step_id`` label), so restructuring ``flows/dataflow.py`` must not rename them —
a renamed step would start empty and orphan a deployment's state."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from flows.dataflow import Outputs, build_flow
from flows.files import JsonLinesSink, JsonLinesSource
from rules import load_params

ROOT = Path(__file__).resolve().parents[2]
STATEFUL = {"stateful_batch"}  # the core step every stateful operator is made of: it holds the state
ONE_POLICY = {"familycard.calendar_shards", "familycard.person_shards", "familycard.family_shards",
              "familycard.ledger_shards", "familycard.offer_calendar.stateful_batch", "familycard.offers"}


def _steps(flow: Any) -> list[Any]:
    out: list[Any] = []

    def walk(step: Any) -> None:
        out.append(step)
        for sub in getattr(step, "substeps", []):
            walk(sub)

    for step in flow.substeps:
        walk(step)
    return out


def _flow(tmp_path: Path, *, variants: int = 0, simulate: bool = False) -> Any:
    outs = Outputs(*(JsonLinesSink(tmp_path / f"{n}.jsonl") for n in ("n", "a", "d", "o")))
    return build_flow(JsonLinesSource(tmp_path / "in.jsonl"), outs, simulate_citizens=simulate,
                      variants=[(load_params(), outs)] * variants)


@pytest.mark.parametrize("simulate", [False, True])
def test_stateful_step_ids_are_stable(tmp_path: Path, simulate: bool) -> None:
    stateful = {s.step_id for s in _steps(_flow(tmp_path, simulate=simulate)) if type(s).__name__ in STATEFUL}
    assert stateful == ONE_POLICY


def test_a_whatif_adds_one_ledger_and_offer_chain_per_policy(tmp_path: Path) -> None:
    steps = _steps(_flow(tmp_path, variants=2))
    stateful = {s.step_id for s in steps if type(s).__name__ in STATEFUL}
    for v in (1, 2):
        mine = {f"familycard.ledger_shards_{v}", f"familycard.offer_calendar_{v}.stateful_batch", f"familycard.offers_{v}"}
        assert mine <= stateful
        stateful -= mine
    assert stateful == ONE_POLICY
    assert sum(type(s).__name__ == "output" for s in steps) == 4 * 3  # four sinks per policy


def test_the_dashboard_names_steps_that_exist(tmp_path: Path) -> None:
    """The Grafana panel of items per stage matches step ids with a regex: each name in it must exist."""
    board = json.loads((ROOT / "deploy/grafana/dashboards/familycard.json").read_text())
    text = json.dumps(board)
    names = set()
    for alt in re.findall(r"familycard\[\.\]\(([a-z_|]+)\)", text):
        names |= set(alt.split("|"))
    assert names, "the per-stage panel should name the steps it counts"
    top = {s.step_id.split(".")[1] for s in _steps(_flow(tmp_path))}
    assert names <= top, names - top
