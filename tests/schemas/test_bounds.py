"""State kept for deduplication, timers and offers is bounded by event time or count."""

from __future__ import annotations

from rules import load_params
from rules.decisions import Decision
from rules.ledger import LedgerLogic
from state import dates
from state.offers import OfferSlot, expiry_days
from state.person_slot import DEDUP_DAYS, MAX_HELD, PersonSettings, PersonSlot, Seen, remember
from state.rights import Cause, Ledger, NewNotice
from tests.factories import event, iin_for, registered
from tests.state.test_offers import offer, reply

MUM = iin_for("1990-04-02", "female")
SETTINGS = PersonSettings(30, 18)


def test_dedup_ids_are_kept_for_a_bounded_window() -> None:
    seen = Seen()
    start = dates.day("2020-01-01")
    for i in range(2000):  # five and a half years of daily events
        seen = remember(seen, f"e{i}", start + i)
    assert len(seen) <= DEDUP_DAYS + 1
    assert "e1999" in seen and "e0" not in seen


def test_a_recent_duplicate_is_still_caught() -> None:
    slot = PersonSlot.empty(MUM)
    slot.on_event(registered(MUM, "1990-04-02", "female", "F-1"), "subject", SETTINGS)
    for m in range(1, 13):
        slot.on_event(event("contribution", MUM, f"2026-{m:02d}-28", {"month": f"2026-{m:02d}", "income_kzt": 1,
                                                                       "social_contribution_kzt": 0},
                            event_id=f"c{m}"), "subject", SETTINGS)
    again = slot.on_event(event("contribution", MUM, "2026-03-28", {"month": "2026-03", "income_kzt": 1,
                                                                    "social_contribution_kzt": 0}, event_id="c3"),
                          "subject", SETTINGS)
    assert [r.code for r in again] == ["duplicate"]  # type: ignore[union-attr]


def test_held_facts_are_capped_and_the_oldest_dead_lettered() -> None:
    slot = PersonSlot.empty(MUM)
    out = []
    for i in range(MAX_HELD + 5):
        out += slot.on_event(event("award", MUM, "2026-01-01", {"award": "kumis_alka"}, event_id=f"a{i}"),
                             "subject", SETTINGS)
    assert len(slot.held) == MAX_HELD
    assert [r.code for r in out] == ["unknown_person"] * 5  # type: ignore[union-attr]


def test_issued_ids_are_forgotten_after_the_window_unless_running() -> None:
    ledger = Ledger(MUM)
    for i in range(20):
        ledger.issued[f"n-{i}"] = dates.day("2025-01-01") + i
    logic = LedgerLogic(load_params())
    today = dates.day("2026-06-01")
    notice = Decision("employment_measures", "notice", MUM, f"dismissal:{MUM}:2026-06-01", "r", (), today, today)
    after, _ = logic.on_item(MUM, ledger, NewNotice(notice, (None, "kk"), "F-1", Cause(today, today, False)))
    assert after is not None and set(after.issued) == {notice.notification_id}  # the old ids are gone
    assert DEDUP_DAYS == 400


def test_a_settled_offer_slot_expires_and_a_running_one_does_not() -> None:
    o = offer()
    assert expiry_days(o) == [o.reply_by + 31]
    refused = OfferSlot()
    refused.on_offer(o)
    refused.on_reply(reply("2", "2026-03-11"))
    refused.on_timer("expire", o.reply_by + 31)
    assert refused.done
    running = OfferSlot()
    running.on_offer(o)
    running.on_reply(reply("1", "2026-03-11"))
    running.on_timer("expire", o.reply_by + 31)
    assert not running.done  # a lifelong monthly benefit keeps its slot for withdrawals
    still_open = OfferSlot()
    still_open.on_offer(o)
    still_open.on_timer("expire", o.reply_by - 1)
    assert not still_open.done
