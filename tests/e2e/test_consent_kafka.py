"""The consent loop over a real broker: replies in ``sms.replies``, assignments out."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import orjson
import pytest
from bytewax.testing import run_main

from flows.kafka.admin import ensure_topics, produce_all, read_topic
from flows.kafka.flow import kafka_flow
from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS, topic_of
from rules.decisions import notification_id
from schemas.validation import validate_output
from tests.factories import iin_for

pytestmark = pytest.mark.kafka

MUM, BABY = iin_for("1991-02-03", "female"), iin_for("2026-03-01", "male")
WORKER = iin_for("1980-05-06", "male")
HEROINE = iin_for("1960-07-08", "female")
MUM_PHONE, WORKER_PHONE, HEROINE_PHONE = "+77010000001", "+77010000002", "+77010000003"

BIRTH = notification_id(MUM, "birth_benefit", f"birth:{BABY}")
CHILDCARE = notification_id(MUM, "childcare_benefit", f"childcare:{BABY}")
DISABILITY = notification_id(WORKER, "disability_benefit", f"disability:{WORKER}:2026-03-10")
AWARD = notification_id(HEROINE, "mother_award_benefit", f"award:{HEROINE}")


def _life(eid: str, type_: str, iin: str, on: str, data: dict[str, Any], recorded: str | None = None) -> dict:
    return {"event_id": eid, "type": type_, "iin": iin, "occurred_on": on,
            "recorded_at": f"{recorded or on}T10:00:00+05:00", "data": data}


def _reply(eid: str, phone: str, nid: str, text: str, on: str) -> dict:
    return {"event_id": eid, "type": "sms_reply", "phone": phone, "in_reply_to": nid, "text": text,
            "received_at": f"{on}T12:00:00+05:00"}


def messages() -> list[dict]:
    load = "2025-12-31"
    msgs = [
        _life("p1", "person_registered", MUM, load, {"birth_date": "1991-02-03", "sex": "female", "family_id": "F-A",
                                                     "phone": MUM_PHONE, "iban": "KZ000000000000000001"}),
        _life("p2", "person_registered", WORKER, load, {"birth_date": "1980-05-06", "sex": "male",
                                                        "family_id": "F-B", "phone": WORKER_PHONE}),
        _life("p3", "person_registered", HEROINE, load, {"birth_date": "1960-07-08", "sex": "female",
                                                         "family_id": "F-C", "phone": HEROINE_PHONE}),
        _life("c1", "birth", BABY, "2026-03-01", {"mother_iin": MUM, "family_id": "F-A", "sex": "male"},
              recorded="2026-03-02"),
        _life("s1", "award", HEROINE, "2026-03-05", {"award": "altyn_alka"}),
        _life("d1", "disability_ruling", WORKER, "2026-03-10", {"group": "II", "cause": "general_illness",
                                                                "loss_of_working_capacity_pct": 10}),
        _life("c2", "death", HEROINE, "2026-03-20", {}),
        # the citizens' answers
        _reply("r1", MUM_PHONE, BIRTH, " Иә ", "2026-03-03"),            # consent
        _reply("r2", MUM_PHONE, CHILDCARE, "нет", "2026-03-03"),         # refusal
        _reply("r3", HEROINE_PHONE, AWARD, "1", "2026-03-06"),           # consent, then she dies
        # forged and broken replies: each only a dead letter
        _reply("f1", "+77019999999", BIRTH, "1", "2026-03-03"),          # another phone
        _reply("r1", MUM_PHONE, BIRTH, "1", "2026-03-04"),               # the same reply id again
        _reply("f2", MUM_PHONE, BIRTH, "да", "2026-03-04"),              # a second answer
        _reply("f3", WORKER_PHONE, DISABILITY, "yes", "2026-03-20"),     # after reply_by 2026-03-13
        _reply("f4", WORKER_PHONE, BIRTH, "1", "2026-03-04"),            # another family's offer
        _reply("f5", MUM_PHONE, CHILDCARE, "maybe later", "2026-03-04"),  # gibberish (and answered)
        _reply("f6", MUM_PHONE, "n-00000000000000000000", "1", "2026-03-04"),  # no such offer
    ]
    start = dt.date(2026, 2, 28)
    msgs += [{"event_id": f"day-{start + dt.timedelta(days=i)}", "type": "day",
              "occurred_on": str(start + dt.timedelta(days=i))} for i in range(30)]
    return msgs


def run(bootstrap: str, prefix: str, out_prefix: str) -> dict[str, list[dict]]:
    inputs = tuple(prefix + t for t in INPUT_TOPICS)
    outputs = {k: out_prefix + v for k, v in OUTPUT_TOPICS.items()}
    ensure_topics(bootstrap, [*inputs, *outputs.values()])
    run_main(kafka_flow(bootstrap, stop_at_end=True, input_topics=inputs, output_topics=outputs),
             epoch_interval=dt.timedelta(0))
    return {k: [orjson.loads(v) for _, v in read_topic(bootstrap, t)] for k, t in outputs.items()}


@pytest.fixture(scope="module")
def produced(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    prefix = f"consent{id(tmp_path_factory) % 100000}."
    ensure_topics(kafka_bootstrap, [prefix + t for t in INPUT_TOPICS])
    produce_all(kafka_bootstrap, [(prefix + topic_of(m), (m.get("iin") or m.get("phone") or "").encode(),
                                   orjson.dumps(m)) for m in messages()])
    return kafka_bootstrap, prefix


@pytest.fixture(scope="module")
def outputs(produced: tuple[str, str]) -> dict[str, list[dict]]:
    bootstrap, prefix = produced
    return run(bootstrap, prefix, prefix + "out1.")


def test_consent_writes_an_assignment(outputs: dict[str, list[dict]]) -> None:
    birth = [a for a in outputs["assignments"] if a["notification_id"] == BIRTH]
    assert len(birth) == 1
    a = birth[0]
    assert (a["code"], a["iin"], a["amount_kzt"], a["period"], a["start_month"], a["iban"]) == \
        ("birth_benefit", MUM, 38 * 4325, "one_time", "2026-03", "KZ000000000000000001")
    assert all(validate_output("assignment", x) is None for x in outputs["assignments"])


def test_refusal_is_recorded_and_assigns_nothing(outputs: dict[str, list[dict]]) -> None:
    assert not [a for a in outputs["assignments"] if a["notification_id"] == CHILDCARE]
    steps = [o["outcome"] for o in outputs["outcomes"] if o["notification_id"] == CHILDCARE]
    assert steps == ["offered", "refused"]


def test_silence_gets_one_reminder_then_lapses(outputs: dict[str, list[dict]]) -> None:
    steps = [(o["outcome"], o["on"]) for o in outputs["outcomes"] if o["notification_id"] == DISABILITY]
    assert steps == [("offered", "2026-03-10"), ("reminded", "2026-03-12"), ("lapsed", "2026-03-14")]
    reminders = [n for n in outputs["notifications"] if n["kind"] == "reminder"]
    assert [(n["iin"], n["code"], n["reply_by"]) for n in reminders] == [(WORKER, "disability_benefit", "2026-03-13")]


def test_death_withdraws_a_running_benefit_and_closes_its_assignment(outputs: dict[str, list[dict]]) -> None:
    award = [a for a in outputs["assignments"] if a["notification_id"] == AWARD]
    assert [(a["start_month"], a["end_month"]) for a in award] == [("2026-03", None), ("2026-03", "2026-03")]
    assert len({a["assignment_id"] for a in award}) == 2
    withdrawals = [n for n in outputs["notifications"] if n["kind"] == "withdrawal"]
    assert [(n["iin"], n["code"]) for n in withdrawals] == [(HEROINE, "mother_award_benefit")]


def test_forged_and_broken_replies_only_dead_letter(outputs: dict[str, list[dict]]) -> None:
    rejected = [d for d in outputs["dead_letters"] if d["error"]["code"] == "rejected_reply"]
    by_id = Counter(orjson.loads(d["received"])["event_id"] for d in rejected)
    assert by_id == Counter({"f1": 1, "r1": 1, "f2": 1, "f3": 1, "f4": 1, "f5": 1, "f6": 1})
    reasons = {orjson.loads(d["received"])["event_id"]: d["error"]["message"] for d in rejected}
    assert "phone" in reasons["f1"] and "already processed" in reasons["r1"]
    assert "no longer open (consented)" in reasons["f2"] and "no longer open (lapsed)" in reasons["f3"]
    assert "phone" in reasons["f4"] and "no such offer" in reasons["f6"]
    assert len(outputs["dead_letters"]) == len(rejected)
    # they changed nothing: one assignment per consent, plus the closing one
    assert len(outputs["assignments"]) == 3


def test_replaying_the_same_input_gives_the_same_assignments(produced: tuple[str, str],
                                                              outputs: dict[str, list[dict]]) -> None:
    bootstrap, prefix = produced
    again = run(bootstrap, prefix, prefix + "out2.")
    for name in ("assignments", "notifications", "dead_letters"):
        assert sorted(orjson.dumps(x, option=orjson.OPT_SORT_KEYS) for x in again[name]) == \
            sorted(orjson.dumps(x, option=orjson.OPT_SORT_KEYS) for x in outputs[name]), name


def test_simulate_citizens_answers_offers_from_the_topic(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    from flows.citizens import reply_for
    from flows.kafka.citizens import simulate_citizens

    notes, replies = unique_topic_prefix + "notifications", unique_topic_prefix + "sms.replies"
    ensure_topics(kafka_bootstrap, [notes, replies])
    offers = [{"notification_id": notification_id(f"{i:012d}", "birth_benefit", f"birth:{i}"), "kind": "offer",
               "code": "birth_benefit", "iin": f"{i:012d}", "phone": f"+7701{i:07d}", "issued_on": "2026-03-02",
               "reply_by": "2026-03-05"} for i in range(200)]
    notice = {**offers[0], "notification_id": "n-ff", "kind": "notice"}
    produce_all(kafka_bootstrap, [(notes, o["iin"].encode(), orjson.dumps(o)) for o in [*offers, notice]])
    sent = simulate_citizens(kafka_bootstrap, notes, replies, stop_at_end=True, idle_seconds=0.5)
    got = [orjson.loads(v) for _, v in read_topic(kafka_bootstrap, replies)]
    expected = [r for r in (reply_for(o) for o in offers) if r is not None]
    assert sent == len(got) == len(expected)
    assert sorted(g["event_id"] for g in got) == sorted(e["event_id"] for e in expected)
    assert 0.4 < len(got) / len(offers) < 0.8  # about 60 % answer, 52 % of all consent
    for g in got:  # each answer is a valid sms_reply from the offer's phone, by its reply_by
        from schemas.validation import validate_event

        assert validate_event(g) is None
        assert g["received_at"][:10] <= "2026-03-05"
