"""The one place where wire bytes become domain events and domain decisions become wire records.

``decode`` parses, validates against ``schemas/events`` and checks IINs; whatever fails
becomes a ``DeadLetter`` with the contract's code and the raw text, never an exception.
Valid messages take a generated fast path (``schemas.fastpath``); ``decode_reference`` is the
definition it must agree with, and decodes everything the fast path is not sure about.
``encode_*`` build the output records of contract §2; nothing else writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from rules.decisions import CHANGE, OFFER, REMINDER, WITHDRAWAL, Decision, derived_id
from rules.texts import render
from schemas.fastpath import FAST_DECODERS
from schemas.validation import validate_event
from state import dates, ids, iin
from state.dates import Day
from state.events import Event, Origin, tick_data
from state.offers import CLOSE, START, Assignment, ChangeNotice, IssuedOffer, Outcome

__all__ = [
    "RawMessage", "DeadLetter", "decode", "decode_reference", "second_phase", "dead_letter_record", "notification_record",
    "reminder_record", "withdrawal_record", "offer_record", "change_record", "assignment_record", "outcome_record",
    "MAX_MESSAGE_BYTES", "FUTURE_HORIZON_DAYS",
]

MAX_MESSAGE_BYTES = 64 * 1024

FUTURE_HORIZON_DAYS = 31
"""How far past the flow's open day a record may be dated (its ``recorded_at``; ``received_at``
for a reply; a tick's own date) before it is quarantined as ``future_date`` (issue 13): no
registry records tomorrow, but a scheduler may tick a few days ahead of a slow source. A
deployment sets it with ``--future-horizon-days``."""

# Dates a registry can mean: IINs encode births from 1800; later than 2199 is a typo, and
# date arithmetic on it (an 18th birthday, a retirement date) would overflow.
_EARLIEST, _LATEST = dates.day("1800-01-01"), dates.day("2199-12-31")
_DATE_FIELDS = ("birth_date", "valid_until")
SENDER = "1414"


@dataclass(slots=True)
class RawMessage:
    """One input message as a source read it, before any decoding.

    ``parsed`` lets a source that already parsed the JSON (to order partitions by event
    date) hand the result on, so decoding never parses the same bytes twice. ``seq`` is the
    message's position in the source's read order (see ``state.events.Origin``).
    """

    topic: str
    value: bytes
    key: bytes | None = None
    partition: int | None = None
    offset: int | None = None
    timestamp_ms: int | None = None
    parsed: Any = None
    seq: int = 0
    phase: int = 1  # a ``day`` tick is delivered twice: 1 = life-event timers, 2 = offer timers
    open_day: int | None = None  # the day the source was in: the day after the last tick it released
    first_tick: bool = False     # the first tick the source released since it started
    filled: bool = False         # a tick the source made up for a day the scheduler skipped


def second_phase(tick: RawMessage) -> RawMessage:
    """The same ``day`` tick again, for the offer timers, one epoch after the life-event timers."""
    return RawMessage(tick.topic, tick.value, tick.key, tick.partition, tick.offset, tick.timestamp_ms,
                      tick.parsed, tick.seq, phase=2, open_day=tick.open_day, first_tick=tick.first_tick,
                      filled=tick.filled)


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """An input that cannot be acted on, with the reason an operator needs to fix it."""

    origin: Origin
    code: str
    message: str
    path: str = ""
    event_type: str = ""


def _origin(raw: RawMessage) -> Origin:
    return Origin(raw.topic, raw.partition, raw.offset, raw.value, raw.seq, raw.timestamp_ms)


def decode(raw: RawMessage, future_horizon_days: int | None = FUTURE_HORIZON_DAYS) -> Event | DeadLetter:
    """``raw`` as an ``Event``, or a ``DeadLetter`` saying why not.

    Always the same result as ``decode_reference``. A message that ``schemas.fastpath`` finds
    certainly valid (nearly all of them) is decoded there, 3-4x faster; anything else, every
    dead letter included, goes through ``decode_reference``. Either way a record dated beyond
    ``future_horizon_days`` past the flow's open day is a ``future_date`` dead letter
    (``bounded``; None: no bound).
    """
    value = raw.value
    if len(value) <= MAX_MESSAGE_BYTES:
        obj = raw.parsed
        if obj is None:
            try:
                obj = orjson.loads(value)
            except orjson.JSONDecodeError:
                obj = None
        if type(obj) is dict:
            etype = obj.get("type")
            if type(etype) is str:
                fast = FAST_DECODERS.get(etype)
                if fast is not None:
                    event = fast(obj, raw)
                    if event is not None:
                        return bounded(event, raw, future_horizon_days)
    return decode_reference(raw, future_horizon_days)


def bounded(event: Event, raw: RawMessage, horizon: int | None) -> Event | DeadLetter:
    """``event``, or a ``future_date`` dead letter if it is dated beyond ``horizon`` days past the
    flow's open day (``raw.open_day``: before the first tick there is no bound).

    A mistyped year (2062 for 2026) must never be applied: the person's newest contact would be
    the typo's for good, and the event-time watermark would jump decades (issue 13).
    """
    opened = raw.open_day
    if horizon is None or opened is None or event.recorded_on <= opened + horizon:
        return event
    field = {"day": "occurred_on", "sms_reply": "received_at"}.get(event.type, "recorded_at")
    return DeadLetter(_origin(raw), "future_date",
                      f"{field} {dates.iso(event.recorded_on)} is more than {horizon} days past the day the flow "
                      f"is in: quarantined, never applied (a mistyped date?)", field, event.type)


def decode_reference(raw: RawMessage, future_horizon_days: int | None = FUTURE_HORIZON_DAYS) -> Event | DeadLetter:
    """The definition of ``decode``: validate with the compiled JSON Schema, then the dates and
    IINs, then build the event, bounded in time (``bounded``). Every dead letter's code, message
    and path comes from here."""
    origin = _origin(raw)
    if len(raw.value) > MAX_MESSAGE_BYTES:
        return DeadLetter(origin, "too_large", f"message of {len(raw.value)} bytes exceeds {MAX_MESSAGE_BYTES}")
    obj = raw.parsed
    if obj is None:
        try:
            obj = orjson.loads(raw.value)
        except orjson.JSONDecodeError as exc:
            return DeadLetter(origin, "invalid_json", f"not valid UTF-8 JSON: {exc}")
    invalid = validate_event(obj)
    if invalid is not None:
        etype = obj.get("type", "") if isinstance(obj, dict) else ""
        return DeadLetter(origin, invalid.code, invalid.message, invalid.path, etype if isinstance(etype, str) else "")
    etype = obj["type"]
    if etype in ("day", "sms_reply"):
        text = obj["occurred_on" if etype == "day" else "received_at"]
        if not _EARLIEST <= dates.day(text) <= _LATEST:
            return DeadLetter(origin, "schema", f"date {text[:10]} is outside 1800-2199",
                              "occurred_on" if etype == "day" else "received_at", etype)
    h = future_horizon_days
    if etype == "day":
        d = dates.day(obj["occurred_on"])
        return bounded(Event(obj["event_id"], etype, "", d, d, tick_data(raw), origin, raw.open_day), raw, h)
    if etype == "sms_reply":
        d = dates.kz_day(obj["received_at"])
        return bounded(Event(obj["event_id"], etype, obj["phone"], d, d, obj, origin, raw.open_day), raw, h)
    out_of_range = _date_problem(obj)
    if out_of_range is not None:
        return DeadLetter(origin, "schema", out_of_range[1], out_of_range[0], etype)
    problem = _iin_problem(obj)
    if problem is not None:
        return DeadLetter(origin, "bad_iin", problem[1], problem[0], etype)
    occurred = dates.day(obj["occurred_on"])
    recorded = dates.kz_day(obj["recorded_at"])
    if occurred > recorded:
        return DeadLetter(origin, "future_date", "occurred_on is after recorded_at: an event cannot be "
                          "recorded before it happens", "occurred_on", etype)
    return bounded(Event(obj["event_id"], etype, obj["iin"], occurred, recorded, obj.get("data") or {}, origin,
                         raw.open_day), raw, h)


def _date_problem(obj: dict[str, Any]) -> tuple[str, str] | None:
    fields = [("occurred_on", obj["occurred_on"]), ("recorded_at", obj["recorded_at"])]
    data = obj.get("data") or {}
    fields += [(f"data.{f}", data[f]) for f in _DATE_FIELDS if isinstance(data.get(f), str)]
    for path, text in fields:
        try:
            day = dates.day(text)
        except ValueError:  # a field this type's schema does not declare, so nothing checked it
            return path, f"{text[:40]!r} is not an ISO date (YYYY-MM-DD)"
        if not _EARLIEST <= day <= _LATEST:
            return path, f"date {text[:10]} is outside 1800-2199"
    return None


def _iin_problem(obj: dict[str, Any]) -> tuple[str, str] | None:
    subject = obj["iin"]
    if not iin.is_valid_reference(subject):
        return "iin", f"IIN {subject} fails the check digit or date (rules.md §6)"
    data = obj.get("data") or {}
    for field in ("mother_iin", "father_iin"):
        other = data.get(field)
        if other is not None and not isinstance(other, str):  # undeclared in this type's schema
            return f"data.{field}", f"an IIN must be a string of 12 digits, not {type(other).__name__}"
        if other is not None and not iin.is_valid_reference(other):
            return f"data.{field}", f"IIN {other} fails the check digit or date (rules.md §6)"
    if obj["type"] == "person_registered":
        born = iin.birth_date_of(subject)
        if born is not None and born.isoformat() != data["birth_date"]:
            return "data.birth_date", f"birth_date {data['birth_date']} disagrees with IIN {subject}"
        if iin.sex_of(subject) != data["sex"]:
            return "data.sex", f"sex {data['sex']} disagrees with IIN {subject}"
    return None


def _received_text(raw: bytes) -> str:
    return raw[:MAX_MESSAGE_BYTES].decode("utf-8", errors="replace")


def dead_letter_record(origin: Origin, code: str, message: str, path: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if path:
        error["path"] = path
    return {
        "source_topic": origin.topic,
        "partition": origin.partition,
        "offset": origin.offset,
        "received": _received_text(origin.raw),
        "error": error,
    }


def notification_record(d: Decision, phone: str | None, language: str, family_id: str | None) -> dict[str, Any]:
    """Contract §2 ``notifications``; a recipient without a phone still gets a record."""
    return _notification(d.notification_id, d.kind, d.code, d.recipient, family_id, phone, language,
                         render(d.code, d.kind, d.amount_kzt, d.reply_by, valid_until=dict(d.facts).get("valid_until")),
                         d.reasons, d.rule, d.amount_kzt, d.period, d.occurred_on, d.issued_on, d.reply_by)


def offer_record(offer: IssuedOffer) -> dict[str, Any]:
    """Contract §2 ``notifications``, kind ``offer``: an issued offer, written as its decision was
    (``notification_record``); the text is rendered from its terms."""
    return _notification(offer.nid, OFFER, offer.code, offer.iin, offer.family_id, offer.phone, offer.language,
                         render(offer.code, OFFER, offer.amount, offer.reply_by), offer.reasons, offer.rule,
                         offer.amount, offer.period, offer.occurred_on, offer.issued_on, offer.reply_by)


def _notification(nid: str, kind: str, code: str, iin: str, family_id: str | None, phone: str | None,
                  language: str, text: dict[str, str], reasons: tuple[str, ...], rule: str, amount: int | None,
                  period: str | None, occurred_on: Day | None, issued_on: Day | None,
                  reply_by: Day | None) -> dict[str, Any]:
    """One notification record, its keys in the contract's order (a reminder, withdrawal or change
    is an offer's record with some keys replaced, so the order holds for every kind)."""
    return {
        "notification_id": nid,
        "kind": kind,
        "code": code,
        "iin": iin,
        "family_id": family_id,
        "phone": phone,
        "language": language,
        "sender": SENDER,
        "text": text,
        "reasons": list(reasons),
        "rule": rule,
        "amount_kzt": amount,
        "period": period,
        "occurred_on": _iso(occurred_on),
        "issued_on": _iso(issued_on),
        "reply_by": _iso(reply_by),
    }


