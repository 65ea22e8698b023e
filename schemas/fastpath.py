"""The fast accept path of ``schemas.codec.decode``: typical valid messages, decoded in a few µs.

``decode_reference`` (validate with fastjsonschema, then check dates and IINs, then build the
``Event``) costs ~20 µs a message, most of it in generic checks and in the exception-driven
style of the compiled validator. Nearly every message is valid, so this module answers one
question per message, fast and conservatively: *is it certainly valid, and what is its
``Event``?* When the answer is "not sure" (anything unusual: a fraction of a second in an
instant, a field the codec would look at in an unexpected place, a value one step outside a
bound), it returns ``None`` and the codec runs ``decode_reference``, which produces today's
result, dead letter or event, exactly. So the fast path may only ever *accept*; every
rejection, with its code, message and path, comes from the reference.

**Generated from the schemas.** For every event type the JSON schema (``$ref``s inlined, as
``schemas.validation`` compiles it) is turned into one straight-line Python function that
returns ``None`` as soon as a value is not certainly valid. Each keyword maps to a check that
implies it (``type: string`` → ``type(v) is str``, ``type: integer`` → ``type(v) is int``, which
also excludes ``5.0`` and ``true``; ``pattern`` → a hand-written test for the contract's hot
patterns, else a ``re.fullmatch`` of the pattern's body, which is stricter than fastjsonschema's
anchored ``search``; ``format: date`` / ``date-time`` → the shape, ``datetime.fromisoformat``
and the codec's 1800-2199 range). A keyword the generator does not know makes it refuse the
type (``Unsupported``): that type then always takes the reference path, so a schema change can
slow decoding down but never make it accept what the schema rejects. Schema changes are
picked up at import, like the compiled validator.

The function returns the day ordinals of the message's top-level ``date`` / ``date-time``
fields (parsed once, for the check and the event). A per-kind finisher then does what the
codec does after validation (IIN check digits, person_registered's birth date and sex against
the IIN, occurred_on <= recorded_at) and builds the ``Event``, again returning ``None`` at the
first doubt. ``tests/schemas/test_decode_fast.py`` checks ``decode == decode_reference`` over a
generated population, mutated messages and hypothesis-made near-valid ones;
``bench/decode_speed.py`` measures both.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from schemas.validation import EVENT_TYPES, flat_schema, schema_path
from state import dates, iin
from state.dates import kz_day
from state.events import Event, Origin, tick_data

__all__ = ["EARLIEST", "LATEST", "Unsupported", "accept_source", "FAST_DECODERS", "SLOW_TYPES"]

# Dates a registry can mean (see schemas.codec): outside them the reference dead-letters.
EARLIEST: Final = dates.day("1800-01-01")
LATEST: Final = dates.day("2199-12-31")

IIN_PATTERN: Final = "^[0-9]{12}$"
DATE_PATTERN: Final = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
INSTANT_PATTERN: Final = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"

_MONTHS: Final = frozenset(f"{m:02d}" for m in range(1, 13))

# Hot patterns as plain string tests; each implies its pattern (for a ``str`` ``{v}``), which the
# tests check against the regular expression. Other patterns use ``re.fullmatch``.
# The length is what the pattern implies (so a ``maxLength`` at least that long adds nothing).
_KNOWN_PATTERNS: Final[Mapping[str, tuple[str, int]]] = {
    IIN_PATTERN: ("len({v}) == 12 and {v}.isascii() and {v}.isdigit()", 12),
    "^[0-9]{4}-(0[1-9]|1[0-2])$": ("len({v}) == 7 and {v}[4] == '-' and {v}.isascii() and {v}[:4].isdigit() "
                                   "and {v}[5:] in _MONTHS", 7),
    "^\\+7[0-9]{10}$": ("len({v}) == 12 and {v}[:2] == '+7' and {v}.isascii() and {v}[2:].isdigit()", 12),
}
# Lengths a format's check lets through (it checks them itself).
_FORMAT_LENGTHS: Final[Mapping[Any, tuple[int, int | None]]] = {"date": (10, 10), "date-time": (20, 25)}
# The pattern a format check already implies (the format's code checks the exact shape).
_IMPLIED_BY_FORMAT: Final[Mapping[Any, str]] = {"date": DATE_PATTERN, "date-time": INSTANT_PATTERN}

_ANNOTATIONS: Final = frozenset({"title", "description", "$comment", "$schema", "$id", "default", "examples"})
_KEYWORDS: Final = {
    "string": frozenset({"minLength", "maxLength", "pattern", "format", "enum", "const"}),
    "integer": frozenset({"minimum", "maximum"}),
    "boolean": frozenset(),
    "object": frozenset({"required", "properties", "additionalProperties"}),
    None: frozenset({"enum", "const"}),  # no ``type``: only string enums / consts are understood
}


class Unsupported(Exception):
    """A schema construct the generator does not turn into a fast check (the type stays slow)."""


_MISSING: Final = object()


class _Generator:
    """Python source of ``accept(obj) -> tuple[int, ...] | None`` for one flattened schema."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {}
        self.n = 0
        self.captured: list[tuple[str, str]] = []  # (top-level property, local holding its ordinal)

    def var(self, prefix: str = "v") -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, value: Any) -> str:
        name = f"_C{len(self.consts)}"
        self.consts[name] = value
        return name

    def emit(self, ind: str, line: str) -> None:
        self.lines.append(ind + line)

    def source(self, schema: Mapping[str, Any]) -> str:
        """Required properties are read with ``obj[key]``: the one ``except KeyError`` around the
        body answers "not sure" for a missing one (nothing else in the body raises KeyError)."""
        self.node(schema, "obj", "        ", top=True)
        head = [f"def {self.name}(obj):"]
        head += [f"    {local} = 0" for _, local in self.captured]
        head += ["    try:"]
        tail = ["    except KeyError:", "        return None",
                f"    return ({''.join(local + ', ' for _, local in self.captured)})"]
        return "\n".join(head + self.lines + tail) + "\n"

    def node(self, s: Mapping[str, Any], v: str, ind: str, top: bool = False, capture: str | None = None) -> None:
        """Statements that ``return None`` unless ``v`` is certainly valid per ``s``."""
        t = s.get("type")
        if isinstance(t, list):
            kinds = set(t)
            if "null" in kinds:
                if "enum" in s or "const" in s:
                    raise Unsupported(f"{self.name}: null with enum/const")
                kinds.discard("null")
                if len(kinds) != 1:
                    raise Unsupported(f"{self.name}: type {t}")
                self.emit(ind, f"if {v} is not None:")
                self.node({**s, "type": kinds.pop()}, v, ind + "    ", top, capture)
                return
            if len(kinds) != 1:
                raise Unsupported(f"{self.name}: type {t}")
            t = kinds.pop()
        if t not in _KEYWORDS:
            raise Unsupported(f"{self.name}: type {t!r}")
        unknown = set(s) - _ANNOTATIONS - _KEYWORDS[t] - {"type"}
        if unknown:
            raise Unsupported(f"{self.name}: keywords {sorted(unknown)} for type {t!r}")
        if t == "object":
            self.object(s, v, ind, top)
            return
        conds: list[str] = []
        if t in ("string", None):
            # a const or enum of strings pins the type to str as well (only those are supported)
            if t == "string" or "enum" in s or "const" in s:
                conds.append(f"type({v}) is str")
            if "const" in s:
                if type(s["const"]) is not str:
                    raise Unsupported(f"{self.name}: const {s['const']!r}")
                conds.append(f"{v} == {s['const']!r}")
            if "enum" in s:
                if not all(type(x) is str for x in s["enum"]):
                    raise Unsupported(f"{self.name}: enum {s['enum']!r}")
                conds.append(f"{v} in {self.const(frozenset(s['enum']))}")
            fmt = s.get("format")
            pattern = s.get("pattern")
            # (shortest, longest) that a pattern or format check below lets through by itself
            lo, hi = _FORMAT_LENGTHS.get(fmt, (0, None)) if t == "string" else (0, None)
            check = None
            if pattern is not None and pattern != _IMPLIED_BY_FORMAT.get(fmt):
                check, length = self.pattern(pattern, v)
                if length is not None:
                    lo, hi = max(lo, length), length if hi is None else min(hi, length)
            min_len, max_len = int(s.get("minLength", 0)), s.get("maxLength")
            if min_len > lo and max_len is not None:
                conds.append(f"{min_len} <= len({v}) <= {int(max_len)}")
            elif min_len > lo:
                conds.append(f"len({v}) >= {min_len}")
            elif max_len is not None and (hi is None or int(max_len) < hi):
                conds.append(f"len({v}) <= {int(max_len)}")
            if check is not None:
                conds.append(check)
        elif t == "integer":
            conds.append(f"type({v}) is int")  # not bool, not 5.0 (the codec wants integer literals)
            if "minimum" in s and "maximum" in s:
                conds.append(f"{self.number(s['minimum'])} <= {v} <= {self.number(s['maximum'])}")
            elif "minimum" in s:
                conds.append(f"{v} >= {self.number(s['minimum'])}")
            elif "maximum" in s:
                conds.append(f"{v} <= {self.number(s['maximum'])}")
        elif t == "boolean":
            conds.append(f"type({v}) is bool")
        if conds:
            self.emit(ind, f"if not ({' and '.join(conds)}):")
            self.emit(ind, "    return None")
        fmt = s.get("format") if t == "string" else None
        if fmt is not None:
            local = capture if capture is not None else self.var("o")
            if fmt == "date":
                self.date(v, local, ind)
            elif fmt == "date-time":
                self.instant(v, local, ind)
            else:
                raise Unsupported(f"{self.name}: format {fmt!r}")
        elif not conds:
            self.emit(ind, "pass")

    def number(self, value: Any) -> str:
        if type(value) is not int:
            raise Unsupported(f"{self.name}: bound {value!r}")
        return repr(value)

    def pattern(self, pattern: str, v: str) -> tuple[str, int | None]:
        """A condition implying ``pattern`` for the string ``v``, and the one length it allows (if so)."""
        known = _KNOWN_PATTERNS.get(pattern)
        if known is not None:
            return known[0].format(v=v), known[1]
        # ``^BODY$`` (fastjsonschema: search for ``^BODY\Z``): a full match of BODY is at least as strict.
        if not (pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")):
            raise Unsupported(f"{self.name}: pattern {pattern!r}")
        return f"{self.const(re.compile(pattern[1:-1]))}.fullmatch({v}) is not None", None

    def date(self, v: str, local: str, ind: str) -> None:
        """``YYYY-MM-DD`` (ASCII; ``date.fromisoformat`` takes only digits where the pattern has
        ``[0-9]``, which the tests check), a real date, within 1800-2199; ``local`` = its ordinal."""
        self.emit(ind, f"if len({v}) != 10 or {v}[4] != '-' or {v}[7] != '-' or not {v}.isascii():")
        self.emit(ind, "    return None")
        self.emit(ind, "try:")
        self.emit(ind, f"    {local} = _date({v}).toordinal()")
        self.emit(ind, "except ValueError:")
        self.emit(ind, "    return None")
        self.emit(ind, f"if {local} < _EARLIEST or {local} > _LATEST:")
        self.emit(ind, "    return None")

    def instant(self, v: str, local: str, ind: str) -> None:
        """Only the two common shapes, ``YYYY-MM-DDTHH:MM:SS+hh:mm`` (``-hh:mm``) and
        ``YYYY-MM-DDTHH:MM:SSZ``; fractions of a second and anything else go the slow way.
        ``datetime.fromisoformat`` checks the digits and ranges (the tests check it takes
        nothing the pattern rejects), the offset's minutes must be < 60 (as in
        ``schemas.validation._is_instant``), the date within 1800-2199; ``local`` = the ordinal
        of its date part (what ``dates.day`` gives)."""
        self.emit(ind, f"if len({v}) == 25:")
        self.emit(ind, f"    if {v}[19] != '+' and {v}[19] != '-' or {v}[22] != ':' or {v}[23:] >= '60':")
        self.emit(ind, "        return None")
        self.emit(ind, f"elif len({v}) != 20 or {v}[19] != 'Z':")
        self.emit(ind, "    return None")
        self.emit(ind, f"if {v}[4] != '-' or {v}[7] != '-' or {v}[10] != 'T' or {v}[13] != ':' or {v}[16] != ':' "
                       f"or not {v}.isascii():")
        self.emit(ind, "    return None")
        self.emit(ind, "try:")
        self.emit(ind, f"    {local} = _kz_day({v})")
        self.emit(ind, "except ValueError:")
        self.emit(ind, "    return None")
        self.emit(ind, f"if {local} < _EARLIEST or {local} > _LATEST:")
        self.emit(ind, "    return None")

    def object(self, s: Mapping[str, Any], v: str, ind: str, top: bool) -> None:
        self.emit(ind, f"if type({v}) is not dict:")
        self.emit(ind, "    return None")
        props: Mapping[str, Any] = s.get("properties", {})
        required = list(s.get("required", ()))
        for key in required:
            if key not in props:
                self.emit(ind, f"if {key!r} not in {v}:")
                self.emit(ind, "    return None")
        for key, sub in props.items():
            pv = self.var()
            capture = None
            if top and isinstance(sub, Mapping) and sub.get("format") in ("date", "date-time"):
                capture = self.var("o")
                self.captured.append((key, capture))
            if key in required:
                self.emit(ind, f"{pv} = {v}[{key!r}]")  # KeyError: see ``source``
                self.node(sub, pv, ind, capture=capture)
            else:
                self.emit(ind, f"{pv} = {v}.get({key!r}, _MISSING)")
                self.emit(ind, f"if {pv} is not _MISSING:")
                self.node(sub, pv, ind + "    ", capture=capture)
        extra = s.get("additionalProperties", True)
        if extra is False:
            self.emit(ind, f"if not {v}.keys() <= {self.const(frozenset(props))}:")
            self.emit(ind, "    return None")
        elif extra is not True:
            raise Unsupported(f"{self.name}: additionalProperties {extra!r}")


def accept_source(etype: str, root: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    """The generated source of ``etype``'s accept function, its constants, and the names of
    the top-level date fields whose ordinals it returns (in that order). Raises ``Unsupported``.
    ``root``: the type's flattened schema, if already loaded."""
    gen = _Generator(f"accept_{etype}")
    src = gen.source(flat_schema(schema_path(etype)) if root is None else root)
    return src, gen.consts, tuple(key for key, _ in gen.captured)


def _compile_accept(etype: str, root: Mapping[str, Any], dates_needed: tuple[str, ...]
                    ) -> tuple[Callable[[dict[str, Any]], tuple[int, ...] | None], tuple[int, ...]]:
    """The accept function and the positions of ``dates_needed`` in the ordinals it returns.

    Each of them must be a required, string-only top-level field (else an absent or null one
    would read as ordinal 0), or the type is ``Unsupported``.
    """
    for key in dates_needed:
        if key not in root.get("required", ()) or root.get("properties", {}).get(key, {}).get("type") != "string":
            raise Unsupported(f"accept_{etype}: {key} is not a required string")
    src, consts, captured = accept_source(etype, root)
    if not set(dates_needed) <= set(captured):
        raise Unsupported(f"accept_{etype}: {sorted(set(dates_needed) - set(captured))} not date fields")
    namespace: dict[str, Any] = {
        "_MISSING": _MISSING, "_MONTHS": _MONTHS, "_EARLIEST": EARLIEST, "_LATEST": LATEST,
        "_date": dt.date.fromisoformat, "_datetime": dt.datetime.fromisoformat, "_kz_day": kz_day, **consts,
    }
    exec(compile(src, f"<schemas.fastpath accept_{etype}>", "exec"), namespace)  # noqa: S102 - our own schemas
    return namespace[f"accept_{etype}"], tuple(captured.index(key) for key in dates_needed)


# --- building the results --------------------------------------------------------------

def _slot_constructor(cls: type) -> Callable[..., Any]:
    """A positional constructor of the frozen slots dataclass ``cls`` that fills its slots directly.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` for every field, which
    was a third of the fast path. Instead the object is made as a twin class with the same
    slots and plain attribute assignment, then given its real ``__class__`` (allowed between
    identical layouts; the same trick as ``store.compact``). Used only when ``cls`` is exactly
    what this expects (every field an ``__init__`` parameter, in order, no ``__post_init__``,
    derived from ``object`` only); otherwise the class itself is returned, so a change to
    ``state.events`` costs speed, never correctness. The tests check both build equal objects.
    """
    if (not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__")
            or cls.__bases__ != (object,)):
        return cls
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    params = list(inspect.signature(cls.__init__).parameters)  # type: ignore[misc]
    if params != ["self", *names] or not all(f.init for f in fields) or tuple(cls.__dict__["__slots__"]) != tuple(names):
        return cls
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": tuple(names), "__module__": __name__})
    try:
        probe: Any = object.__new__(twin)
        probe.__class__ = cls  # TypeError unless the layouts are the same
    except TypeError:
        return cls
    args = ", ".join(f"a{i}" for i in range(len(names)))
    sets = "".join(f"    o.{name} = a{i}\n" for i, name in enumerate(names))
    ns: dict[str, Any] = {"_new": object.__new__, "_T": twin, "_C": cls}
    exec(f"def make({args}):\n    o = _new(_T)\n{sets}    o.__class__ = _C\n    return o\n", ns)  # noqa: S102
    return ns["make"]  # type: ignore[no-any-return]


_new_event: Final = _slot_constructor(Event)
_new_origin: Final = _slot_constructor(Origin)

# Fields of ``data`` that the codec reads after validation (dates range-checked, parents'
# IINs checked). Where a type's schema does not declare one of them (as a date / an IIN), a
# message carrying it takes the reference path, which does whatever it does with it.
_DATA_DATES: Final = ("birth_date", "valid_until")
_DATA_IINS: Final = ("mother_iin", "father_iin")
_CENTURY_PREFIX: Final = {"1": "18", "2": "18", "3": "19", "4": "19", "5": "20", "6": "20"}

FastDecoder = Callable[[dict[str, Any], Any], "Event | None"]


def _life_decoder(etype: str, root: Mapping[str, Any]) -> FastDecoder:
    accept, (i_occ, i_rec) = _compile_accept(etype, root, ("occurred_on", "recorded_at"))
    props = root.get("properties", {}).get("data", {}).get("properties", {})
    dates_ok = {k for k in _DATA_DATES if props.get(k, {}).get("format") == "date"
                and props[k].get("type") == "string"}
    iins_ok = {k for k in _DATA_IINS if props.get(k, {}).get("pattern") == IIN_PATTERN
               and props[k].get("type") == "string"}
    watched = tuple(k for k in _DATA_DATES + _DATA_IINS if k not in dates_ok | iins_ok)
    parents = tuple(k for k in _DATA_IINS if k in iins_ok)
    person = etype == "person_registered"
    valid_iin = iin.is_valid
    new_event, new_origin = _new_event, _new_origin

    def decode_fast(obj: dict[str, Any], raw: Any) -> Event | None:
        ords = accept(obj)
        if ords is None:
            return None
        occurred = ords[i_occ]
        recorded = ords[i_rec]
        if occurred > recorded:
            return None
        subject = obj.get("iin")
        if type(subject) is not str or not valid_iin(subject):
            return None
        data = obj.get("data")
        if data:
            for key in watched:
                if key in data:
                    return None
            for key in parents:
                other = data.get(key)
                if other is not None and not valid_iin(other):
                    return None
            if person:
                # the IIN is valid, so its birth date is real: compare the text (``born.isoformat()``)
                if data.get("birth_date") != (_CENTURY_PREFIX[subject[6]] + subject[0:2] + "-" + subject[2:4]
                                              + "-" + subject[4:6]):
                    return None
                if data.get("sex") != ("male" if subject[6] in "135" else "female"):
                    return None
        else:
            data = {}
        eid = obj.get("event_id", _MISSING)
        if eid is _MISSING:
            return None
        return new_event(eid, etype, subject, occurred, recorded, data,  # type: ignore[no-any-return]
                         new_origin(raw.topic, raw.partition, raw.offset, raw.value, raw.seq, raw.timestamp_ms),
                         raw.open_day)

    return decode_fast


def _day_decoder(etype: str, root: Mapping[str, Any]) -> FastDecoder:
    accept, (i_occ,) = _compile_accept(etype, root, ("occurred_on",))
    new_event, new_origin = _new_event, _new_origin

    def decode_fast(obj: dict[str, Any], raw: Any) -> Event | None:
        ords = accept(obj)
        if ords is None:
            return None
        eid = obj.get("event_id", _MISSING)
        if eid is _MISSING:
            return None
        d = ords[i_occ]
        return new_event(eid, etype, "", d, d, tick_data(raw),  # type: ignore[no-any-return]
                         new_origin(raw.topic, raw.partition, raw.offset, raw.value, raw.seq, raw.timestamp_ms),
                         raw.open_day)

    return decode_fast


def _sms_decoder(etype: str, root: Mapping[str, Any]) -> FastDecoder:
    accept, (i_rec,) = _compile_accept(etype, root, ("received_at",))
    new_event, new_origin = _new_event, _new_origin

    def decode_fast(obj: dict[str, Any], raw: Any) -> Event | None:
        ords = accept(obj)
        if ords is None:
            return None
        eid = obj.get("event_id", _MISSING)
        phone = obj.get("phone", _MISSING)
        if eid is _MISSING or phone is _MISSING:
            return None
        d = ords[i_rec]
        return new_event(eid, etype, phone, d, d, obj,  # type: ignore[no-any-return]
                         new_origin(raw.topic, raw.partition, raw.offset, raw.value, raw.seq, raw.timestamp_ms),
                         raw.open_day)

    return decode_fast


def _build() -> tuple[dict[str, FastDecoder], dict[str, str]]:
    decoders: dict[str, FastDecoder] = {}
    slow: dict[str, str] = {}
    for etype in sorted(EVENT_TYPES):
        make = _day_decoder if etype == "day" else _sms_decoder if etype == "sms_reply" else _life_decoder
        try:
            decoders[etype] = make(etype, flat_schema(schema_path(etype)))
        except Unsupported as exc:
            slow[etype] = str(exc)
    return decoders, slow


# Event type -> fast decoder; types the generator refused (with why) always decode the slow way.
FAST_DECODERS, SLOW_TYPES = _build()
