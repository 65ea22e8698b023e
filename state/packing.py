"""Arrays as little-endian bytes: the packed form ``Seen`` keeps its dates in, and the one
``BirthSlot``'s IINs are pickled as, the same bytes on every machine."""

from __future__ import annotations

import sys
from array import array

__all__ = ["le_bytes", "from_le_bytes"]

_SWAP = sys.byteorder != "little"
assert array("H").itemsize == 2 and array("I").itemsize == 4 and array("q").itemsize == 8


def le_bytes(a: array) -> bytes:
    """Little-endian bytes of an array (the pickled form is the same on every machine)."""
    if _SWAP:
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def from_le_bytes(typecode: str, b: bytes) -> array:
    a = array(typecode)
    a.frombytes(b)
    if _SWAP:
        a.byteswap()
    return a