def _iso(d: Day | None) -> str | None:
    return None if d is None else dates.iso(d)


def reminder_record(offer: IssuedOffer, on: Day) -> dict[str, Any]:
    """The one reminder of an unanswered offer; it keeps the offer's reply_by. A reply may name it."""
    base = offer_record(offer)
    return {
        **base,
        "notification_id": ids.derived(offer.nid, ids.REMINDER_TAG, offer.nid),
        "kind": REMINDER,
        "text": render(offer.code, REMINDER, offer.amount, offer.reply_by),
        "reasons": [f"offer {offer.nid} of {base['issued_on']} is not answered yet", *offer.reasons][:50],
        "issued_on": dates.iso(on),
    }


def withdrawal_record(offer: IssuedOffer, reason: str, on: Day, occurred: Day | None = None) -> dict[str, Any]:
    """contract §2 kind ``withdrawal``: ``occurred_on`` is the cause's date, ``issued_on`` the day
    its record reached the registry (rules.md §5a)."""
    base = offer_record(offer)
    return {
        **base,
        "notification_id": ids.derived(offer.nid, ids.WITHDRAWAL_TAG, offer.nid),
        "kind": WITHDRAWAL,
        "text": render(offer.code, WITHDRAWAL, offer.amount, None),
        "reasons": [reason, f"withdraws offer {offer.nid} of {base['issued_on']}"],
        "occurred_on": dates.iso(on if occurred is None else occurred),
        "issued_on": dates.iso(on),
        "reply_by": None,
    }


