"""The run summary: counts by code and kind, dead letters by reason, and the input accounted for."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

__all__ = ["Summary", "summarize_files", "summarize_records", "format_summary", "accounted_now"]


def accounted_now() -> dict[str, float]:
    """This process's ``familycard_messages_accounted`` counters, by outcome, and what is ``held``
    in state now (``familycard_messages_held``: facts and replies waiting within their bound)."""
    from prometheus_client import REGISTRY

    out = {o: REGISTRY.get_sample_value("familycard_messages_accounted_total", {"outcome": o}) or 0.0
           for o in ("processed", "deduplicated", "dead_lettered")}
    out["held"] = sum(REGISTRY.get_sample_value("familycard_messages_held", {"kind": k}) or 0.0
                      for k in ("facts", "replies"))
    return out


FUNNEL_STEPS = ("offered", "reminded", "consented", "refused", "lapsed", "withdrawn", "changed", "closed")


@dataclass
class Summary:
    notifications: Counter[tuple[str, str]] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    funnel: Counter[tuple[str, str]] = field(default_factory=Counter)
    assignments: Counter[str] = field(default_factory=Counter)
    assignment_kinds: Counter[str] = field(default_factory=Counter)  # start / change / close (+ " late")
    input_messages: int = 0
    seconds: float = 0.0
    accounted: dict[str, float] | None = None  # processed / deduplicated / dead_lettered (one process)

    @property
    def notification_total(self) -> int:
        return sum(self.notifications.values())


def summarize_records(notifications: Iterable[bytes], dead_letters: Iterable[bytes],
                      outcomes: Iterable[bytes] = (), assignments: Iterable[bytes] = ()) -> Summary:
    s = Summary()
    for line in notifications:
        rec = orjson.loads(line)
        s.notifications[(rec["code"], rec["kind"])] += 1
    for line in dead_letters:
        s.dead_letters[orjson.loads(line)["error"]["code"]] += 1
    for line in outcomes:
        rec = orjson.loads(line)
        s.funnel[(rec["code"], rec["outcome"])] += 1
    for line in assignments:
        rec = orjson.loads(line)
        s.assignments[rec["code"]] += 1
        s.assignment_kinds[rec.get("kind", "start") + (" late" if rec.get("late") else "")] += 1
    return s


def _lines(path: Path) -> Iterable[bytes]:
    if not path.exists():
        return []
    with open(path, "rb") as fh:
        return [ln for ln in fh.read().splitlines() if ln.strip()]


def summarize_files(out_dir: Path) -> Summary:
    return summarize_records(_lines(out_dir / "notifications.jsonl"), _lines(out_dir / "dead-letters.jsonl"),
                             _lines(out_dir / "outcomes.jsonl"), _lines(out_dir / "assignments.jsonl"))


def format_summary(s: Summary) -> str:
    rows = [f"{'code':<30} {'kind':<11} {'count':>8}", "-" * 51]
    for (code, kind), n in sorted(s.notifications.items()):
        rows.append(f"{code:<30} {kind:<11} {n:>8}")
    rows.append(f"{'notifications total':<42} {s.notification_total:>8}")
    rows.append("")
    rows.append(f"{'dead letters by code':<42} {'count':>8}")
    rows.append("-" * 51)
    for code, n in sorted(s.dead_letters.items()):
        rows.append(f"{code:<42} {n:>8}")
    rows.append(f"{'dead letters total':<42} {sum(s.dead_letters.values()):>8}")
    if s.funnel:
        rows.append("")
        rows.append(f"{'offer funnel':<30}" + "".join(f"{step:>10}" for step in FUNNEL_STEPS))
        rows.append("-" * (30 + 10 * len(FUNNEL_STEPS)))
        codes = sorted({code for code, _ in s.funnel})
        for code in [*codes, "total"]:
            counts = [sum(n for (c, o), n in s.funnel.items() if o == step and (code == "total" or c == code))
                      for step in FUNNEL_STEPS]
            rows.append(f"{code:<30}" + "".join(f"{n:>10}" for n in counts))
        offered = sum(n for (_, o), n in s.funnel.items() if o == "offered")
        consented = sum(n for (_, o), n in s.funnel.items() if o == "consented")
        if offered:
            rows.append(f"take-up {consented / offered:.1%} of {offered} offers; "
                        f"assignments written {sum(s.assignments.values())}")
    if s.assignment_kinds:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(s.assignment_kinds.items()))
        rows.append(f"assignment records by kind: {kinds}")
    if s.accounted is not None and s.input_messages:
        p, d, x, h = (int(s.accounted.get(k, 0)) for k in ("processed", "deduplicated", "dead_lettered", "held"))
        left = s.input_messages - p - d - x - h
        verdict = "adds up" if left == 0 else f"MISMATCH: {left} unaccounted"
        rows.append("")
        rows.append(f"accounting: {s.input_messages} input = {p} processed + {d} deduplicated + {x} dead-lettered"
                    + (f" + {h} held" if h else "") + f" ({verdict})")
    if s.input_messages:
        rows.append("")
        rate = s.input_messages / s.seconds if s.seconds else 0.0
        rows.append(f"input messages {s.input_messages}, wall time {s.seconds:.1f} s, {rate:,.0f} messages/s")
    return "\n".join(rows)
