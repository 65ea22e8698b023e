"""Issue 13, "Money goes only where it should": the consent loop's integrity over a real broker.

One history holds every scenario (distinct people), in the order the registries and the SMS
gateway would publish it: the population registrations first, then each day's records by
their recorded date (``received_at`` for replies) with that day's ``day`` tick last. It is
produced once to unique-prefixed topics (key = IIN, or phone for a reply), the Kafka flow runs
once over the backlog (``stop_at_end``), and the same messages are replayed in-process as a
file (``tests.inprocess.Pipeline``). Each test asserts one observation on the Kafka outputs
and that the Kafka backlog and the file replay decided the same assignments and notifications
for that scenario's people.

1. A stale bank account: the start record carries the account as of the consent; a new account
   on a running monthly benefit is a ``change`` from the following month; a one-time benefit
   already assigned gets none. A changed phone: only the slot's current phone may answer.
3. A consent outside its window (before ``issued_on``, after ``reply_by``) is rejected; one on
   ``issued_on`` and one on ``reply_by`` are accepted.
4. A consent received after the recipient died (the death recorded later still): the start
   record is followed by a ``close`` with ``late: true``, and a withdrawal.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from bytewax.testing import run_main

from familycard.summary import accounted_now
from flows.kafka.admin import ensure_topics, produce_all, read_topic
from flows.kafka.flow import kafka_flow
from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS, topic_of
from rules.decisions import notification_id
from schemas.validation import validate_output
from tests.factories import iin_for
from tests.history import day, ev, lines, reg
from tests.inprocess import Pipeline

pytestmark = pytest.mark.kafka

BIRTH_KZT = 38 * 4325  # birth_benefit for a first child in 2026 (38 MRP), as in test_consent_kafka.py

# 1a: the account changes between the offers and the consent
STALE, STALE_KID = iin_for("1990-01-11", "female"), iin_for("2026-03-05", "male")
STALE_PHONE, IBAN_A, IBAN_B = "+77010001001", "KZ000000000000001001", "KZ000000000000001002"
# 1b: the account changes on a running benefit
RUNNING, RUNNING_KID = iin_for("1990-02-12", "female"), iin_for("2026-03-05", "female")
RUNNING_PHONE, IBAN_R, IBAN_C = "+77010001002", "KZ000000000000002001", "KZ000000000000002003"
# 1c: the phone changes between the offer and the consent
MOVED, MOVED_KID = iin_for("1990-03-13", "female"), iin_for("2026-03-05", "male")
PHONE_1, PHONE_2 = "+77010001003", "+77010001033"
# 3: replies outside (EARLY_LATE) and at the edges of (ON_ISSUE, ON_DEADLINE) the window
EARLY_LATE, EARLY_LATE_KID = iin_for("1990-04-14", "female"), iin_for("2026-03-10", "male")
ON_ISSUE, ON_ISSUE_KID = iin_for("1990-05-15", "female"), iin_for("2026-03-10", "female")
ON_DEADLINE, ON_DEADLINE_KID = iin_for("1990-06-16", "female"), iin_for("2026-03-10", "male")
EARLY_LATE_PHONE, ON_ISSUE_PHONE, ON_DEADLINE_PHONE = "+77010001004", "+77010001005", "+77010001006"
# 4: she consents on 03-04, but she died on 03-03 (recorded 03-05)
DIED, DIED_KID = iin_for("1990-07-17", "female"), iin_for("2026-03-02", "male")
DIED_PHONE = "+77010001007"


def _birth_id(mum: str, kid: str) -> str:
    return notification_id(mum, "birth_benefit", f"birth:{kid}")


def _childcare_id(mum: str, kid: str) -> str:
    return notification_id(mum, "childcare_benefit", f"childcare:{kid}")


STALE_BIRTH, STALE_CARE = _birth_id(STALE, STALE_KID), _childcare_id(STALE, STALE_KID)
RUNNING_BIRTH, RUNNING_CARE = _birth_id(RUNNING, RUNNING_KID), _childcare_id(RUNNING, RUNNING_KID)
MOVED_BIRTH = _birth_id(MOVED, MOVED_KID)
EARLY_LATE_BIRTH = _birth_id(EARLY_LATE, EARLY_LATE_KID)
ON_ISSUE_BIRTH = _birth_id(ON_ISSUE, ON_ISSUE_KID)
ON_DEADLINE_BIRTH = _birth_id(ON_DEADLINE, ON_DEADLINE_KID)
DIED_BIRTH = _birth_id(DIED, DIED_KID)


def _reply(eid: str, phone: str, nid: str, text: str, at: str) -> dict[str, Any]:
    """An SMS to 1414; ``at`` is a date (noon, Kazakhstan time) or a full instant."""
    if len(at) == 10:
        at = f"{at}T12:00:00+05:00"
    return {"event_id": eid, "type": "sms_reply", "phone": phone, "in_reply_to": nid, "text": text,
            "received_at": at}


def _born(eid: str, kid: str, on: str, mum: str, family: str, sex: str) -> dict[str, Any]:
    return ev("birth", kid, on, {"mother_iin": mum, "family_id": family, "sex": sex}, eid=eid)


def messages() -> list[dict[str, Any]]:
    """The whole history, in publication order: each day's records, then its tick."""
    registrations = [
        reg(STALE, "1990-01-11", "female", "F-STALE", phone=STALE_PHONE, iban=IBAN_A),
        reg(RUNNING, "1990-02-12", "female", "F-RUNNING", phone=RUNNING_PHONE, iban=IBAN_R),
        reg(MOVED, "1990-03-13", "female", "F-MOVED", phone=PHONE_1),
        reg(EARLY_LATE, "1990-04-14", "female", "F-EARLY", phone=EARLY_LATE_PHONE),
        reg(ON_ISSUE, "1990-05-15", "female", "F-ONISSUE", phone=ON_ISSUE_PHONE),
        reg(ON_DEADLINE, "1990-06-16", "female", "F-ONDEADLINE", phone=ON_DEADLINE_PHONE),
        reg(DIED, "1990-07-17", "female", "F-DIED", phone=DIED_PHONE),
    ]
    by_day: dict[str, list[dict[str, Any]]] = {
        "2026-03-02": [_born("b-died", DIED_KID, "2026-03-02", DIED, "F-DIED", "male")],
        "2026-03-04": [_reply("r-died", DIED_PHONE, DIED_BIRTH, "1", "2026-03-04")],
        "2026-03-05": [
            # recorded two days after she died: the registry learnt it after her consent
            ev("death", DIED, "2026-03-03", {}, recorded="2026-03-05", eid="d-died"),
            _born("b-stale", STALE_KID, "2026-03-05", STALE, "F-STALE", "male"),
            _born("b-running", RUNNING_KID, "2026-03-05", RUNNING, "F-RUNNING", "female"),
            _born("b-moved", MOVED_KID, "2026-03-05", MOVED, "F-MOVED", "male"),
        ],
        "2026-03-06": [
            ev("contact_changed", STALE, "2026-03-06", {"phone": STALE_PHONE, "iban": IBAN_B}, eid="cc-stale"),
            ev("contact_changed", MOVED, "2026-03-06", {"phone": PHONE_2}, eid="cc-moved"),
            _reply("r-running-birth", RUNNING_PHONE, RUNNING_BIRTH, "1", "2026-03-06"),
            _reply("r-running-care", RUNNING_PHONE, RUNNING_CARE, "1", "2026-03-06"),
        ],
        "2026-03-07": [
            _reply("r-stale-birth", STALE_PHONE, STALE_BIRTH, "1", "2026-03-07T12:00:00+05:00"),
            _reply("r-stale-care", STALE_PHONE, STALE_CARE, "1", "2026-03-07T12:00:00+05:00"),
            _reply("r-moved-old", PHONE_1, MOVED_BIRTH, "1", "2026-03-07"),  # the old number
        ],
        "2026-03-08": [
            ev("contact_changed", RUNNING, "2026-03-08", {"iban": IBAN_C}, eid="cc-running"),
            _reply("r-moved-new", PHONE_2, MOVED_BIRTH, "1", "2026-03-08"),  # reply_by 03-08
        ],
        "2026-03-09": [
            _reply("r-early-eve", EARLY_LATE_PHONE, EARLY_LATE_BIRTH, "1", "2026-03-09"),  # the day before
        ],
        "2026-03-10": [
            _born("b-early", EARLY_LATE_KID, "2026-03-10", EARLY_LATE, "F-EARLY", "male"),
            _born("b-onissue", ON_ISSUE_KID, "2026-03-10", ON_ISSUE, "F-ONISSUE", "female"),
            _born("b-ondeadline", ON_DEADLINE_KID, "2026-03-10", ON_DEADLINE, "F-ONDEADLINE", "male"),
            # A gateway with a broken clock: it publishes, after the offer went out, a reply stamped
            # 2020. Placed where it is published; the Kafka source orders by received_at and so
            # releases it first of all, before its offer exists (the held-reply path).
            _reply("r-early-2020", EARLY_LATE_PHONE, EARLY_LATE_BIRTH, "1", "2020-01-10"),
            _reply("r-onissue", ON_ISSUE_PHONE, ON_ISSUE_BIRTH, "1", "2026-03-10"),
        ],
        "2026-03-13": [
            _reply("r-ondeadline", ON_DEADLINE_PHONE, ON_DEADLINE_BIRTH, "1", "2026-03-13T23:30:00+05:00"),
        ],
        "2026-03-14": [
            _reply("r-early-late", EARLY_LATE_PHONE, EARLY_LATE_BIRTH, "1", "2026-03-14"),  # reply_by 03-13
        ],
    }
    # The registrations are the population load of 2025-12-31, before the stream's first tick: no
    # tick of their own (the flow's day would then be 2026-01-01, and records dated more than
    # FUTURE_HORIZON_DAYS after it are quarantined as future_date).
    msgs = list(registrations)
    first = dt.date(2026, 3, 1)
    for i in range(18):  # 03-01 .. 03-18: every lapse (the latest reply_by is 03-13) has happened
        on = (first + dt.timedelta(days=i)).isoformat()
        msgs += [*by_day.get(on, []), day(on)]
    return msgs


