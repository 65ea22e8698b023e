"""Issue 13, observations 2, 5, 6 and 7, over a real broker and as a file replay of the same messages.

One history, produced once, read as a Kafka backlog by the real flow and replayed from a file by
the real flow (``familycard run --input``'s ``_file_flow``): each test asserts what both decided,
and that they decided the same. A second test shuffles a generated population's deliveries
across partitions (any interleaving the contract allows) and compares every output.

- 2: a ``contact_changed`` dated 2062 is quarantined (``future_date``): never applied, the real
  change that follows it wins, the watermark never jumps.
- 5: live equals replay: a June contribution recorded after the unemployment registration does
  not count for it in either; a birth delivered after a later tick is offered as of the day it
  was read, and its on-time consent assigns.
- 6: days with no ``day`` tick are made up: the reminder and the lapse still come, on their days.
- 7: a fact about a person nobody registered is dead-lettered after ``late_record_days`` at a
  month's first tick, not held forever; an invalid ``day`` message is one dead letter, not two;
  the accounting line holds.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from bytewax.testing import run_main
from prometheus_client import REGISTRY

from familycard.cli import OUTPUT_FILES, _file_flow
from familycard.generator import generate
from familycard.summary import accounted_now
from flows import metrics
from flows.kafka.admin import ensure_topics, produce_all, read_topic
from flows.kafka.flow import kafka_flow
from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS, topic_of
from rules.decisions import notification_id
from schemas.validation import validate_output
from tests.history import contributions, days, ev, person, reg, reply

pytestmark = pytest.mark.kafka

# 2: the typo
TYPO_MUM, TYPO_BABY = person("1990-04-04", "female"), person("2026-03-08", "male")
REAL_PHONE, TYPO_PHONE = "+77015550001", "+77019990062"
# 5: the June contribution recorded after the registration; the birth delivered after a later tick
WORKER = person("1984-06-06", "male")
LATE_MUM, LATE_BABY = person("1992-05-05", "female"), person("2026-03-12", "female")
# 6: the days the scheduler skipped
GAP_MUM, GAP_BABY = person("1993-07-07", "female"), person("2026-04-02", "male")
# 7: a person nobody registered
NOBODY = person("1970-01-15", "male")

BAD_DAY = {"event_id": "day-bad", "type": "day", "occurred_on": "2026-13-45"}
FUTURE_DAY = {"event_id": "day-2062-03-20", "type": "day", "occurred_on": "2062-03-20"}
SKIPPED = {f"2026-04-{d:02d}" for d in range(3, 8)}


def _offer(iin: str, code: str, occasion: str) -> str:
    return notification_id(iin, code, occasion)


def history() -> list[dict[str, Any]]:
    """The registries' publications, in publication order (by recorded day, each day's tick last)."""
    load = [reg(TYPO_MUM, "1990-04-04", "female", "F-T", phone="+77015550000", iban="KZ000000000000000010"),
            reg(WORKER, "1984-06-06", "male", "F-W"),
            reg(LATE_MUM, "1992-05-05", "female", "F-L"),
            reg(GAP_MUM, "1993-07-07", "female", "F-G")]
    load += [c for c in contributions(WORKER, "2024-06", "2026-02")]
    by_day: dict[str, list[dict[str, Any]]] = {}

    def on(d: str, *msgs: dict[str, Any]) -> None:
        by_day.setdefault(d, []).extend(msgs)

    typo_offer = _offer(TYPO_MUM, "birth_benefit", f"birth:{TYPO_BABY}")
    on("2026-03-03", ev("contact_changed", TYPO_MUM, "2062-03-03", {"phone": TYPO_PHONE, "iban": "KZ000000000000000062"},
                        recorded="2062-03-03T10:00:00+05:00", eid="typo"))
    on("2026-03-05", ev("contact_changed", TYPO_MUM, "2026-03-05", {"phone": REAL_PHONE, "iban": "KZ000000000000000011"}))
    on("2026-03-08", ev("birth", TYPO_BABY, "2026-03-08", {"mother_iin": TYPO_MUM, "family_id": "F-T", "sex": "male"}))
    on("2026-03-09", reply({"phone": TYPO_PHONE, "notification_id": typo_offer}, "1", "2026-03-09T11:00:00+05:00"),
       reply({"phone": REAL_PHONE, "notification_id": typo_offer}, "1", "2026-03-09"))

    for c in contributions(WORKER, "2026-03", "2026-05"):
        on(c["recorded_at"][:10], c)
    on("2026-06-30", ev("dismissal", WORKER, "2026-06-30", {"employer_bin": "123456789012", "reason": "staff_reduction"}))
    on("2026-07-09", ev("unemployed_registered", WORKER, "2026-07-09"))
    on("2026-07-10", ev("contribution", WORKER, "2026-06-30", {"month": "2026-06", "income_kzt": 400_000,
                                                              "social_contribution_kzt": 20_000},
                        recorded="2026-07-10"))

    # published on 03-16, after a record of that day: behind the 03-15 tick in its partition
    late_birth = ev("birth", LATE_BABY, "2026-03-12", {"mother_iin": LATE_MUM, "family_id": "F-L", "sex": "female"},
                    recorded="2026-03-12")
    on("2026-03-16", ev("death", person("1930-01-01", "male"), "2026-03-16", eid="civil-0316"), late_birth,
       reply({"phone": "+7701" + LATE_MUM[-7:], "notification_id": _offer(LATE_MUM, "birth_benefit",
                                                                          f"birth:{LATE_BABY}")}, "1", "2026-03-17"))

    on("2026-04-02", ev("birth", GAP_BABY, "2026-04-02", {"mother_iin": GAP_MUM, "family_id": "F-G", "sex": "male"}))
    # a reply for an offer nobody sent, received on a day with no tick: its check day is made up
    on("2026-04-04", {"event_id": "sms-nowhere", "type": "sms_reply", "phone": "+77017770000",
                      "in_reply_to": "n-00000000000000000000", "text": "1", "received_at": "2026-04-04T12:00:00+05:00"})

    on("2026-03-10", ev("disability_ruling", NOBODY, "2026-03-10", {"group": "II", "cause": "general_illness",
                                                                     "loss_of_working_capacity_pct": 40}))
    on("2026-03-11", BAD_DAY)
    on("2026-03-20", FUTURE_DAY)

    out = list(load)
    for tick in days("2026-03-01", "2026-07-20"):
        d = tick["occurred_on"]
        out += by_day.pop(d, [])
        if d not in SKIPPED:
            out.append(tick)
    assert not by_day
    return out


def _key(m: dict[str, Any]) -> bytes | None:
    k = m.get("iin") or m.get("phone")
    return k.encode() if isinstance(k, str) else None


def _kafka(bootstrap: str, prefix: str, messages: list[dict[str, Any]], partitions: int = 1,
           shuffle: random.Random | None = None) -> dict[str, list[dict[str, Any]]]:
    inputs = tuple(prefix + t for t in INPUT_TOPICS)
    outputs = {k: prefix + "out." + v for k, v in OUTPUT_TOPICS.items()}
    ensure_topics(bootstrap, list(inputs), partitions)
    ensure_topics(bootstrap, list(outputs.values()))
    produced = [(prefix + topic_of(m), _key(m), orjson.dumps(m)) for m in messages]
    if shuffle is not None:
        produced = _interleave(produced, partitions, shuffle)
    produce_all(bootstrap, produced)
    run_main(kafka_flow(bootstrap, stop_at_end=True, input_topics=inputs, output_topics=outputs),
             epoch_interval=dt.timedelta(0))
    return {k: [orjson.loads(v) for _, v in read_topic(bootstrap, t)] for k, t in outputs.items()}


def _interleave(produced: list[tuple[str, bytes | None, bytes]], partitions: int,
                rng: random.Random) -> list[tuple[str, bytes | None, bytes]]:
    """The same messages in a random order that keeps each topic's own (publication) order: any
    delivery a broker could make of several registries publishing at their own pace. Across
    topics anything goes, so a backlog may hold one registry's whole year before another's."""
    lanes: dict[str, list[tuple[str, bytes | None, bytes]]] = {}
    for m in produced:
        lanes.setdefault(m[0], []).append(m)
    queues = [list(reversed(v)) for v in lanes.values()]
    out = []
    while queues:
        q = rng.choice(queues)
        for _ in range(rng.randrange(1, 50)):  # runs of one registry, of random length
            if not q:
                break
            out.append(q.pop())
        if not q:
            queues.remove(q)
    return out


def _file(tmp: Path, messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    path = tmp / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in messages))
    run_main(_file_flow(path, tmp / "out"), epoch_interval=dt.timedelta(0))
    names = dict(zip(("notifications", "assignments", "dead_letters", "outcomes"), OUTPUT_FILES, strict=True))
    return {k: [orjson.loads(line) for line in ((tmp / "out" / f).read_bytes().splitlines()
                                                 if (tmp / "out" / f).exists() else [])] for k, f in names.items()}


_counts: dict[str, Any] = {}


@pytest.fixture(scope="module")
def runs(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[dict]]]:
    msgs = history()
    metrics.start(0)  # a fresh event-time watermark for this process
    before = accounted_now()
    filled = REGISTRY.get_sample_value("familycard_day_ticks_filled_total") or 0.0
    kafka = _kafka(kafka_bootstrap, f"time{random.randrange(10**6)}.", msgs)
    after = accounted_now()
    _counts["accounted"] = {k: after[k] - before[k] for k in after}
    _counts["filled"] = (REGISTRY.get_sample_value("familycard_day_ticks_filled_total") or 0.0) - filled
    _counts["watermark"] = REGISTRY.get_sample_value("familycard_event_time_watermark_timestamp_seconds",
                                                     {"process": "0"})
    _counts["input"] = len(msgs)
    return {"kafka": kafka, "file": _file(tmp_path_factory.mktemp("time"), msgs)}


def _canon(records: list[dict[str, Any]]) -> list[bytes]:
    return sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in records)


def _about(records: list[dict[str, Any]], iin: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("iin") == iin]


def test_kafka_backlog_and_file_replay_decide_the_same(runs: dict[str, dict[str, list[dict]]]) -> None:
    for name in ("notifications", "assignments", "outcomes"):
        assert _canon(runs["kafka"][name]) == _canon(runs["file"][name]), name
    strip = [{k: v for k, v in d.items() if k not in ("partition", "offset", "source_topic")}
             for d in runs["kafka"]["dead_letters"]]
    assert _canon(strip) == _canon([{k: v for k, v in d.items() if k not in ("partition", "offset", "source_topic")}
                                    for d in runs["file"]["dead_letters"]])
    for out in runs.values():
        assert all(validate_output("notification", n) is None for n in out["notifications"])
        assert all(validate_output("assignment", a) is None for a in out["assignments"])
        assert all(validate_output("dead_letter", d) is None for d in out["dead_letters"])


@pytest.mark.parametrize("side", ["kafka", "file"])
def test_2_a_record_dated_2062_is_quarantined_and_the_real_change_wins(
        runs: dict[str, dict[str, list[dict]]], side: str) -> None:
    out = runs[side]
    typo = [d for d in out["dead_letters"] if orjson.loads(d["received"])["event_id"] == "typo"]
    assert [d["error"]["code"] for d in typo] == ["future_date"]
    assert "2062-03-03" in typo[0]["error"]["message"] and typo[0]["error"]["path"] == "recorded_at"
    offers = [n for n in _about(out["notifications"], TYPO_MUM) if n["kind"] == "offer"]
    assert offers and {n["phone"] for n in offers} == {REAL_PHONE}
    birth = [a for a in _about(out["assignments"], TYPO_MUM) if a["code"] == "birth_benefit"]
    assert [(a["kind"], a["iban"]) for a in birth] == [("start", "KZ000000000000000011")]
    rejected = [d for d in out["dead_letters"] if d["error"]["code"] == "rejected_reply"
                and orjson.loads(d["received"])["phone"] == TYPO_PHONE]
    assert len(rejected) == 1 and "phone" in rejected[0]["error"]["message"]


def test_2_the_watermark_never_jumps_to_the_typo() -> None:
    assert _counts["watermark"] is not None
    assert dt.datetime.fromtimestamp(_counts["watermark"], dt.UTC).date() <= dt.date(2026, 7, 21)


@pytest.mark.parametrize("side", ["kafka", "file"])
def test_5_a_contribution_recorded_after_the_registration_does_not_count_for_it(
        runs: dict[str, dict[str, list[dict]]], side: str) -> None:
    job = [n for n in _about(runs[side]["notifications"], WORKER) if n["code"] == "job_loss" and n["kind"] == "offer"]
    assert len(job) == 1
    # 2024-07 .. 2026-05 are the 23 months of the 24 before July known on 07-09; June came a day later
    assert any(r.startswith("23 contribution months in 2024-07..2026-06") for r in job[0]["reasons"]), \
        job[0]["reasons"]


@pytest.mark.parametrize("side", ["kafka", "file"])
def test_5_a_birth_read_after_a_later_tick_is_offered_as_of_that_day_and_its_consent_counts(
        runs: dict[str, dict[str, list[dict]]], side: str) -> None:
    out = runs[side]
    offer = next(n for n in _about(out["notifications"], LATE_MUM) if n["kind"] == "offer"
                 and n["code"] == "birth_benefit")
    assert (offer["occurred_on"], offer["issued_on"], offer["reply_by"]) == ("2026-03-12", "2026-03-16", "2026-03-19")
    assert [a["kind"] for a in _about(out["assignments"], LATE_MUM) if a["code"] == "birth_benefit"] == ["start"]


@pytest.mark.parametrize("side", ["kafka", "file"])
def test_6_skipped_days_are_made_up_so_the_reminder_and_the_lapse_still_come(
        runs: dict[str, dict[str, list[dict]]], side: str) -> None:
    nid = _offer(GAP_MUM, "birth_benefit", f"birth:{GAP_BABY}")
    steps = [(o["outcome"], o["on"]) for o in runs[side]["outcomes"] if o["notification_id"] == nid]
    assert steps == [("offered", "2026-04-02"), ("reminded", "2026-04-04"), ("lapsed", "2026-04-06")]


@pytest.mark.parametrize("side", ["kafka", "file"])
def test_6_a_reply_held_in_skipped_days_is_checked_on_a_made_up_day(
        runs: dict[str, dict[str, list[dict]]], side: str) -> None:
    nowhere = [d for d in runs[side]["dead_letters"] if orjson.loads(d["received"]).get("event_id") == "sms-nowhere"]
    assert [d["error"]["message"] for d in nowhere] == ["no such offer: in_reply_to names no offer sent"]


def test_6_the_made_up_days_are_counted() -> None:
    assert _counts["filled"] == len(SKIPPED)


@pytest.mark.parametrize("side", ["kafka", "file"])
def test_7_a_fact_about_nobody_is_dead_lettered_within_its_bound_and_a_bad_tick_once(
        runs: dict[str, dict[str, list[dict]]], side: str) -> None:
    dead = runs[side]["dead_letters"]
    nobody = [d for d in dead if orjson.loads(d["received"]).get("iin") == NOBODY]
    assert [d["error"]["code"] for d in nobody] == ["unknown_person"]
    assert "within 30 days" in nobody[0]["error"]["message"], "the monthly sweep, not the end of the input"
    bad = [d for d in dead if orjson.loads(d["received"]).get("event_id") == "day-bad"]
    assert len(bad) == 1 and bad[0]["error"]["code"] == "schema"
    future = [d for d in dead if orjson.loads(d["received"]).get("event_id") == FUTURE_DAY["event_id"]]
    assert [d["error"]["code"] for d in future] == ["future_date"], "a tick typed 2062 is one dead letter"


def test_7_the_accounting_line_holds() -> None:
    got = _counts["accounted"]
    assert got["processed"] + got["deduplicated"] + got["dead_lettered"] + got["held"] == _counts["input"]
    assert got["held"] == 0  # the input ended: nothing is left waiting


def test_a_shuffled_delivery_over_partitions_gives_the_file_replays_outputs(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    """A generated population, delivered over 3 partitions a topic in a random interleaving (each
    key's messages in their order, as a partition keeps them): the same outputs as its file."""
    msgs = list(generate(120, dt.date(2026, 1, 1), 75, seed=5))
    kafka = _kafka(kafka_bootstrap, f"shuffle{random.randrange(10**6)}.", msgs, partitions=3,
                   shuffle=random.Random(13))
    file = _file(tmp_path, msgs)
    assert Counter(n["kind"] for n in file["notifications"])["offer"] > 10
    for name in ("notifications", "assignments", "outcomes"):
        a, b = set(_canon(kafka[name])), set(_canon(file[name]))
        assert a == b and len(kafka[name]) == len(file[name]), (name, sorted(a - b)[:3], sorted(b - a)[:3])
