"""Kazakh individual identification numbers (IIN), rules.md §6.

An IIN is ``YYMMDD C SSSS K``: birth date, a century-and-sex digit, a serial and a
check digit. The registries key every life event by it, so a wrong one must be caught
at the edge rather than create a phantom person.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["check_digit", "is_valid", "is_valid_reference", "birth_date_of", "sex_of", "make_iin"]

_CENTURY = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}


def check_digit(first11: str) -> int | None:
    """The check digit for 11 leading digits, or None when no valid IIN has them.

    Unrolled: every input message's IINs are checked, and this is ~10x the generic loop.
    """
    d = [ord(c) - 48 for c in first11]
    s = (d[0] + 2 * d[1] + 3 * d[2] + 4 * d[3] + 5 * d[4] + 6 * d[5] + 7 * d[6] + 8 * d[7]
         + 9 * d[8] + 10 * d[9] + 11 * d[10]) % 11
    if s == 10:
        s = (3 * d[0] + 4 * d[1] + 5 * d[2] + 6 * d[3] + 7 * d[4] + 8 * d[5] + 9 * d[6] + 10 * d[7]
             + 11 * d[8] + d[9] + 2 * d[10]) % 11
        if s == 10:
            return None
    return s


def birth_date_of(iin: str) -> dt.date | None:
    """The birth date encoded in an IIN, or None when it is not a calendar date."""
    century = _CENTURY.get(ord(iin[6]) - 48)
    if century is None:
        return None
    try:
        return dt.date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        return None


def sex_of(iin: str) -> str:
    """``male`` for an odd century digit, ``female`` for an even one."""
    return "male" if (ord(iin[6]) - 48) % 2 == 1 else "female"


# Byte value of the century digit -> the century of the birth year (for ``is_valid``).
_CENTURY_OF_BYTE = {48 + k: v for k, v in _CENTURY.items()}
# Days in each month of a common year (index 1-12); 29 February is checked on its own.
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# 48 * (1 + 2 + ... + 11): the digits are summed as byte values, then the offset is taken off.
# The second weights (3..11, 1, 2) add up to 66 as well.
_ZERO_WEIGHT = 48 * 66


def is_valid(iin: str) -> bool:
    """Twelve digits, a real birth date, a known century digit and a matching check digit.

    The same answer as ``is_valid_reference`` (the readable definition, kept for the tests),
    in straight-line arithmetic on the bytes: every input message's IINs pass through here.
    """
    if len(iin) != 12 or not iin.isascii() or not iin.isdigit():
        return False
    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11 = iin.encode()
    century = _CENTURY_OF_BYTE.get(a6)
    if century is None:
        return False
    month = a2 * 10 + a3 - 528  # 528 = 48 * 11: two ASCII digits to their number
    if month < 1 or month > 12:
        return False
    day = a4 * 10 + a5 - 528
    if day < 1 or (day > _MONTH_DAYS[month] and not (month == 2 and day == 29 and _leap(century + a0 * 10 + a1 - 528))):
        return False
    s = (a0 + 2 * a1 + 3 * a2 + 4 * a3 + 5 * a4 + 6 * a5 + 7 * a6 + 8 * a7 + 9 * a8 + 10 * a9 + 11 * a10
         - _ZERO_WEIGHT) % 11
    if s == 10:
        s = (3 * a0 + 4 * a1 + 5 * a2 + 6 * a3 + 7 * a4 + 8 * a5 + 9 * a6 + 10 * a7 + 11 * a8 + a9 + 2 * a10
             - _ZERO_WEIGHT) % 11
        if s == 10:
            return False
    return s == a11 - 48


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def is_valid_reference(iin: str) -> bool:
    """The definition ``is_valid`` must agree with (tests/schemas/test_decode_fast.py checks it does)."""
    if len(iin) != 12 or not iin.isascii() or not iin.isdigit():
        return False
    if birth_date_of(iin) is None:
        return False
    return check_digit(iin[:11]) == ord(iin[11]) - 48


def make_iin(birth: dt.date, sex: str, serial: int) -> str | None:
    """Build a valid IIN, or None when this serial gives no valid check digit (try the next)."""
    base = 1 if birth.year < 1900 else 3 if birth.year < 2000 else 5
    century = base + (0 if sex == "male" else 1)
    first11 = f"{birth:%y%m%d}{century}{serial % 10000:04d}"
    k = check_digit(first11)
    return None if k is None else f"{first11}{k}"
