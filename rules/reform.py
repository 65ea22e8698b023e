"""Parametric reforms (issue 15, "Policy what-if"): an overlay on ``parameters.json``.

A reform is data, not code — the OpenFisca habit: ``REFORM.json`` has the same shape as
``rules/parameters.json`` (``dated``, ``scalars``, ``coefficients``, ``retirement_age``, any
subset) plus an optional ``label``, and replaces or adds leaf values. Rules never learn they run
under a reform: they read the merged parameters through the ``Params`` they are given.

A what-if replays months of history, so a typo must fail before anything runs, not produce a
quietly wrong report. Every check below therefore refuses with a ``ReformError`` that names the
JSON path of the offending value, and types follow the base file: KZT series stay whole tenge,
coefficients and shares stay decimal strings (exact amounts, rules.md §1), day and month
counts stay non-negative integers. Numbers are refused where the base has decimal strings,
even when exact (``5`` for ``"5"``): one spelling per value keeps the overlay diffable against
``parameters.json``, and floats such as ``0.7`` are not what the reviewer thinks they are.

Only values may change. Labels, units and sources describe the law the value comes from; a
reform that rewrote them would make the report cite a source for a number it never gave.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rules.params import PARAMETERS_FILE, Params

__all__ = ["Change", "Reform", "ReformError", "describe", "load_reform", "reform_from_dict"]

_SECTIONS = ("dated", "scalars", "coefficients", "retirement_age")
_TOP_KEYS = ("label", *_SECTIONS)
_METADATA = ("label", "unit", "sources")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL = re.compile(r"\d+(\.\d+)?")
_COUNT_UNITS = ("days", "months", "years")


class ReformError(ValueError):
    """A reform that cannot be applied; ``path`` is the JSON path at fault (``dated.mci.values.X``)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Change:
    """One leaf value the reform really changes, with the base's description of it.

    ``before`` is None when the reform adds a new effective date to a dated series.
    """

    path: str
    before: Any
    after: Any
    label: str
    unit: str
    sources: list[str]


@dataclass(frozen=True)
class Reform:
    """A checked reform: the overlay as given, the merged parameters and what changed.

    ``sources`` maps every touched parameter (``dated.mci``, ``scalars.kandas_notice_days``,
    ``coefficients.birth_benefit``, ``retirement_age``) to the base's sources for it.
    """

    label: str
    overlay: dict[str, Any]
    raw: dict[str, Any]
    changes: tuple[Change, ...]
    sources: dict[str, list[str]]
    _params: Params | None = field(default=None, init=False, repr=False, compare=False)

    def params(self) -> Params:
        """The merged parameters, built once: every stage of a replay must see the same object."""
        if self._params is None:
            object.__setattr__(self, "_params", Params(self.raw))  # a cache, not state: frozen otherwise
        assert self._params is not None
        return self._params

    def touches(self, names: set[str]) -> bool:
        """Whether a change is under any of the parameters ``names`` (scalar, dated series,
        coefficient table, or ``"retirement_age"``) — to tell which rules a reform can move."""
        for change in self.changes:
            section, _, rest = change.path.partition(".")
            name = section if section == "retirement_age" else rest.split(".", 1)[0]
            if name in names:
                return True
        return False


def describe(reform: Reform) -> list[dict[str, Any]]:
    """The reform's changes as plain dicts, for the what-if report."""
    return [{"path": c.path, "label": c.label, "unit": c.unit, "before": c.before, "after": c.after,
             "sources": list(c.sources)} for c in reform.changes]


def load_reform(path: Path, base: dict[str, Any] | None = None) -> Reform:
    """Read and check ``REFORM.json``; an unreadable file is a ``ReformError`` too (path ``$``)."""
    try:
        with open(path, "rb") as fh:
            obj = json.load(fh)
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ReformError("$", f"cannot read {path}: {exc}") from exc
    return reform_from_dict(obj, base, origin=str(path))


