"""Kazakh and Russian SMS texts from 1414, per code and kind (rules.md §7).

Every text says what the benefit (or the notice) is and ends with the warning that 1414 never
asks for codes, card numbers or passwords. Offers give the amount (``164 350 тг``) and the
reply instruction with the deadline (``05.03.2026``); reminders repeat the offer after "you
have not answered"; withdrawals say the benefit is cancelled, with an optional reason;
notices carry no reply instruction.

The sender ID is 1414, so the text does not repeat it as a prefix. Cyrillic makes every text
UCS-2: 70 characters fit one SMS, longer texts go in parts of 67. The mandatory parts (what,
how much, how to reply, the safety line) do not fit 70 characters together, so the texts aim
at two parts (134 characters) and the ``segment_report`` shows where that holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rules.decisions import CHANGE, KINDS, NOTICE, OFFER, REMINDER, WITHDRAWAL
from state import dates
from state.dates import Day

__all__ = [
    "render", "TEMPLATES", "WITHDRAWN", "CHANGED", "REASONS", "OFFER_CODES", "NOTICE_CODES", "KINDS", "LANGUAGES",
    "kinds_for", "fmt_amount", "fmt_date", "segments", "segment_report", "SAFETY", "REPLY", "TYPICAL_AMOUNT",
]

LANGUAGES = ("kk", "ru")

OFFER_CODES = (
    "working_capacity_loss", "job_loss", "breadwinner_loss", "birth_benefit", "childcare_benefit",
    "disabled_child_carer", "disability_benefit", "large_family_benefit", "mother_award_benefit",
    "targeted_social_assistance", "funeral_payment",
)
NOTICE_CODES = ("pension_eligibility", "kandas_status_expiry", "employment_measures")

SAFETY = {
    "kk": "1414 код, карта нөмірі, құпиясөз сұрамайды.",
    "ru": "1414 не запрашивает коды, номера карт и пароли.",
}

REPLY = {
    "kk": "Келісу: 1, бас тарту: 2, {reply_by} дейін.",
    "ru": "Согласие: 1, отказ: 2, до {reply_by}.",
}

# A running benefit's new amount (rules.md §5a): information, no reply.
CHANGED = {
    "kk": "Төлем мөлшері өзгерді.",
    "ru": "Размер выплаты изменен.",
}
FROM_MONTH = {
    "kk": "{month} бастап.",
    "ru": "С {month}.",
}

NOT_ANSWERED = {
    "kk": "Жауап бермедіңіз.",
    "ru": "Вы не ответили.",
}

# How an amount is said, by the benefit's period.
AMOUNT_PHRASE: Mapping[str, Mapping[str, str]] = {
    "one_time": {"kk": "{amount}", "ru": "{amount}"},
    "monthly": {"kk": "айына {amount}", "ru": "{amount} в месяц"},
    "quarter": {"kk": "3 ай бойы айына {amount}", "ru": "{amount} в месяц на 3 месяца"},
}

OFFER_PERIOD: Mapping[str, str] = {
    **{code: "monthly" for code in OFFER_CODES},
    "birth_benefit": "one_time",
    "funeral_payment": "one_time",
    "targeted_social_assistance": "quarter",
}

# What the benefit (or notice) is. Offers and reminders: ``{amount}`` is the amount phrase
# above. Kandas: ``{until}`` is the expiry sentence from ``KANDAS_UNTIL``.
TEMPLATES: Mapping[str, Mapping[str, str]] = {
    "birth_benefit": {
        "kk": "Бала тууына жәрдемақы: {amount}.",
        "ru": "Пособие на рождение ребенка: {amount}.",
    },
    "childcare_benefit": {
        "kk": "1,5 жасқа дейін бала күтіміне жәрдемақы: {amount}.",
        "ru": "Пособие по уходу до 1,5 лет: {amount}.",
    },
    "disability_benefit": {
        "kk": "Мүгедектігі бойынша жәрдемақы: {amount}.",
        "ru": "Пособие по инвалидности: {amount}.",
    },
    "disabled_child_carer": {
        "kk": "Мүгедектігі бар баланы күтуге жәрдемақы: {amount}.",
        "ru": "Пособие по уходу за ребенком с инвалидностью: {amount}.",
    },
    "working_capacity_loss": {
        "kk": "Еңбекке қабілеттіліктен айырылу төлемі: {amount}.",
        "ru": "Выплата по утрате трудоспособности: {amount}.",
    },
    "job_loss": {
        "kk": "Жұмыстан айырылу төлемі: {amount}.",
        "ru": "Выплата по потере работы: {amount}.",
    },
    "breadwinner_loss": {
        "kk": "Асыраушысынан айырылу төлемі: {amount}.",
        "ru": "Выплата по потере кормильца: {amount}.",
    },
    "funeral_payment": {
        "kk": "Жерлеуге жәрдемақы: {amount}.",
        "ru": "Пособие на погребение: {amount}.",
    },
    "large_family_benefit": {
        "kk": "Көпбалалы отбасына жәрдемақы: {amount}.",
        "ru": "Пособие многодетной семье: {amount}.",
    },
    "mother_award_benefit": {
        "kk": "Көпбалалы анаға жәрдемақы: {amount}.",
        "ru": "Пособие многодетной матери: {amount}.",
    },
    "targeted_social_assistance": {
        "kk": "Атаулы әлеуметтік көмек: {amount}.",
        "ru": "Адресная социальная помощь: {amount}.",
    },
    "pension_eligibility": {
        "kk": "Сіз зейнеткерлік жасқа толдыңыз. Зейнетақыны egov.kz немесе ХҚКО арқылы рәсімдеңіз.",
        "ru": "Вы достигли пенсионного возраста. Пенсию можно оформить на egov.kz или в ЦОН.",
    },
    "kandas_status_expiry": {
        "kk": "{until} Оны бір рет, 6 айға дейін ұзартуға болады.",
        "ru": "{until} Его можно продлить один раз, до 6 месяцев.",
    },
    "employment_measures": {
        "kk": "Мансап орталығында жұмыссыз ретінде тіркеліп, жұмыстан айырылу төлемін алуға болады.",
        "ru": "Карьерный центр поставит вас на учет безработных и оформит выплату по потере работы.",
    },
}

# The kandas expiry sentence: (date unknown, with the date).
KANDAS_UNTIL: Mapping[str, tuple[str, str]] = {
    "kk": ("Қандас мәртебеңіздің мерзімі жақында бітеді.", "Қандас мәртебеңіз {date} дейін жарамды."),
    "ru": ("Срок статуса кандаса скоро истекает.", "Срок статуса кандаса истекает {date}."),
}

# A withdrawal: the open offer or the running payment of this benefit is cancelled.
WITHDRAWN: Mapping[str, Mapping[str, str]] = {
    "birth_benefit": {"kk": "Бала тууына жәрдемақы тоқтатылды.",
                      "ru": "Назначение пособия на рождение ребенка отменено."},
    "childcare_benefit": {"kk": "1,5 жасқа дейін бала күтіміне жәрдемақы тоқтатылды.",
                          "ru": "Назначение пособия по уходу до 1,5 лет отменено."},
    "disability_benefit": {"kk": "Мүгедектігі бойынша жәрдемақы тоқтатылды.",
                           "ru": "Назначение пособия по инвалидности отменено."},
    "disabled_child_carer": {"kk": "Мүгедектігі бар баланы күтуге жәрдемақы тоқтатылды.",
                             "ru": "Назначение пособия по уходу за ребенком с инвалидностью отменено."},
    "working_capacity_loss": {"kk": "Еңбекке қабілеттіліктен айырылу төлемі тоқтатылды.",
                              "ru": "Назначение выплаты по утрате трудоспособности отменено."},
    "job_loss": {"kk": "Жұмыстан айырылу төлемі тоқтатылды.",
                 "ru": "Назначение выплаты по потере работы отменено."},
    "breadwinner_loss": {"kk": "Асыраушысынан айырылу төлемі тоқтатылды.",
                         "ru": "Назначение выплаты по потере кормильца отменено."},
    "funeral_payment": {"kk": "Жерлеуге жәрдемақы тоқтатылды.",
                        "ru": "Назначение пособия на погребение отменено."},
    "large_family_benefit": {"kk": "Көпбалалы отбасына жәрдемақы тоқтатылды.",
                             "ru": "Назначение пособия многодетной семье отменено."},
    "mother_award_benefit": {"kk": "Көпбалалы анаға жәрдемақы тоқтатылды.",
                             "ru": "Назначение пособия многодетной матери отменено."},
    "targeted_social_assistance": {"kk": "Атаулы әлеуметтік көмек тоқтатылды.",
                                   "ru": "Назначение адресной социальной помощи отменено."},
    "pension_eligibility": {"kk": "Зейнеткерлік жас туралы хабарлама күшін жойды.",
                            "ru": "Уведомление о пенсионном возрасте отменено."},
    "kandas_status_expiry": {"kk": "Қандас мәртебесі туралы хабарлама күшін жойды.",
                             "ru": "Уведомление о статусе кандаса отменено."},
    "employment_measures": {"kk": "Жұмыспен қамту шаралары туралы хабарлама күшін жойды.",
                            "ru": "Уведомление о мерах содействия занятости отменено."},
}

# Reasons a withdrawal may give (rules.md §5), by key.
REASONS: Mapping[str, Mapping[str, str]] = {
    "recipient_death": {"kk": "алушы қайтыс болды", "ru": "смерть получателя"},
    "child_death": {"kk": "бала қайтыс болды", "ru": "смерть ребенка"},
    "disability_revoked": {"kk": "мүгедектік алынды", "ru": "инвалидность снята"},
    "disability_expired": {"kk": "мүгедектік мерзімі бітті", "ru": "истек срок инвалидности"},
    "employment_started": {"kk": "жұмысқа орналастыңыз", "ru": "вы трудоустроены"},
    "children_below_4": {"kk": "отбасында 4 баладан аз", "ru": "в семье меньше 4 детей"},
    "child_left_family": {"kk": "бала отбасынан шықты", "ru": "ребенок выбыл из семьи"},
}
_REASON = {"kk": "Себебі: {reason}.", "ru": "Причина: {reason}."}


def kinds_for(code: str) -> tuple[str, ...]:
    """The kinds a code is sent as: offers are offered, reminded, withdrawn and changed; notices are notices."""
    return (OFFER, REMINDER, WITHDRAWAL, CHANGE) if code in OFFER_CODES else (NOTICE,)


def fmt_amount(amount: int) -> str:
    return f"{amount:,}".replace(",", " ") + " тг"


def fmt_date(d: Day) -> str:
    return dates.to_date(d).strftime("%d.%m.%Y")


def _body(code: str, lang: str, amount_kzt: int | None, valid_until: Day | None) -> str:
    template = TEMPLATES[code][lang]
    if code == "kandas_status_expiry":
        soon, dated = KANDAS_UNTIL[lang]
        return template.format(until=soon if valid_until is None else dated.format(date=fmt_date(valid_until)))
    if "{amount}" not in template:
        return template
    if amount_kzt is None:  # no amount known: name the benefit only
        return template.replace(": {amount}", "")
    phrase = AMOUNT_PHRASE[OFFER_PERIOD.get(code, "one_time")][lang]
    return template.format(amount=phrase.format(amount=fmt_amount(amount_kzt)))


def _reason(reason: str | Mapping[str, str] | None, lang: str) -> str | None:
    if reason is None:
        return None
    if isinstance(reason, str):
        return REASONS[reason][lang] if reason in REASONS else None
    return reason.get(lang)


def render(code: str, kind: str, amount_kzt: int | None, reply_by: Day | None, *,
           reason: str | Mapping[str, str] | None = None, valid_until: Day | None = None,
           from_month: int | None = None) -> dict[str, str]:
    """The {kk, ru} text of one notification.

    ``reason``: for a withdrawal, a key of ``REASONS`` or a ``{"kk": ..., "ru": ...}`` pair of
    short texts; any other string is left out, so an internal (English) reason never reaches
    an SMS. ``valid_until``: for ``kandas_status_expiry``, the status's expiry date (without it
    the text says the status expires soon). ``from_month``: for a ``change``, the month the new
    amount applies from. A reply instruction is added only to offers and reminders of offer
    codes that have a ``reply_by``.
    """
    out: dict[str, str] = {}
    for lang in LANGUAGES:
        parts: list[str] = []
        if kind == WITHDRAWAL:
            parts.append(WITHDRAWN[code][lang])
            why = _reason(reason, lang)
            if why:
                parts.append(_REASON[lang].format(reason=why))
        elif kind == CHANGE:
            parts.append(CHANGED[lang])
            parts.append(_body(code, lang, amount_kzt, valid_until))
            if from_month is not None:
                parts.append(FROM_MONTH[lang].format(month=f"{from_month % 12 + 1:02d}.{from_month // 12}"))
        else:
            if kind == REMINDER:
                parts.append(NOT_ANSWERED[lang])
            parts.append(_body(code, lang, amount_kzt, valid_until))
            if kind in (OFFER, REMINDER) and reply_by is not None and code in OFFER_CODES:
                parts.append(REPLY[lang].format(reply_by=fmt_date(reply_by)))
        parts.append(SAFETY[lang])
        out[lang] = " ".join(parts)
    return out


# --- SMS segments -------------------------------------------------------------------------

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")


def _units(text: str) -> tuple[list[int], int, int]:
    """Per-character costs and the (single, multipart) capacities; GSM-7 when every character allows."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in text):
        return [2 if ch in _GSM7_EXTENDED else 1 for ch in text], 160, 153
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text], 70, 67


