"""Kazakh and Russian SMS texts from 1414, per code and kind (rules.md §7).

Amounts are written as people in Kazakhstan write them (``164 350 тг``), dates as
``05.03.2026``. Every text ends with the warning that 1414 never asks for codes, card
numbers or passwords; offers carry the reply instruction, notices do not.
"""

from __future__ import annotations

from collections.abc import Mapping

from state import dates
from state.dates import Day

__all__ = ["render", "TEMPLATES", "fmt_amount", "fmt_date"]

SAFETY = {
    "kk": "1414 код, карта нөмірін, құпиясөз сұрамайды.",
    "ru": "1414 не запрашивает коды, номера карт и пароли.",
}

REPLY = {
    "kk": "Келісу: 1, бас тарту: 2, {reply_by} дейін.",
    "ru": "Согласие: 1, отказ: 2, до {reply_by}.",
}

# What the benefit is and how much; {amount} is already formatted.
TEMPLATES: Mapping[str, Mapping[str, str]] = {
    "birth_benefit": {
        "kk": "Бала тууына біржолғы жәрдемақы {amount}.",
        "ru": "Единовременное пособие на рождение {amount}.",
    },
    "childcare_benefit": {
        "kk": "Баланы 1,5 жасқа дейін күту жәрдемақысы айына {amount}.",
        "ru": "Пособие по уходу до 1,5 лет: {amount} в месяц.",
    },
    "disability_benefit": {
        "kk": "Мүгедектік бойынша жәрдемақы айына {amount}.",
        "ru": "Пособие по инвалидности: {amount} в месяц.",
    },
    "employment_measures": {
        "kk": "Жұмыстан босадыңыз: мансап орталығына жұмыссыз ретінде тіркеліп, "
              "жұмыстан айырылу төлемін алуға болады.",
        "ru": "Вы уволены: центр карьеры поможет встать на учет как безработный "
              "и получить выплату по потере работы.",
    },
}


def fmt_amount(amount: int) -> str:
    return f"{amount:,}".replace(",", " ") + " тг"


def fmt_date(d: Day) -> str:
    return dates.to_date(d).strftime("%d.%m.%Y")


def render(code: str, kind: str, amount_kzt: int | None, reply_by: Day | None) -> dict[str, str]:
    """The {kk, ru} text of one notification."""
    out: dict[str, str] = {}
    for lang in ("kk", "ru"):
        parts = ["1414:", TEMPLATES[code][lang].format(amount=fmt_amount(amount_kzt or 0))]
        if kind == "offer" and reply_by is not None:
            parts.append(REPLY[lang].format(reply_by=fmt_date(reply_by)))
        parts.append(SAFETY[lang])
        out[lang] = " ".join(parts)
    return out
