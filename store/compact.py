"""Compact, fast pickles for slots dataclasses: the reductions the store registers.

Bytewax pickles every item exchanged between workers and every snapshot with the standard
``pickle`` module. A slots dataclass pickles by default through ``copyreg.__newobj__`` and
``dataclasses._dataclass_getstate`` (a ``fields()`` call and a list per object), or, when
not frozen, as a dict of slot names to values. ``compact(cls)`` replaces that by
``(rebuild, (value, value, ...))``, registered from outside the class: the reduction goes
into ``copyreg.dispatch_table`` (which ``pickle`` and ``copy`` consult, by exact type, before
an object's own ``__reduce_ex__``), so the domain classes carry no pickling code at all.

- ``rebuild`` is a generated function named ``_<Class>`` in ``home`` (the class's own module
  unless told otherwise: the name pickles hold, see below) that makes the object with
  ``object.__new__`` and sets its slots directly: no ``__init__``, no ``fields()``. A frozen
  class is built as a same-layout twin class with plain slots and then given its real
  ``__class__`` (3x cheaper than ``object.__setattr__`` per field);
- the values are a plain tuple in a chosen order (``order``: the fields most often set
  first), and trailing fields that hold their default are left out; ``rebuild`` restores
  them (a fresh container for a ``default_factory``). A field that holds its default
  anywhere else costs one to three bytes;
- ``codecs`` may give a field a smaller encoding: ``{"field": (encode, decode)}``, two
  functions of the value, or two expression templates with ``{}`` for it (inlined, for
  the cheap ones). They must take any value, the default included: a field that is sent
  is encoded, one that is dropped is its default.

A pickle names its rebuild function by module and name, or, for the classes pickled most
often, by a copyreg *extension code* (two bytes, ``EXT1``; the table is
``store.picklers.EXTENSION_CODES``). A function named by module must stay where the pickles
written before look for it (``state.offers._Contact``): ``compact`` installs it there, in the
class's module, from outside. One named by a code may live anywhere the code table says.

Equality, ``repr``, ``dataclasses.replace`` and ``copy`` keep working (``copy`` uses the
same reduction). ``rebuilder(cls)`` is the fast constructor, ``reducer(cls)`` the reduction,
and ``is_rebuild(module, name, obj)`` tells the safe unpickler that a global a pickle names
is one of these functions (``store.safe_load``).
"""

from __future__ import annotations

import copyreg
import struct
import sys
from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

__all__ = ["compact", "register", "rebuilder", "reducer", "is_rebuild", "Codec", "DAY", "OPT_DAY", "PHONE",
           "enum_codec", "months_encode", "months_decode"]

T = TypeVar("T")

# Every rebuild function registered (by ``compact`` or ``register``), by class and by the
# (module, name) pickles know it by.
_REBUILDS: dict[type, Callable[..., Any]] = {}
_BY_NAME: dict[tuple[str, str], Callable[..., Any]] = {}

_MISSING = object()
_CODEC_SCOPE: dict[str, Any] = {}  # names the codec templates use (``enum_codec`` tables)


Codec = tuple[Callable[[Any], Any] | str, Callable[[Any], Any] | str]


def compact(cls: type[T] | None = None, /, *, order: tuple[str, ...] = (),
            codecs: dict[str, Codec] | None = None, home: str | None = None) -> Any:
    """Register ``cls``'s compact reduction; a function, or a class decorator (outermost, above
    ``@dataclass(slots=True, ...)``) for the classes that may name the store; see the module doc.

    ``order``: field names to put first in the pickled tuple (the rest follow in declaration
    order). Put fields that usually hold their default last: trailing defaults are dropped.
    ``home``: the module the rebuild function is defined in (default: the class's own).
    """

    def wrap(c: type[T]) -> type[T]:
        _install(c, order, codecs or {}, home or c.__module__)
        return c

    return wrap if cls is None else wrap(cls)


def register(cls: type, reduce: Callable[[Any], tuple[Any, tuple[Any, ...]]], rebuild: Callable[..., Any]) -> None:
    """Register a hand-written reduction (``reduce(obj) -> (rebuild, args)``) and its module-level
    rebuild function, for a class whose pickle ``compact`` cannot generate."""
    if cls in _REBUILDS:
        raise TypeError(f"{cls.__name__} already has a reduction")
    _REBUILDS[cls] = _BY_NAME[(rebuild.__module__, rebuild.__qualname__)] = rebuild
    copyreg.pickle(cls, reduce)


def rebuilder(cls: type) -> Callable[..., Any]:
    """The rebuild function of a registered class: a fast constructor taking the pickled
    tuple's values (positionally, trailing defaults optional), bypassing ``__init__``."""
    return _REBUILDS[cls]


