"""Loading stored state without running code: ``safe_loads`` and its ``SlotUnpickler``.

Loading a pickle can call any importable function, so a seed or snapshot someone else could
write is a way to run code as the flow's user (docs/DESIGN.md, "Trust boundaries and data at
rest"). ``safe_loads`` resolves only this project's state classes, the rebuild functions the
store registered for them (``store.compact``) and a few plain builtins: a crafted pickle
raises ``pickle.UnpicklingError`` before anything is called.
"""

from __future__ import annotations

import _compat_pickle
import importlib
import io
import pickle
import types
from typing import Any

from store.compact import is_rebuild

__all__ = ["safe_loads", "SlotUnpickler"]


# Plain values a slot may hold besides this project's classes. Sets, frozensets, lists, dicts,
# tuples, bytes and str have opcodes of their own (no lookup); these are here for older
# protocols and for the classes that reduce to them.
_SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "list"), ("builtins", "dict"),
    ("builtins", "tuple"), ("builtins", "bytearray"),
    ("array", "array"), ("array", "_array_reconstructor"),
    ("decimal", "Decimal"), ("datetime", "date"), ("collections", "deque"),
})
# Modules whose own classes a slot may name: every ``state`` module, the routing items
# (copyreg codes 252-255) and the rules' decisions (in the rights ledger). A function is
# allowed only if it is a rebuild function the store registered for one of those classes,
# found where it was registered: in its class's module, or in ``store.picklers`` (the ones
# with an extension code).
_STATE_PACKAGE = "state."
_PROJECT_MODULES = frozenset({"flows.routing", "rules.decisions"})
_REBUILD_MODULES = frozenset({"store.picklers"})


def _allowed_module(module: str) -> bool:
    if module in _PROJECT_MODULES or module in _REBUILD_MODULES:
        return True
    return module.startswith(_STATE_PACKAGE) and module.count(".") == 1


def _resolve(module: str, name: str) -> Any:
    """The object a pickle names, if a slot may name it; raises UnpicklingError otherwise."""
    where = f"{module}.{name}"
    if (module, name) in _SAFE_GLOBALS:
        return getattr(importlib.import_module(module), name)
    if not _allowed_module(module) or not name.isidentifier() or name.startswith("__"):
        raise pickle.UnpicklingError(f"refusing to load {where}: not a state class (a seed or snapshot "
                                     f"may name only this project's state classes)")
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise pickle.UnpicklingError(f"refusing to load {where}: no such state module") from None
    obj = getattr(mod, name, None)
    if (isinstance(obj, type) and obj.__module__ == module and obj.__qualname__ == name
            and module not in _REBUILD_MODULES):
        return obj  # a class defined there (not one it imports)
    if isinstance(obj, types.FunctionType) and is_rebuild(module, name, obj):
        return obj  # the rebuild function of a state class, where the store registered it
    raise pickle.UnpicklingError(f"refusing to load {where}: not a state class or its rebuild function")


_resolved: dict[tuple[str, str], Any] = {}


class SlotUnpickler(pickle.Unpickler):
    """An unpickler that resolves only state classes, their rebuild functions and plain builtins.

    Every global a pickle names goes through ``find_class`` (``GLOBAL``, ``STACK_GLOBAL``,
    ``INST``, ``OBJ``), so anything else (``os.system``, ``subprocess.Popen``, ``builtins.eval``,
    ``store.seed.os``...) raises ``pickle.UnpicklingError`` before it could be called.
    The copyreg extension codes of ``store.picklers`` (``EXT1``) name their functions through
    copyreg's registry: on a cache miss the unpickler still asks ``find_class`` (which allows
    them: they are state rebuild functions), and a code nobody registered is a ``ValueError``;
    only code already running in this process can register a code.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _compat_pickle.NAME_MAPPING:  # protocol 0-2 names (``__builtin__.set``)
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        key = (module, name)
        obj = _resolved.get(key)
        if obj is None:
            obj = _resolved[key] = _resolve(module, name)
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing to load a persistent id")


def safe_loads(data: bytes) -> Any:
    """``pickle.loads`` for state (seed files, pickled slots) that cannot run code: see ``SlotUnpickler``."""
    return SlotUnpickler(io.BytesIO(data)).load()