MESSAGES = messages()


# --- running the history ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def kafka(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """The flow's outputs after one run over the history's backlog."""
    prefix = f"integrity{id(tmp_path_factory) % 100000}."
    inputs = tuple(prefix + t for t in INPUT_TOPICS)
    outputs = {k: prefix + "out." + v for k, v in OUTPUT_TOPICS.items()}
    ensure_topics(kafka_bootstrap, [*inputs, *outputs.values()])
    produce_all(kafka_bootstrap, [(prefix + topic_of(m), (m.get("iin") or m.get("phone") or "").encode(),
                                   orjson.dumps(m)) for m in MESSAGES])
    before = accounted_now()
    run_main(kafka_flow(kafka_bootstrap, stop_at_end=True, input_topics=inputs, output_topics=outputs),
             epoch_interval=dt.timedelta(0))
    after = accounted_now()
    ACCOUNTED.update({k: after[k] - before[k] for k in after})
    return {k: [orjson.loads(v) for _, v in read_topic(kafka_bootstrap, t)] for k, t in outputs.items()}


ACCOUNTED: dict[str, float] = {}


def test_the_accounting_line_holds(kafka: dict[str, list[dict]]) -> None:
    """Every input message ended processed, deduplicated or dead-lettered (nothing held at the end)."""
    got = ACCOUNTED
    assert got["processed"] + got["deduplicated"] + got["dead_lettered"] + got["held"] == len(MESSAGES)
    assert got["held"] == 0