def reducer(cls: type) -> Callable[[Any], tuple[Any, tuple[Any, ...]]]:
    """The reduction registered for ``cls``: ``reducer(cls)(obj)`` is ``(rebuild, values)``."""
    return copyreg.dispatch_table[cls]  # type: ignore[return-value]


def is_rebuild(module: str, name: str, obj: object) -> bool:
    """``obj``, found as ``module.name``, is a rebuild function registered here (and not, say,
    another function of that module): what the safe unpickler lets a pickle call."""
    return _BY_NAME.get((module, name)) is obj


def _default_check(name: str, f: Any, scope: dict[str, Any]) -> str | None:
    """A Python expression true when local ``v_<name>`` holds field ``f``'s default, or None."""
    v = f"v_{name}"
    if f.default_factory is not MISSING:
        empty = f.default_factory()
        if empty or type(empty) not in (dict, list, set, tuple, frozenset, bytes, str, bytearray):
            return None
        scope[f"_t_{name}"] = type(empty)
        return f"({v}.__class__ is _t_{name} and not {v})"
    d = f.default
    if d is MISSING:
        return None
    scope[f"_d_{name}"] = d
    if d is None or d is True or d is False:
        return f"{v} is {d!r}"
    if type(d) in (int, str, bytes) or (type(d) in (tuple, frozenset) and not d):
        scope[f"_t_{name}"] = type(d)
        return f"({v} == _d_{name} and {v}.__class__ is _t_{name})"
    return None


def _install(cls: type, order: tuple[str, ...], codecs: dict[str, Codec], home_name: str) -> None:
    if not is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"@compact needs a @dataclass(slots=True) class, got {cls!r}")
    by_name = {f.name: f for f in fields(cls)}
    unknown = [n for n in (*order, *codecs) if n not in by_name]
    if unknown or len(set(order)) != len(order):
        raise TypeError(f"{cls.__name__}: bad order/codecs names {unknown or order}")
    names = list(order) + [n for n in by_name if n not in order]
    home = sys.modules[home_name]
    rebuild_name = f"_{cls.__name__}"
    if hasattr(home, rebuild_name) or cls in _REBUILDS:
        raise TypeError(f"{home_name}.{rebuild_name} already exists")

    scope: dict[str, Any] = {**_CODEC_SCOPE, "_new": object.__new__, "_M": _MISSING, "_C": cls}
    checks = [_default_check(n, by_name[n], scope) for n in names]  # on locals named v_<field>
    # the shortest tuple always sent: up to the last field that has no usable default check
    required = max((i + 1 for i, c in enumerate(checks) if c is None), default=0)

    def coded(n: str, which: int) -> str:
        """The expression encoding (0) or decoding (1) local ``v_<n>``."""
        if n not in codecs:
            return f"v_{n}"
        fn = codecs[n][which]
        if isinstance(fn, str):
            return "(" + fn.format(f"v_{n}") + ")"
        scope[f"_{('enc', 'dec')[which]}_{n}"] = fn
        return f"_{('enc', 'dec')[which]}_{n}(v_{n})"

    encoded = [coded(n, 0) for n in names]
    lines = ["def _reduce(self):"]
    lines += [f"    v_{n} = self.{n}" for n in names]
    for k in range(len(names), required, -1):  # k fields sent; check field k-1, then fewer
        lines.append(f"    if not {checks[k - 1]}: return (_R, ({', '.join(encoded[:k])},))")
    lines.append(f"    return (_R, ({''.join(e + ', ' for e in encoded[:required])}))")

    # rebuild: parameters in pickle order; a droppable one defaults to the field's default
    # (a sentinel when that is a factory's fresh container or needs no decoding)
    twin = _twin(cls)
    scope["_T"] = twin
    params, body = [], [f"    _o = _new({'_T' if twin is not cls else '_C'})"]
    for i, n in enumerate(names):
        f = by_name[n]
        sent = coded(n, 1)
        if i < required:
            params.append(f"v_{n}")
            value = sent
        elif f.default_factory is MISSING and n not in codecs:
            params.append(f"v_{n}=_d_{n}")  # an immutable default (see _default_check)
            value = f"v_{n}"
        else:
            params.append(f"v_{n}=_M")
            if f.default_factory is not MISSING:
                scope[f"_f_{n}"] = f.default_factory
                dflt = f"_f_{n}()"
            else:
                dflt = f"_d_{n}"
            value = f"({dflt} if v_{n} is _M else {sent})"
        body.append(f"    _o.{n} = {value}")
    if twin is not cls:
        body.append("    _o.__class__ = _C")
    body.append("    return _o")
    lines += [f"def _R({', '.join(params)}):", *body]
    exec("\n".join(lines), scope)  # noqa: S102 - generated from the dataclass's own field list

    rebuild = scope["_R"]
    rebuild.__name__ = rebuild.__qualname__ = rebuild_name
    rebuild.__module__ = home_name
    setattr(home, rebuild_name, rebuild)  # where ``pickle`` finds it by name
    reduce = scope["_reduce"]
    reduce.__name__ = reduce.__qualname__ = f"_reduce{rebuild_name}"
    register(cls, reduce, rebuild)