def reform_from_dict(obj: Any, base: dict[str, Any] | None = None, origin: str = "reform") -> Reform:
    """Check ``obj`` against ``base`` (default: ``rules/parameters.json``) and merge it.

    Neither ``obj`` nor ``base`` is modified; the merged dict is a copy.
    """
    if base is None:
        with open(PARAMETERS_FILE, "rb") as fh:
            base = json.load(fh)
    if not isinstance(obj, dict):
        raise ReformError("$", f"{origin} must be a JSON object, got {_show(obj)}")
    for key in obj:
        if key not in _TOP_KEYS:
            raise ReformError(str(key), f"unknown key{_hint(str(key), _TOP_KEYS)}")
    label = obj.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise ReformError("label", f"expected a non-empty string, got {_show(label)}")

    raw = copy.deepcopy(base)
    changes: list[Change] = []
    sources: dict[str, list[str]] = {}
    merge = _Merge(raw, changes, sources)
    for name, spec in _section(obj, "dated", raw).items():
        merge.dated(name, spec)
    for name, spec in _section(obj, "scalars", raw).items():
        merge.scalar(name, spec)
    for name, spec in _section(obj, "coefficients", raw).items():
        merge.coefficients(name, spec)
    if "retirement_age" in obj:
        merge.retirement(obj["retirement_age"])
    return Reform(label=label if label is not None else _default_label(changes), overlay=copy.deepcopy(obj),
                  raw=raw, changes=tuple(changes), sources=sources)


# -- checks and merging ----------------------------------------------------------------------------

@dataclass
class _Merge:
    """Applies checked leaves to ``raw``, recording the ones whose value really differs."""

    raw: dict[str, Any]
    changes: list[Change]
    sources: dict[str, list[str]]

    def _record(self, where: str, spec: dict[str, Any], path: str, before: Any, after: Any) -> None:
        if _same(before, after):
            return  # set to its base value: not a change
        src = list(spec.get("sources", []))
        self.sources[where] = src
        self.changes.append(Change(path, before, after, str(spec.get("label", "")), str(spec.get("unit", "")), src))

    def dated(self, name: str, spec: Any) -> None:
        where = f"dated.{name}"
        base = self.raw["dated"][name]
        overlay = _fields(spec, where, ("values",))
        if "values" not in overlay:
            return
        values = _mapping(overlay["values"], f"{where}.values")
        series: dict[str, Any] = base["values"]
        first = min(series)
        whole = all(_is_int(v) for v in series.values())
        for date, value in values.items():
            path = f"{where}.values.{date}"
            _check_date(date, path, first)
            if whole and not _is_int(value):
                raise ReformError(path, f"expected whole {base.get('unit', 'units')} (an integer), got {_show(value)}")
            if not whole and not (_is_int(value) or isinstance(value, float)):
                raise ReformError(path, f"expected a number, got {_show(value)}")
            if value < 0:
                raise ReformError(path, f"expected a non-negative number, got {_show(value)}")
            self._record(where, base, path, series.get(date), value)
            series[date] = value
        base["values"] = dict(sorted(series.items()))  # the dated order, new dates included

    def scalar(self, name: str, spec: Any) -> None:
        where = f"scalars.{name}"
        base = self.raw["scalars"][name]
        overlay = _fields(spec, where, ("value",))
        if "value" not in overlay:
            return
        path, value, before, unit = f"{where}.value", overlay["value"], base["value"], str(base.get("unit", ""))
        if _is_int(before):
            _check_count(value, path, unit)
        else:
            amount = _check_decimal(value, path)
            if unit.startswith("share") and amount > 1:
                raise ReformError(path, f"a share is between 0 and 1, got {_show(value)}")
        self._record(where, base, path, before, value)
        base["value"] = value

    def coefficients(self, table: str, spec: Any) -> None:
        where = f"coefficients.{table}"
        base = self.raw["coefficients"][table]
        overlay = _fields(spec, where, ("values",))
        if "values" not in overlay:
            return
        values: dict[str, Any] = base["values"]
        for key, value in _mapping(overlay["values"], f"{where}.values").items():
            path = f"{where}.values.{key}"
            if key not in values:
                raise ReformError(path, f"unknown key (known: {', '.join(values)})")
            amount = _check_decimal(value, path)
            if base.get("unit") == "months" and amount != amount.to_integral_value():
                raise ReformError(path, f"expected a whole number of months, got {_show(value)}")
            self._record(where, base, path, values[key], value)
            values[key] = value

    def retirement(self, spec: Any) -> None:
        where = "retirement_age"
        base = self.raw[where]
        overlay = _fields(spec, where, ("men", "women"))
        if "men" in overlay:
            _check_count(overlay["men"], f"{where}.men", "months")
            self._record(where, base, f"{where}.men", base["men"], overlay["men"])
            base["men"] = overlay["men"]
        if "women" in overlay:
            women: dict[str, Any] = base["women"]
            first = min(women)
            for date, months in _mapping(overlay["women"], f"{where}.women").items():
                path = f"{where}.women.{date}"
                _check_date(date, path, first)
                _check_count(months, path, "months")
                self._record(where, base, path, women.get(date), months)
                women[date] = months
            base["women"] = dict(sorted(women.items()))


