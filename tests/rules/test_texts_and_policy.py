"""SMS texts (rules.md §7), SMS segment counting, and the generated POLICY.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rules import Context, Decision, registered_rules
from rules.engine import Rule
from rules.policy_doc import NO_DESCRIPTION, POLICY_FILE, _rule_section, generate, main, parse_docstring
from rules.texts import (
    KINDS,
    NOTICE_CODES,
    OFFER_CODES,
    REASONS,
    SAFETY,
    TEMPLATES,
    WITHDRAWN,
    kinds_for,
    render,
    segment_report,
    segments,
    typical_text,
)
from state import dates

ROOT = Path(__file__).resolve().parents[2]
ALL_CODES = OFFER_CODES + NOTICE_CODES
REPLY_BY = dates.day("2026-03-05")
AMOUNT = 164350
REPLY_WORDS = ("Согласие", "отказ", "Келісу", "бас тарту")


def test_codes_are_the_contract_codes() -> None:
    schema = json.loads((ROOT / "schemas/outputs/notification.schema.json").read_text(encoding="utf-8"))
    assert set(ALL_CODES) == set(schema["definitions"]["code"]["enum"])
    assert set(OFFER_CODES) == set(schema["definitions"]["offer_code"]["enum"])
    assert set(TEMPLATES) == set(WITHDRAWN) == set(ALL_CODES)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("code", ALL_CODES)
def test_every_code_and_kind_renders_both_languages(code: str, kind: str) -> None:
    text = render(code, kind, AMOUNT, REPLY_BY)
    assert set(text) == {"kk", "ru"}
    for lang in ("kk", "ru"):
        assert text[lang].strip()
        assert text[lang].endswith(SAFETY[lang])
        assert "{" not in text[lang] and "}" not in text[lang]
    assert "1414" in SAFETY["kk"] and "құпиясөз" in SAFETY["kk"] and "карта" in SAFETY["kk"]
    assert "1414" in SAFETY["ru"] and "пароли" in SAFETY["ru"] and "карт" in SAFETY["ru"]


@pytest.mark.parametrize("code", OFFER_CODES)
def test_offers_name_the_amount_and_the_reply(code: str) -> None:
    text = render(code, "offer", AMOUNT, REPLY_BY)
    assert "164 350 тг" in text["kk"] and "164 350 тг" in text["ru"]
    assert "Келісу: 1, бас тарту: 2, 05.03.2026 дейін." in text["kk"]
    assert "Согласие: 1, отказ: 2, до 05.03.2026." in text["ru"]


@pytest.mark.parametrize("code", OFFER_CODES)
def test_reminders_say_not_answered_and_the_reply_date(code: str) -> None:
    text = render(code, "reminder", AMOUNT, REPLY_BY)
    assert text["kk"].startswith("Жауап бермедіңіз.") and text["ru"].startswith("Вы не ответили.")
    assert "05.03.2026" in text["kk"] and "05.03.2026" in text["ru"]
    assert "Келісу: 1" in text["kk"] and "Согласие: 1" in text["ru"]


@pytest.mark.parametrize("code", NOTICE_CODES)
def test_notices_carry_no_reply_instruction(code: str) -> None:
    # even if a caller passes a reply date or an amount by mistake
    for text in (render(code, "notice", None, None), render(code, "notice", AMOUNT, REPLY_BY)):
        for lang in ("kk", "ru"):
            assert not any(w in text[lang] for w in REPLY_WORDS)
            assert "05.03.2026" not in text[lang] and "тг" not in text[lang]


def test_notice_contents() -> None:
    emp = render("employment_measures", "notice", None, None)
    assert all(w in emp["ru"] for w in ("Карьерный центр", "безработных", "выплату по потере работы"))
    assert all(w in emp["kk"] for w in ("Мансап орталығында", "жұмыссыз", "жұмыстан айырылу төлемін"))
    kandas = render("kandas_status_expiry", "notice", None, None, valid_until=dates.day("2026-08-15"))
    assert "15.08.2026" in kandas["ru"] and "один раз, до 6 месяцев" in kandas["ru"]
    assert "15.08.2026" in kandas["kk"] and "бір рет, 6 айға дейін" in kandas["kk"]
    undated = render("kandas_status_expiry", "notice", None, None)
    assert "скоро" in undated["ru"] and "жақында" in undated["kk"]
    pension = render("pension_eligibility", "notice", None, None)
    assert "пенсионного возраста" in pension["ru"] and "зейнеткерлік жасқа" in pension["kk"]


def test_monthly_and_one_time_amounts() -> None:
    assert "айына 24 912 тг" in render("childcare_benefit", "offer", 24912, REPLY_BY)["kk"]
    assert "24 912 тг в месяц" in render("childcare_benefit", "offer", 24912, REPLY_BY)["ru"]
    assert "в месяц" not in render("birth_benefit", "offer", AMOUNT, REPLY_BY)["ru"]
    assert "на 3 месяца" in render("targeted_social_assistance", "offer", 28937, REPLY_BY)["ru"]
    assert "1 234 567 тг" in render("birth_benefit", "offer", 1234567, REPLY_BY)["ru"]


def test_withdrawal_with_and_without_a_reason() -> None:
    plain = render("job_loss", "withdrawal", 73440, None)
    assert plain["ru"] == "Назначение выплаты по потере работы отменено. " + SAFETY["ru"]
    assert plain["kk"] == "Жұмыстан айырылу төлемі тоқтатылды. " + SAFETY["kk"]
    why = render("job_loss", "withdrawal", 73440, None, reason="employment_started")
    assert "Причина: вы трудоустроены." in why["ru"] and "Себебі: жұмысқа орналастыңыз." in why["kk"]
    own = render("job_loss", "withdrawal", None, None, reason={"kk": "қате", "ru": "ошибка"})
    assert "Причина: ошибка." in own["ru"] and "Себебі: қате." in own["kk"]
    # an internal English reason never reaches the SMS
    internal = render("job_loss", "withdrawal", None, None, reason="870512400129 employed again on 2026-03-01")
    assert internal == plain
    for key in REASONS:
        assert REASONS[key]["ru"] in render("birth_benefit", "withdrawal", None, None, reason=key)["ru"]


def test_positional_signature_still_works() -> None:
    # schemas/codec.py calls render(code, kind, amount_kzt, reply_by)
    text = render("birth_benefit", "offer", 164350, dates.day("2026-03-05"))
    assert text["ru"].startswith("Пособие на рождение ребенка: 164 350 тг.")


# --- segments ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "parts"), [
    ("", 1),
    ("ж" * 70, 1),
    ("ж" * 71, 2),
    ("ж" * 134, 2),
    ("ж" * 135, 3),
    ("ж" * 201, 3),
    ("ж" * 202, 4),
    ("a" * 160, 1),
    ("a" * 161, 2),
    ("a" * 306, 2),
    ("a" * 307, 3),
    ("a" * 159 + "ә", 3),         # one Kazakh letter makes the whole text UCS-2: 160 > 134
    ("{" * 80, 1),                # GSM-7 escape characters take two septets: 160
    ("{" * 81, 2),
    ("a" * 152 + "[" + "a" * 152, 3),  # 306 septets, but the escape pair is not split: 152 | 2 + 151 | 1
    ("€" * 80, 1),
    ("😀" * 35, 1),              # outside the BMP: two UCS-2 units each
    ("😀" * 36, 2),
    ("`" * 70, 1),                # not in the GSM-7 alphabet: UCS-2
    ("`" * 71, 2),
])
def test_segments(text: str, parts: int) -> None:
    assert segments(text) == parts


def test_segment_report_covers_every_template() -> None:
    rows = segment_report()
    expected = {(c, k, lang) for c in ALL_CODES for k in kinds_for(c) for lang in ("kk", "ru")}
    assert {(c, k, lang) for c, k, lang, _, _ in rows} == expected and len(rows) == len(expected)
    for code, kind, lang, chars, parts in rows:
        text = typical_text(code, kind, lang)
        assert chars == len(text) and parts == segments(text)
        assert parts <= 3, (code, kind, lang, text)
    # the short ones fit two parts
    two = {(c, k, lang) for c, k, lang, _, p in rows if p <= 2}
    for code in NOTICE_CODES:
        assert {(code, "notice", "kk"), (code, "notice", "ru")} <= two
    assert ("birth_benefit", "offer", "kk") in two and ("birth_benefit", "offer", "ru") in two


# --- POLICY.md -----------------------------------------------------------------------------

def test_policy_md_is_in_sync() -> None:
    assert POLICY_FILE.read_text(encoding="utf-8") == generate(), "run: python -m rules.policy_doc"
    assert main(["--check"]) == 0


def test_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "POLICY.md"
    stale.write_text(generate() + "\nedited by hand\n", encoding="utf-8")
    assert main(["--check", "--output", str(stale)]) == 1
    assert main(["--check", "--output", str(tmp_path / "missing.md")]) == 1
    assert main(["--output", str(stale)]) == 0
    assert main(["--check", "--output", str(stale)]) == 0


def test_every_registered_rule_and_parameter_is_documented() -> None:
    doc = POLICY_FILE.read_text(encoding="utf-8")
    for r in registered_rules():
        assert f"### `{r.code}`" in doc
        for t in r.on:
            assert f"`{t}`" in doc
    raw = json.loads((ROOT / "rules/parameters.json").read_text(encoding="utf-8"))
    for section in ("dated", "scalars", "coefficients"):
        for name in raw[section]:
            assert f"`{name}`" in doc
    assert "| 2026-01-01 | 50851 |" in doc
    assert "<https://www.zakon.kz/pravo/6500457>" in doc
    assert "| `targeted_social_assistance` | offer | kk |" in doc


def test_docstring_fields_and_a_rule_without_docstring() -> None:
    text, fields = parse_docstring("""Summary line.

    Condition: a
      continued.
    Amount: 2 × b.
    Recipient: the person.
    """)
    assert text == "Summary line." and fields == {"Condition": "a continued.", "Amount": "2 × b.",
                                                   "Recipient": "the person."}
    assert parse_docstring(None) == (NO_DESCRIPTION, {})
    assert parse_docstring("Just prose, no fields.") == ("Just prose, no fields.", {})

    def bare(ctx: Context) -> list[Decision]:
        return []

    section = "\n".join(_rule_section("x_rule", [Rule("x_rule", ("birth",), "mother", bare)]))
    assert "(no description)" in section and "`birth` (role `mother`)" in section