def _twin(cls: type) -> type:
    """A class with ``cls``'s slot layout but plain attribute assignment, or ``cls`` itself.

    A frozen dataclass forbids ``setattr``; building the object as the twin and then
    assigning ``__class__`` (allowed between identical layouts) avoids a slow
    ``object.__setattr__`` per field.
    """
    if cls.__setattr__ is object.__setattr__:
        return cls
    if cls.__bases__ != (object,):
        raise TypeError(f"@compact: frozen {cls.__name__} must derive from object only")
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": cls.__dict__["__slots__"], "__module__": cls.__module__})
    probe: Any = object.__new__(twin)
    probe.__class__ = cls  # raises TypeError if the layouts differ
    return twin


# --- codecs for the state's common value shapes ---------------------------------------------
# All lossless: a value of an unexpected shape is sent as it is. Templates are inlined
# into the generated code ({0} is the value).

DAY_EPOCH = 693596  # date(1900, 1, 1).toordinal(): dates to 2079-06-06 pickle in 3 bytes, not 5
DAY: Codec = (f"{{0}} - {DAY_EPOCH}", f"{{0}} + {DAY_EPOCH}")
OPT_DAY: Codec = (f"None if {{0}} is None else {{0}} - {DAY_EPOCH}", f"None if {{0}} is None else {{0}} + {DAY_EPOCH}")
# a Kazakh mobile number "+7" and 10 digits as an int (7 bytes instead of 15)
PHONE: Codec = ("int({0}[1:]) if {0}.__class__ is str and len({0}) == 12 and {0}[:2] == '+7' and {0}.isascii() "
                "and {0}[1:].isdigit() else {0}",
                "'+%d' % {0} if {0}.__class__ is int else {0}")


def enum_codec(values: tuple[str, ...]) -> Codec:
    """A string from ``values`` as its index (1-2 bytes, and the loaded string is shared).

    Append only: the index is what pickles and snapshots hold."""
    n = len(_CODEC_SCOPE)
    _CODEC_SCOPE[f"_enum{n}_index"] = {v: i for i, v in enumerate(values)}
    _CODEC_SCOPE[f"_enum{n}_values"] = values
    return (f"_enum{n}_index.get({{0}}, {{0}}) if {{0}}.__class__ is str else {{0}}",
            f"_enum{n}_values[{{0}}] if {{0}}.__class__ is int else {{0}}")


def months_encode(c: Any) -> Any:
    """``{month: amount}`` as bytes, 4 bytes a month instead of 8: when the months are
    contiguous, b"\\0" + the first (uint16) + the amounts in month order (uint32); otherwise
    b"\\1" + the months in order (uint16) + their amounts, 6 bytes a month. A dict that does
    not fit (an amount of 2^32 or more) stays a dict. Loaded in month order (a dict compares
    equal whatever its order)."""
    if c.__class__ is not dict or not c:
        return c
    keys = tuple(c)
    first, n = keys[0], len(keys)
    try:
        if keys[-1] - first + 1 == n and keys == tuple(range(first, first + n)):  # the usual order
            return b"\0" + _packer(f"<H{n}I").pack(first, *c.values())
        months = sorted(keys)
        first = months[0]
        if months[-1] - first + 1 == n:
            return b"\0" + _packer(f"<H{n}I").pack(first, *map(c.__getitem__, months))
        return b"\1" + _packer(f"<{n}H{n}I").pack(*months, *map(c.__getitem__, months))
    except (struct.error, TypeError):  # not int months and amounts in range
        return c


def months_decode(v: Any) -> Any:
    if v.__class__ is not bytes:
        return v
    if v[0] == 0:
        n = (len(v) - 3) >> 2
        t = _packer(f"<H{n}I").unpack_from(v, 1)
        first = t[0]
        return dict(zip(range(first, first + n), t[1:]))
    n = (len(v) - 1) // 6
    t = _packer(f"<{n}H{n}I").unpack_from(v, 1)
    return dict(zip(t[:n], t[n:]))


_PACKERS: dict[str, struct.Struct] = {}


def _packer(fmt: str) -> struct.Struct:
    s = _PACKERS.get(fmt)
    if s is None:
        s = _PACKERS[fmt] = struct.Struct(fmt)
    return s
