"""Property tests: random event sequences through the real flow.

Whatever the registries send, in whatever order, with duplicates and replies mixed in:
the flow never crashes, never offers one occasion twice, every offer has a positive
amount and a recipient, and every output record matches its schema.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from familycard.cli import main
from schemas.validation import validate_output
from tests.factories import iin_for

pytestmark = pytest.mark.slow

PEOPLE = [  # (iin, birth, sex, family)
    (iin_for("1985-03-04", "female"), "1985-03-04", "female", "F-1"),
    (iin_for("1983-08-09", "male"), "1983-08-09", "male", "F-1"),
    (iin_for("2012-01-02", "female"), "2012-01-02", "female", "F-1"),
    (iin_for("2016-02-29", "male"), "2016-02-29", "male", "F-1"),
    (iin_for("2020-05-06", "female"), "2020-05-06", "female", "F-1"),
    (iin_for("1963-04-10", "male"), "1963-04-10", "male", "F-2"),
    (iin_for("1965-01-10", "female"), "1965-01-10", "female", "F-2"),
    (iin_for("1999-12-31", "female"), "1999-12-31", "female", "F-3"),
]
MUM = PEOPLE[0][0]
START = dt.date(2026, 3, 1)

DATA: dict[str, Any] = {
    "family_changed": st.builds(lambda f: {"family_id": f}, st.sampled_from(["F-1", "F-2", "F-3", "F-4"])),
    "death": st.just({}),
    "employment_started": st.just({"employer_bin": "123456789012", "monthly_wage_kzt": 300000}),
    "dismissal": st.builds(lambda r: {"employer_bin": "123456789012", "reason": r},
                           st.sampled_from(["staff_reduction", "own_initiative", "other"])),
    "contribution": st.builds(lambda m, i: {"month": m, "income_kzt": i, "social_contribution_kzt": i // 20},
                              st.sampled_from(["2025-10", "2025-12", "2026-01", "2026-02"]),
                              st.integers(0, 2_000_000)),
    "disability_ruling": st.builds(
        lambda g, c, p, v: {"group": g, "cause": c, "loss_of_working_capacity_pct": p,
                            **({"valid_until": v} if v else {})},
        st.sampled_from(["I", "II", "III", "child"]),
        st.sampled_from(["general_illness", "work_injury", "since_childhood", "other"]),
        st.integers(0, 100), st.sampled_from([None, "2026-03-20", "2027-01-31"])),
    "disability_revoked": st.just({}),
    "award": st.builds(lambda a: {"award": a}, st.sampled_from(["kumis_alka", "altyn_alka", "mother_heroine"])),
    "kandas_status": st.builds(lambda v: {"valid_until": v}, st.sampled_from(["2026-04-05", "2026-06-30"])),
    "pension_assigned": st.builds(lambda a: {"monthly_amount_kzt": a}, st.integers(0, 300000)),
    "unemployed_registered": st.just({}),
    "unemployed_deregistered": st.just({}),
}


@st.composite
def life_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = []
    for i, (iin, birth, sex, fam) in enumerate(PEOPLE):
        data = {"birth_date": birth, "sex": sex, "family_id": fam, "phone": f"+7701000000{i}"}
        if fam == "F-1" and birth > "2000":
            data.update(mother_iin=PEOPLE[0][0], father_iin=PEOPLE[1][0])
        msgs.append({"event_id": f"p{i}", "type": "person_registered", "iin": iin, "occurred_on": "2026-02-28",
                     "recorded_at": "2026-02-28T08:00:00+05:00", "data": data})
    n = draw(st.integers(5, 40))
    for j in range(n):
        kind = draw(st.sampled_from([*DATA, "birth", "day", "reply"]))
        day = START + dt.timedelta(days=draw(st.integers(0, 30)))
        delay = draw(st.sampled_from([0, 0, 1, 3, 45]))
        if kind == "day":
            msgs.append({"event_id": f"day-{day}", "type": "day", "occurred_on": str(day)})
            continue
        if kind == "reply":
            msgs.append({"event_id": f"r{j}", "type": "sms_reply", "phone": f"+7701000000{draw(st.integers(0, 7))}",
                         "in_reply_to": draw(st.sampled_from(["n-0", "n-1"])), "text": draw(st.sampled_from(["1", "2", "?"])),
                         "received_at": f"{day}T12:00:00+05:00"})
            continue
        recorded = f"{day + dt.timedelta(days=delay)}T10:00:00+05:00"
        if kind == "birth":
            child = iin_for(str(day), "female")
            msgs.append({"event_id": f"b{j}", "type": "birth", "iin": child, "occurred_on": str(day),
                         "recorded_at": recorded, "data": {"mother_iin": MUM, "family_id": "F-1", "sex": "female",
                                                           "multiple_birth": draw(st.integers(1, 2))}})
            continue
        who = draw(st.sampled_from(PEOPLE))[0]
        msgs.append({"event_id": f"e{j}", "type": kind, "iin": who, "occurred_on": str(day),
                     "recorded_at": recorded, "data": draw(DATA[kind])})
    if draw(st.booleans()) and len(msgs) > 9:  # a re-delivery
        msgs.append(msgs[draw(st.integers(8, len(msgs) - 1))])
    return msgs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(msgs=life_events(), simulate=st.booleans())
def test_random_sequences(tmp_path_factory: pytest.TempPathFactory, msgs: list[dict[str, Any]],
                          simulate: bool) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    src = tmp / "in.jsonl"
    src.write_bytes(b"\n".join(orjson.dumps(m) for m in msgs) + b"\n")
    out = tmp / "out"
    argv = ["run", "--input", str(src), "--output", str(out)]
    assert main([*argv, "--simulate-citizens" if simulate else "--no-simulate-citizens"]) == 0
    notes = _records(out / "notifications.jsonl")
    ids = [n["notification_id"] for n in notes]
    assert len(ids) == len(set(ids)), "one occasion, one notification"
    for n in notes:
        assert validate_output("notification", n) is None, n
        if n["kind"] == "offer":
            assert n["amount_kzt"] > 0 and n["iin"], n
    assignments = _records(out / "assignments.jsonl")
    assert len({a["assignment_id"] for a in assignments}) == len(assignments)
    for a in assignments:
        assert validate_output("assignment", a) is None, a
    for d in _records(out / "dead-letters.jsonl"):
        assert validate_output("dead_letter", d) is None, d


def _records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()] if path.exists() else []
