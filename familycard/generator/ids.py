"""Allocation of identifiers: IINs, phone numbers, IBANs, employer BINs, family and event ids.

A consumer keys its state on IINs, family ids and event ids, and a phone number belongs to
one person, so those must never repeat, also when the population is generated in parts that
never talk to each other. Each of those allocators owns a disjoint slice of its space per
part (IIN serials K+1, K+1+P, …; subscriber numbers K, K+P, …; family ids from the global
index; event ids tagged with the part), which is easier to check with the allocators side
by side. IBANs and employer BINs are only well-formed (valid check digits): a BIN may recur
in another part, as the package docstring says.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random

from familycard.generator.reference import _ALNUM, _BANKS, _MAX_SERIAL, _OPERATORS
from familycard.generator.world import _State
from state.iin import check_digit, make_iin


def _iban(r: random.Random) -> str:
    """A Kazakh IBAN whose mod-97 check digits are right, so a strict consumer accepts it too."""
    bban = r.choice(_BANKS) + "".join(r.choice(_ALNUM) if i == 0 else str(r.randrange(10)) for i in range(13))
    numeric = "".join(str(int(c, 36)) for c in bban + "KZ00")
    return f"KZ{98 - int(numeric) % 97:02d}{bban}"


class _Ids(_State):
    """The allocators of ``_World``; they draw from ``r`` only for random ids (phones, BINs; IBANs: ``_iban``)."""

    __slots__ = ()

    def event_id(self, prefix: str) -> str:
        counter = self.ids.get(prefix)
        if counter is None:
            counter = self.ids[prefix] = itertools.count(1)
        return f"{prefix}{self.tag}-{next(counter):07d}"

    def new_iin(self, born: int, male: bool) -> tuple[str, int]:
        """A unique valid IIN and the birth day it encodes: one serial counter per (birth date, sex),
        skipping serials with no check digit.

        Part K of P uses serials K+1, K+1+P, K+1+2P, … up to 9999, so parts never share an IIN.
        When a birth date's serials are used up (at national scale the ages the draws clamp to,
        e.g. exactly 80 or 17.9 years, pile up on one date), someone born before the period is
        born a day later instead; a newborn of the period has no such way out, and that fails
        rather than reuse an IIN. Below that density (up to about 3 million families in all,
        however many parts) nobody moves.
        """
        while True:
            key = (born, male)
            serial = self.serials.get(key, self.part + 1)
            birth = dt.date.fromordinal(born)
            sex = "male" if male else "female"
            while serial <= _MAX_SERIAL:
                iin = make_iin(birth, sex, serial)
                serial += self.parts
                if iin is not None:
                    self.serials[key] = serial
                    return iin, born
            self.serials[key] = serial
            if born + 1 >= self.start:
                raise RuntimeError(
                    f"IIN serials exhausted for people born {birth} ({sex}) in part {self.part} of {self.parts}: "
                    f"an IIN has {_MAX_SERIAL} serials per birth date and sex, this part gets every "
                    f"{self.parts}th of them")
            born += 1

    def new_phone(self) -> str:
        """A phone number no one else has: part K of P uses subscriber numbers K, K+P, K+2P, …"""
        r = self.r
        if len(self.phones) * 2 >= self.phone_slots * len(_OPERATORS):
            raise RuntimeError(f"phone numbers of part {self.part} of {self.parts} are half used up: use fewer parts")
        while True:
            phone = f"+7{r.choice(_OPERATORS)}{self.part + self.parts * r.randrange(self.phone_slots):07d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def family_id(self, fam: int) -> str:
        """The wire id of local family ``fam``: from its global index (module docstring)."""
        if fam < self.families:
            index = self.part + self.parts * fam
        else:  # formed in the period: after every part's initial families
            index = self.total + self.part + self.parts * (fam - self.families)
        return f"F-{index + 1:07d}"

    def new_family(self) -> int:
        self.members.append([])
        return len(self.members) - 1

    def new_employer_bin(self) -> str:
        """A random BIN (12 digits, the 5th digit 4 for a legal entity) with a valid check digit."""
        r = self.r
        while True:
            first11 = f"{r.randrange(0, 26):02d}{r.randrange(1, 13):02d}40{r.randrange(100_000):05d}"
            k = check_digit(first11)
            if k is not None:
                return first11 + str(k)