def change_record(c: ChangeNotice) -> dict[str, Any]:
    """contract §2 kind ``change``: a running benefit's new amount, information only (no reply)."""
    base = offer_record(c.offer)
    until = "" if c.end_month is None else f" until {dates.month_iso(c.end_month)}"
    return {
        **base,
        "notification_id": ids.derived(c.offer.base, ids.CHANGE_TAG, str(c.seq)),
        "kind": CHANGE,
        "text": render(c.offer.code, CHANGE, c.amount, None, from_month=c.from_month),
        "reasons": [c.reason, f"benefit of offer {c.offer.nid}: {c.amount} KZT from "
                              f"{dates.month_iso(c.from_month)}{until}"],
        "amount_kzt": c.amount,
        "occurred_on": dates.iso(c.on),
        "issued_on": dates.iso(c.on),
        "reply_by": None,
    }


def assignment_record(a: Assignment) -> dict[str, Any]:
    """Contract §2 ``assignments`` (version 2): ``kind`` start, change or close, each with its own
    id; ``late`` marks a change or close caused by a late record (an overpayment to recover)."""
    offer = a.offer
    nid = offer.base
    what = {START: "assign", CLOSE: "close"}.get(a.kind, f"change:{a.seq}")
    rec: dict[str, Any] = {
        "assignment_id": derived_id("a-", nid, what),
        "notification_id": nid,
        "kind": a.kind,
        "code": offer.code,
        "iin": offer.iin,
        "family_id": offer.family_id,
        "amount_kzt": a.amount,
        "period": offer.period,
        "start_month": dates.month_iso(a.start_month),
        "end_month": None if a.end_month is None else dates.month_iso(a.end_month),
        "iban": a.iban,
    }
    if a.late:
        rec["late"] = True
    return rec


def outcome_record(o: Outcome) -> dict[str, Any]:
    """One step of an offer's funnel (an extension topic, ``offer-outcomes``)."""
    return {"notification_id": o.offer.nid, "code": o.offer.code, "outcome": o.outcome,
            "on": dates.iso(o.on)}