def _section(obj: dict[str, Any], section: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The overlay's ``section`` (empty when absent), every name in it known to the base."""
    if section not in obj:
        return {}
    entries = _mapping(obj[section], section)
    known = raw[section]
    for name in entries:
        if name not in known:
            elsewhere = [s for s in ("dated", "scalars", "coefficients") if s != section and name in raw[s]]
            hint = f" (it is under {elsewhere[0]})" if elsewhere else _hint(name, known)
            raise ReformError(f"{section}.{name}", f"unknown parameter{hint}")
    return entries


def _fields(spec: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """``spec`` as an object holding only the value fields ``allowed``; metadata is refused."""
    obj = _mapping(spec, where)
    for key in obj:
        if key in _METADATA:
            raise ReformError(f"{where}.{key}", f"{key} is the base's description and cannot be changed "
                                                f"by a reform (only {', '.join(allowed)})")
        if key not in allowed:
            raise ReformError(f"{where}.{key}", f"unknown field{_hint(key, allowed)}")
    return obj


def _mapping(value: Any, path: str) -> dict[str, Any]:
    """``value`` as a JSON object (string keys only: a dict built in Python may hold others)."""
    if not isinstance(value, dict):
        raise ReformError(path, f"expected an object, got {_show(value)}")
    for key in value:
        if not isinstance(key, str):
            raise ReformError(f"{path}.{key}", f"keys are strings, got {key!r}")
    return value


def _check_date(text: str, path: str, first: str) -> None:
    """A real ``YYYY-MM-DD`` no earlier than the series' first date: an earlier one would move
    the date from which the rules consider the parameters in force (``Params.in_force_from``)."""
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        dt.date.fromisoformat(text)
    except ValueError:
        raise ReformError(path, "not a date (YYYY-MM-DD)") from None
    if text < first:
        raise ReformError(path, f"before the series starts ({first})")


def _check_count(value: Any, path: str, unit: str) -> None:
    """An integer like its base; days, months, years and percentages cannot be negative."""
    if not _is_int(value):
        raise ReformError(path, f"expected an integer ({unit}), got {_show(value)}")
    if value < 0 and (unit in _COUNT_UNITS or unit == "percent"):
        raise ReformError(path, f"expected a non-negative number of {unit}, got {value}")
    if unit == "percent" and value > 100:
        raise ReformError(path, f"a percentage is at most 100, got {value}")


def _check_decimal(value: Any, path: str) -> Decimal:
    """A plain non-negative decimal string, as the base keeps it (no exponent, NaN or sign)."""
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise ReformError(path, f'expected a decimal string like "0.75", got {_show(value)}')
    return Decimal(value)


def _same(before: Any, after: Any) -> bool:
    """Whether a leaf keeps its base value: ``"0.7"`` for ``"0.70"`` does; a new date never does."""
    if before is None:
        return False
    if isinstance(before, str) and isinstance(after, str):
        return Decimal(before) == Decimal(after)
    return bool(before == after)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)


def _hint(name: str, known: Any) -> str:
    names = sorted(str(k) for k in known)
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(names)})"


def _default_label(changes: list[Change]) -> str:
    """``mci 2026-01-01: 4325 → 5000; kandas_notice_days: 30 → 10`` (``baseline`` when empty)."""
    if not changes:
        return "baseline (no changes)"
    parts = []
    for c in changes:
        section, _, rest = c.path.partition(".")
        words = [w for w in rest.split(".") if w not in ("values", "value")]
        if section == "retirement_age":
            words.insert(0, section)
        before = "new" if c.before is None else c.before
        parts.append(f"{' '.join(words)}: {before} → {c.after}")
    return "; ".join(parts)
