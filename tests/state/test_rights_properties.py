"""Properties of rights over time (rules.md §5a) over generated populations.

(a) Within a day, order does not matter: reordering the messages of each day (ticks and
    days stay where they are) leaves the notifications and assignments unchanged, up to their
    reasons' wording: for a full shuffle of each day, and for interleavings of the day's
    households (``_households``: messages that share a person or a family that day) that keep
    each household's own order.
(b) After any history, no running assignment's condition is false on the last day, judged on
    the *true* final state (the person and family stages' cards, not the ledger's copies),
    and no assignment ends before it starts.

Histories come from the project's generator (births, deaths, moves, rulings, dismissals,
awards, quarters), with the replies its simulated citizens send, through the flow's own
stages (``tests.inprocess.Pipeline``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

import orjson
import pytest

from familycard.generator import generate
from flows.citizens import reply_for
from rules import load_params
from rules.conditions import verdict
from rules.family_fold import family_view, guardians
from state import dates
from state.rights import Digest, FamilyView, digest_of
from tests.inprocess import Pipeline

FAMILIES, START, DAYS = 800, dt.date(2026, 1, 1), 240


def _history(seed: int) -> list[dict[str, Any]]:
    """The generated messages, with the replies citizens send to its offers (on their day)."""
    msgs = list(generate(FAMILIES, START, DAYS, seed=seed))
    reference = Pipeline().feed_lines(orjson.dumps(m) for m in msgs).finish()
    replies = [r for r in map(reply_for, reference.notifications) if r is not None]
    return _merge_replies(msgs, replies)


def _day_of(m: dict[str, Any]) -> str:
    if m["type"] == "day":
        return m["occurred_on"]
    at = m.get("recorded_at") or m.get("received_at") or ""
    return dates.iso(dates.kz_day(at)) if at else m["occurred_on"]


def _merge_replies(msgs: list[dict[str, Any]], replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each reply just before the tick of its day (or at the end)."""
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in replies:
        by_day[_day_of(r)].append(r)
    out: list[dict[str, Any]] = []
    for m in msgs:
        if m["type"] == "day":
            out.extend(by_day.pop(m["occurred_on"], []))
        out.append(m)
    for rest in by_day.values():
        out.extend(rest)
    return out