@pytest.fixture(scope="module")
def replay() -> Pipeline:
    """The same messages as a file replay, in-process."""
    return Pipeline().feed_lines(lines(MESSAGES)).finish()


def _of(records: list[dict], *iins: str) -> list[dict]:
    return [r for r in records if r["iin"] in iins]


def _sorted(records: list[dict]) -> list[bytes]:
    return sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in records)


def _rejected(dead: list[dict]) -> dict[str, str]:
    """event_id -> the reason of every rejected reply."""
    out = {}
    for d in dead:
        if d["error"]["code"] == "rejected_reply":
            out[orjson.loads(d["received"])["event_id"]] = d["error"]["message"]
    return out


def _agree(kafka: dict[str, list[dict]], replay: Pipeline, *iins: str) -> None:
    """The Kafka backlog and the file replay decided the same for these people; all of it valid."""
    for name, got, want in (("assignments", kafka["assignments"], replay.assignments),
                            ("notifications", kafka["notifications"], replay.notifications)):
        assert _sorted(_of(got, *iins)) == _sorted(_of(want, *iins)), f"{name}: Kafka backlog != file replay"
    for kind, name in (("notification", "notifications"), ("assignment", "assignments")):
        for source in (kafka[name], getattr(replay, name)):
            for record in _of(source, *iins):
                assert validate_output(kind, record) is None, (kind, record)


def _of_offer(records: list[dict], nid: str) -> list[dict]:
    return [r for r in records if r["notification_id"] == nid]


# --- 1. a stale bank account, a changed phone ---------------------------------------------------

