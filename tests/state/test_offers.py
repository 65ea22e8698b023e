"""The offer slot alone: replies and timers in any arrival order, decided in event time."""

from __future__ import annotations

import dataclasses

from state import dates
from state.events import Event, Origin
from state.offers import (
    Assignment,
    End,
    IssuedOffer,
    OfferSlot,
    Outcome,
    Reminder,
    ReplyRejected,
    WithdrawalNotice,
)
from tests.factories import event

PHONE = "+77011112233"


NID = "n-" + "a" * 20


def offer(period: str = "monthly") -> IssuedOffer:
    trigger = event("disability_ruling", "900402401008", "2026-03-10")
    return IssuedOffer(NID, "disability_benefit", "900402401008", "F-1", PHONE, "kk", "rule", ("r",), 89498, period,
                       dates.day("2026-03-10"), dates.day("2026-03-10"), dates.day("2026-03-13"),
                       dates.month_of(dates.day("2026-03-10")), None, "KZ1", trigger, dates.day("2026-03-12"))


def reply(text: str, on: str, phone: str = PHONE, eid: str = "r") -> Event:
    d = dates.day(on)
    return Event(eid, "sms_reply", phone, d, d, {"phone": phone, "in_reply_to": NID, "text": text},
                 Origin("sms.replies", 0, 1, b"{}"))


def kinds(out: list) -> list[str]:
    return [type(x).__name__ + (f":{x.outcome}" if isinstance(x, Outcome) else "") for x in out]


def test_a_reply_before_its_offer_is_held_then_applied() -> None:
    slot = OfferSlot()
    assert slot.on_reply(reply("1", "2026-03-11")) == []
    out = slot.on_offer(offer())
    assert kinds(out) == ["IssuedOffer", "Outcome:offered", "Assignment", "Outcome:consented"]


def test_a_late_answer_releases_the_reminder_that_was_due_first() -> None:
    slot = OfferSlot()
    slot.on_offer(offer())
    out = slot.on_reply(reply("2", "2026-03-13"))
    assert kinds(out) == ["Reminder", "Outcome:reminded", "Outcome:refused"]
    assert slot.on_timer("remind", dates.day("2026-03-12")) == []  # already sent


def test_timers_before_the_offer_are_kept() -> None:
    slot = OfferSlot()
    assert slot.on_timer("remind", dates.day("2026-03-12")) == []
    assert slot.on_timer("lapse", dates.day("2026-03-14")) == []
    out = slot.on_offer(offer())
    assert kinds(out) == ["IssuedOffer", "Outcome:offered", "Reminder", "Outcome:reminded", "Outcome:lapsed"]


def end(on: str, month: str | None = None) -> End:
    d = dates.day(on)
    return End(NID, "death", d, d, dates.month_of(dates.day((month or on[:7]) + "-01")), False, offer().event)


def test_the_end_of_a_running_benefit_closes_the_assignment() -> None:
    slot = OfferSlot()
    slot.on_offer(offer())
    slot.on_reply(reply("да", "2026-03-11"))
    out = slot.on_command(end("2026-05-02"))
    assert kinds(out) == ["WithdrawalNotice", "Assignment", "Outcome:closed"]
    closing = out[1]
    assert isinstance(closing, Assignment) and closing.kind == "close" and closing.end_month is not None
    assert dates.month_iso(closing.end_month) == "2026-05" and not closing.late


def test_a_benefit_that_ends_by_itself_is_not_closed_again() -> None:
    o = offer()
    bounded = dataclasses.replace(o, end_month=dates.month_of(dates.day("2026-03-31")))
    slot = OfferSlot()
    slot.on_offer(bounded)
    slot.on_reply(reply("1", "2026-03-11"))
    assert slot.on_command(end("2026-04-01")) == []  # its end month (March) comes first
    open_slot = OfferSlot()
    open_slot.on_offer(offer())
    out = open_slot.on_command(end("2026-03-11"))
    assert isinstance(out[0], WithdrawalNotice)


def test_rejections_change_nothing() -> None:
    slot = OfferSlot()
    slot.on_offer(offer())
    for r, why in ((reply("1", "2026-03-11", phone="+77000000000", eid="a"), "phone"),
                   (reply("хорошо", "2026-03-11", eid="b"), "unreadable"),
                   (reply("1", "2026-03-14", eid="c"), "after reply_by")):
        [rej] = slot.on_reply(r)
        assert isinstance(rej, ReplyRejected) and why in rej.reason
    assert slot.status == "open"
    assert kinds(slot.on_reply(reply("1", "2026-03-12", eid="d")))[-1] == "Outcome:consented"
    [again] = slot.on_reply(reply("1", "2026-03-12", eid="d"))
    assert isinstance(again, ReplyRejected) and "already processed" in again.reason
    assert not isinstance(again, Reminder)


def test_a_reply_to_no_offer_is_rejected_at_its_check() -> None:
    slot = OfferSlot()
    slot.on_reply(reply("1", "2026-03-04", eid="x"))
    [rej] = slot.on_timer("reply_check", dates.day("2026-03-05"))
    assert isinstance(rej, ReplyRejected) and "no such offer" in rej.reason
    [late] = slot.on_reply(reply("1", "2026-03-04", eid="y"))  # arrived after its check ran
    assert isinstance(late, ReplyRejected)