def segments(text: str) -> int:
    """Number of SMS parts ``text`` is sent in.

    GSM-7 when every character is in the GSM 03.38 alphabet (plain ASCII letters, digits and
    punctuation; ``[]{}^~|\\`` and € take two septets): 160 in one SMS, 153 per part. Anything
    else (Cyrillic, Kazakh letters) is UCS-2: 70 in one SMS, 67 per part, a character outside
    the BMP takes two units. An escape pair or a surrogate pair is never split across parts.
    """
    costs, single, part = _units(text)
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts


# Typical 2026 amounts for the segment report (a typical monthly or one-time figure per code).
TYPICAL_AMOUNT: Mapping[str, int] = {
    "birth_benefit": 164350,             # 38 × 4 325
    "childcare_benefit": 24912,          # 5.76 × 4 325
    "disability_benefit": 89498,         # 1.76 × 50 851
    "disabled_child_carer": 81870,       # 1.61 × 50 851
    "working_capacity_loss": 58650,      # illustrative
    "job_loss": 73440,                   # illustrative
    "breadwinner_loss": 86447,           # 1.70 × 50 851
    "funeral_payment": 151375,           # 35 × 4 325
    "large_family_benefit": 69329,       # 16.03 × 4 325
    "mother_award_benefit": 32005,       # 7.40 × 4 325
    "targeted_social_assistance": 28937,  # illustrative
}
TYPICAL_REASON: Mapping[str, str] = {
    "birth_benefit": "child_death",
    "childcare_benefit": "child_death",
    "disability_benefit": "disability_revoked",
    "disabled_child_carer": "disability_revoked",
    "working_capacity_loss": "disability_revoked",
    "job_loss": "employment_started",
    "breadwinner_loss": "child_left_family",
    "funeral_payment": "recipient_death",
    "large_family_benefit": "children_below_4",
    "mother_award_benefit": "recipient_death",
    "targeted_social_assistance": "child_left_family",
}
TYPICAL_REPLY_BY = dates.day("2026-03-05")
TYPICAL_FROM_MONTH = 2026 * 12 + 3  # April 2026
TYPICAL_VALID_UNTIL = dates.day("2026-08-15")


def typical_text(code: str, kind: str, lang: str) -> str:
    """One template rendered with a typical amount, reply date, expiry date and reason."""
    return render(
        code, kind, TYPICAL_AMOUNT.get(code), TYPICAL_REPLY_BY if kind in (OFFER, REMINDER) else None,
        reason=TYPICAL_REASON.get(code) if kind == WITHDRAWAL else None,
        valid_until=TYPICAL_VALID_UNTIL, from_month=TYPICAL_FROM_MONTH if kind == CHANGE else None,
    )[lang]


def segment_report(codes: Iterable[str] = OFFER_CODES + NOTICE_CODES) -> list[tuple[str, str, str, int, int]]:
    """Rows (code, kind, language, characters, SMS parts) for every template as typically rendered."""
    rows = []
    for code in codes:
        for kind in kinds_for(code):
            for lang in LANGUAGES:
                text = typical_text(code, kind, lang)
                rows.append((code, kind, lang, len(text), segments(text)))
    return rows


if __name__ == "__main__":
    for code, kind, lang, chars, parts in segment_report():
        print(f"{code:28} {kind:10} {lang} {chars:4} {parts}  {typical_text(code, kind, lang)}")