def test_start_records_carry_the_bank_account_as_of_the_consent(kafka: dict[str, list[dict]],
                                                                 replay: Pipeline) -> None:
    """The offers of 03-05 knew account A; the account became B on 03-06; the consents of 03-07 assign to B."""
    got = _of(kafka["assignments"], STALE)
    assert sorted((a["notification_id"], a["kind"], a["iban"]) for a in got) == \
        sorted([(STALE_BIRTH, "start", IBAN_B), (STALE_CARE, "start", IBAN_B)])
    birth = _of_offer(got, STALE_BIRTH)[0]
    assert (birth["code"], birth["period"], birth["amount_kzt"], birth["start_month"]) == \
        ("birth_benefit", "one_time", BIRTH_KZT, "2026-03")
    care = _of_offer(got, STALE_CARE)[0]
    assert (care["code"], care["period"]) == ("childcare_benefit", "monthly")
    # the offers themselves went out on 03-05, to her phone, before the account changed
    offers = [n for n in _of(kafka["notifications"], STALE) if n["kind"] == "offer"]
    assert sorted((n["code"], n["issued_on"], n["phone"]) for n in offers) == \
        [("birth_benefit", "2026-03-05", STALE_PHONE), ("childcare_benefit", "2026-03-05", STALE_PHONE)]
    _agree(kafka, replay, STALE)


def test_a_new_account_on_a_running_monthly_benefit_is_a_change_from_next_month(kafka: dict[str, list[dict]],
                                                                                 replay: Pipeline) -> None:
    """Consent on 03-06 (account R), account C on 03-08: childcare changes to C from 2026-04,
    same amount; the one-time birth benefit, assigned already, gets no change."""
    care = _of_offer(kafka["assignments"], RUNNING_CARE)
    assert [a["kind"] for a in care] == ["start", "change"]
    start, change = care
    assert (start["iban"], start["start_month"], start["period"]) == (IBAN_R, "2026-03", "monthly")
    assert (change["iban"], change["start_month"], change["amount_kzt"]) == (IBAN_C, "2026-04", start["amount_kzt"])
    assert change["end_month"] == start["end_month"]
    assert not change.get("late")
    assert change["assignment_id"] != start["assignment_id"]
    birth = _of_offer(kafka["assignments"], RUNNING_BIRTH)
    assert [(a["kind"], a["iban"], a["amount_kzt"]) for a in birth] == [("start", IBAN_R, BIRTH_KZT)]
    # a new account is not news to the citizen: no change notification, no withdrawal
    assert [n["kind"] for n in _of(kafka["notifications"], RUNNING)] == ["offer", "offer"]
    _agree(kafka, replay, RUNNING)


def test_only_the_current_phone_answers_an_offer(kafka: dict[str, list[dict]], replay: Pipeline) -> None:
    """The decided rule (``state.offers``, docs/DESIGN.md "Consent"): a reply is accepted only from the phone
    the offer's slot knows *now*. The offer of 03-05 went to P1; on 03-06 her phone became P2.
    A consent from P1 on 03-07 is rejected: the old number may already belong to someone else
    (operators reassign numbers), so it cannot consent to money for her. A consent from P2 on
    03-08, within the window, is accepted."""
    offer = [n for n in _of_offer(kafka["notifications"], MOVED_BIRTH) if n["kind"] == "offer"]
    assert [n["phone"] for n in offer] == [PHONE_1]
    reasons = _rejected(kafka["dead_letters"])
    assert "r-moved-old" in reasons
    assert "phone changed" in reasons["r-moved-old"], reasons["r-moved-old"]
    assert "r-moved-new" not in reasons
    got = _of_offer(kafka["assignments"], MOVED_BIRTH)
    assert [(a["kind"], a["amount_kzt"], a["start_month"]) for a in got] == [("start", BIRTH_KZT, "2026-03")]
    steps = [o["outcome"] for o in _of_offer(kafka["outcomes"], MOVED_BIRTH)]
    assert steps[0] == "offered" and steps[-1] == "consented"
    # the file replay rejects the same reply for the same reason
    assert "phone changed" in _rejected(replay.dead).get("r-moved-old", "")
    _agree(kafka, replay, MOVED)


# --- 3. consent outside its window --------------------------------------------------------------