def _days(msgs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The messages cut into days: at each tick, and where the recorded day changes (the load,
    recorded the day before the first tick, is a day of its own). Ticks are days of one."""
    out: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for m in msgs:
        if m["type"] == "day" or (current and _day_of(current[-1]) != _day_of(m)):
            if current:
                out.append(current)
            current = []
        if m["type"] == "day":
            out.append([m])
        else:
            current.append(m)
    if current:
        out.append(current)
    return out


def _shuffled(msgs: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """The messages of each day shuffled; days and ticks stay in place."""
    out: list[dict[str, Any]] = []
    for block in _days(msgs):
        rng.shuffle(block)
        out += block
    return out


def _households(block: list[dict[str, Any]], family_of: dict[str, str]) -> list[int]:
    """For each message of a day, the household it belongs to: messages that share a person
    (subject, mother, father) or a family (named, or the subject's current one) are one."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def nodes(m: dict[str, Any]) -> list[str]:
        data = m.get("data") or {}
        out = [f"p:{m['iin']}"] if m.get("iin") else [f"s:{m.get('phone')}"]
        out += [f"p:{data[k]}" for k in ("mother_iin", "father_iin") if data.get(k)]
        out += [f"f:{data['family_id']}"] if data.get("family_id") else []
        if m.get("iin") in family_of:
            out.append(f"f:{family_of[m['iin']]}")
        return out

    for m in block:
        first, *rest = nodes(m)
        for other in rest:
            parent[find(other)] = find(first)
    return [hash(find(nodes(m)[0])) for m in block]


def _interleaved(msgs: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Each day's households interleaved at random, each keeping its own order."""
    out: list[dict[str, Any]] = []
    family_of: dict[str, str] = {}
    for block in _days(msgs):
        groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for key, m in zip(_households(block, family_of), block):
            groups[key].append(m)
        queues = [list(reversed(g)) for g in groups.values()]
        while queues:
            q = rng.choice(queues)
            out.append(q.pop())
            if not q:
                queues.remove(q)
        for m in block:
            fid = (m.get("data") or {}).get("family_id")
            if fid and m.get("iin"):
                family_of[m["iin"]] = fid
    return out


def _run(msgs: list[dict[str, Any]]) -> Pipeline:
    return Pipeline().feed_lines(orjson.dumps(m) for m in msgs).finish()


def _outputs(p: Pipeline) -> dict[str, set[tuple[Any, ...]]]:
    return {
        "notifications": {(n["notification_id"], n["kind"], n["code"], n["iin"], n["amount_kzt"], n["issued_on"])
                          for n in p.notifications},
        "assignments": {(a["assignment_id"], a["kind"], a["code"], a["iin"], a["amount_kzt"], a["start_month"],
                         a["end_month"], a.get("late")) for a in p.assignments},
    }


@pytest.fixture(scope="module")
def histories() -> dict[int, list[dict[str, Any]]]:
    return {seed: _history(seed) for seed in (3, 8)}


def _differences(msgs: list[dict[str, Any]], reorder: Any, seed: int) -> list[str]:
    reference = _outputs(_run(msgs))
    assert len(reference["notifications"]) > 100 and reference["assignments"], "the history should grant rights"
    found = []
    for attempt in range(3):
        got = _outputs(_run(reorder(msgs, random.Random(seed * 100 + attempt))))
        for kind in ("notifications", "assignments"):
            extra, missing = sorted(got[kind] - reference[kind]), sorted(reference[kind] - got[kind])
            if extra or missing:
                found.append(f"{kind} after reordering {attempt}: extra {extra[:4]}, missing {missing[:4]}")
    return found


@pytest.mark.parametrize("seed", [3, 8])
def test_a_households_interleaved_in_any_order_give_the_same_outputs(
        histories: dict[int, list[dict[str, Any]]], seed: int) -> None:
    assert _differences(histories[seed], _interleaved, seed) == []


@pytest.mark.parametrize("seed", [3, 8])
def test_a_any_same_day_order_gives_the_same_outputs(histories: dict[int, list[dict[str, Any]]], seed: int) -> None:
    assert _differences(histories[seed], _shuffled, seed) == []


class _TrueState:
    """``rules.conditions.View`` for one recipient over the stages' own final cards."""

    def __init__(self, p: Pipeline, iin: str, on: int) -> None:
        self.p, self.iin, self.on = p, iin, on

    def person(self, iin: str) -> Digest | None:
        slot = self.p.persons.get(iin)
        if slot is None or not slot.card.registered:
            return None
        card = slot.card
        family = self.p.families.get(card.family_id) if card.family_id else None
        if family is None or not card.alive:
            return digest_of(card, None, False)
        return digest_of(card, guardians(family, self.on).get(iin), True)

    def family(self, family_id: str | None) -> FamilyView | None:
        family = self.p.families.get(family_id) if family_id else None
        return None if family is None else family_view(family, self.on)


@pytest.mark.parametrize("seed", [3, 8])
def test_b_no_running_assignment_outlives_its_condition(histories: dict[int, list[dict[str, Any]]],
                                                         seed: int) -> None:
    p = _run(histories[seed])
    params = load_params()
    last = max(dates.day(m["occurred_on"]) for m in histories[seed] if m["type"] == "day")
    month = dates.month_of(last)
    by_offer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in p.assignments:
        by_offer[a["notification_id"]].append(a)
        end = a["end_month"]
        assert end is None or end >= a["start_month"], f"ends before it starts: {a}"
    running = 0
    for nid, records in by_offer.items():
        final = records[-1]
        if final["period"] != "monthly" or final["kind"] == "close":
            continue
        if final["end_month"] is not None and dates.parse_month(final["end_month"]) < month:
            continue  # over by itself
        ledger = p.ledgers.get(final["iin"])
        right = None if ledger is None else ledger.rights.get(nid)
        assert right is not None and not right.ended, f"a running assignment the ledger no longer keeps: {final}"
        v = verdict(right, _TrueState(p, final["iin"], last), last, params)
        assert v.holds, f"{final['code']} for {final['iin']} runs on {dates.iso(last)} but: {v.reason}"
        running += 1
    assert running > 5, "the history should leave benefits running"