def test_replies_outside_the_window_assign_nothing(kafka: dict[str, list[dict]], replay: Pipeline) -> None:
    """Offer issued 03-10, reply_by 03-13; consents stamped 2020-01-10, 03-09 and 03-14 only: no
    assignment, the offer is reminded and lapses as if unanswered."""
    offer = [n for n in _of_offer(kafka["notifications"], EARLY_LATE_BIRTH) if n["kind"] == "offer"]
    assert [(n["issued_on"], n["reply_by"]) for n in offer] == [("2026-03-10", "2026-03-13")]
    assert _of(kafka["assignments"], EARLY_LATE) == []
    steps = [(o["outcome"], o["on"]) for o in _of_offer(kafka["outcomes"], EARLY_LATE_BIRTH)]
    assert steps == [("offered", "2026-03-10"), ("reminded", "2026-03-12"), ("lapsed", "2026-03-14")]
    _agree(kafka, replay, EARLY_LATE)


@pytest.mark.parametrize("source", ["kafka", "file"])
def test_replies_outside_the_window_are_rejected_with_their_reason(kafka: dict[str, list[dict]], replay: Pipeline,
                                                                   source: str) -> None:
    """Before ``issued_on`` (2020-01-10, and 03-09, the day before): "received before the offer
    was issued"; after ``reply_by`` (03-14): "received after reply_by"; on both paths."""
    reasons = _rejected(kafka["dead_letters"] if source == "kafka" else replay.dead)
    for eid in ("r-early-2020", "r-early-eve"):
        assert eid in reasons, eid
        assert "before the offer was issued" in reasons[eid], (eid, reasons[eid])
    assert "r-early-late" in reasons
    assert "after reply_by" in reasons["r-early-late"], reasons["r-early-late"]


def test_replies_on_issued_on_and_on_reply_by_are_accepted(kafka: dict[str, list[dict]], replay: Pipeline) -> None:
    """Both edges of the window count: a consent on 03-10 (issued_on), one at 23:30 on 03-13 (reply_by)."""
    reasons = _rejected(kafka["dead_letters"])
    assert "r-onissue" not in reasons and "r-ondeadline" not in reasons
    for nid in (ON_ISSUE_BIRTH, ON_DEADLINE_BIRTH):
        got = _of_offer(kafka["assignments"], nid)
        assert [(a["kind"], a["amount_kzt"], a["start_month"]) for a in got] == [("start", BIRTH_KZT, "2026-03")], nid
        offer = [n for n in _of_offer(kafka["notifications"], nid) if n["kind"] == "offer"]
        assert [(n["issued_on"], n["reply_by"]) for n in offer] == [("2026-03-10", "2026-03-13")]
    consented = {o["notification_id"]: o["on"] for o in kafka["outcomes"] if o["outcome"] == "consented"}
    assert consented[ON_ISSUE_BIRTH] == "2026-03-10" and consented[ON_DEADLINE_BIRTH] == "2026-03-13"
    _agree(kafka, replay, ON_ISSUE, ON_DEADLINE)


# --- 4. consent after the recipient's death ----------------------------------------------------

def _death_story(assignments: list[dict], notifications: list[dict]) -> tuple[list[tuple], list[tuple]]:
    records = [(a["kind"], a["start_month"], a.get("end_month"), bool(a.get("late")))
               for a in _of_offer(assignments, DIED_BIRTH)]
    withdrawals = [(n["code"], n["issued_on"]) for n in _of(notifications, DIED) if n["kind"] == "withdrawal"]
    return records, sorted(withdrawals)


def test_a_consent_after_the_recipients_death_is_closed_as_void(kafka: dict[str, list[dict]],
                                                                replay: Pipeline) -> None:
    """Offer 03-02, her consent 03-04, her death on 03-03 recorded 03-05: the consent was
    processed before the death was known (start), and is void (close, late) once it is; the
    birth benefit is withdrawn. The file replay shows it; the Kafka backlog must agree."""
    expected_records = [("start", "2026-03", "2026-03", False), ("close", "2026-03", "2026-03", True)]
    file_records, file_withdrawals = _death_story(replay.assignments, replay.notifications)
    assert file_records == expected_records, "file replay"
    assert ("birth_benefit", "2026-03-05") in file_withdrawals, "file replay"
    kafka_records, kafka_withdrawals = _death_story(kafka["assignments"], kafka["notifications"])
    assert kafka_records == expected_records, (
        f"Kafka backlog: assignments {kafka_records}, withdrawals {kafka_withdrawals}, "
        f"reply rejected: {_rejected(kafka['dead_letters']).get('r-died')!r}")
    assert ("birth_benefit", "2026-03-05") in kafka_withdrawals
    ids = [a["assignment_id"] for a in _of_offer(kafka["assignments"], DIED_BIRTH)]
    assert len(set(ids)) == 2
    _agree(kafka, replay, DIED)
