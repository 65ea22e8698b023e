"""Persistence lives in ``store/``, outside the domain (issue 16, item 2).

- ``state/`` imports nothing of ``store`` and carries no pickling code (no ``__reduce_ex__``,
  no ``__reduce__``, no ``copyreg``, no ``@compact``): its classes are plain dataclasses;
- ``store`` registers their reductions from outside, in ``copyreg.dispatch_table``, which
  ``pickle`` (the C and the Python pickler) and ``copy`` consult before an object's own
  ``__reduce_ex__``; equality, ``copy`` and ``dataclasses.replace`` are unaffected;
- a process that imports ``flows`` (any of it: what builds or runs a flow) has the
  reductions and extension codes registered before it pickles anything.
"""

from __future__ import annotations

import ast
import copy
import copyreg
import dataclasses
import pickle
import pickletools
import subprocess
import sys
from pathlib import Path

import pytest

import store  # noqa: F401 - registers the reductions
from state.events import Event
from state.person_slot import PersonSlot
from store.compact import reducer
from store.picklers import EXTENSION_CODES

ROOT = Path(__file__).resolve().parents[2]
PICKLING_NAMES = {"__reduce_ex__", "__reduce__", "__getstate__", "__setstate__", "__getnewargs__",
                  "__getnewargs_ex__", "copyreg", "compact"}


def _pickling_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names
                      if a.name.split(".")[0] in ("store", "copyreg")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("store", "copyreg"):
            found.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in PICKLING_NAMES:
            found.append(f"{node.lineno}: def {node.name}")
        elif isinstance(node, ast.Name) and node.id in PICKLING_NAMES:
            found.append(f"{node.lineno}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in PICKLING_NAMES:
            found.append(f"{node.lineno}: .{node.attr}")
    return found


def test_state_imports_nothing_of_store_and_has_no_pickling_code() -> None:
    paths = sorted((ROOT / "state").rglob("*.py"))
    assert len(paths) > 10
    wrong = [f"{p.relative_to(ROOT)}:{hit}" for p in paths for hit in _pickling_in(p)]
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_what_it_forbids(tmp_path: Path) -> None:
    """The AST check above is not vacuous: it catches each form state/ used to have."""
    probe = tmp_path / "probe.py"
    probe.write_text("import copyreg\nfrom store.compact import compact\n@compact\nclass A:\n"
                     "    def __reduce_ex__(self, p): ...\n    __reduce__ = __reduce_ex__\n")
    assert len(_pickling_in(probe)) >= 5


def test_no_domain_class_pickles_itself() -> None:
    for cls in copyreg.dispatch_table:
        if cls.__module__.startswith("state."):
            assert "__reduce_ex__" not in cls.__dict__ and "__reduce__" not in cls.__dict__, cls
    assert PersonSlot.__reduce_ex__ is object.__reduce_ex__  # type: ignore[comparison-overlap]


@pytest.mark.parametrize("dumps", [pickle.dumps, pickle._dumps], ids=["C", "Python"])  # type: ignore[attr-defined]
def test_the_dispatch_table_wins_over_the_default_reduction(dumps: object) -> None:
    """CPython's ``save`` asks ``copyreg.dispatch_table`` (by exact type) before it asks the
    object for ``__reduce_ex__``: both picklers use the store's reduction (EXT1 240, no
    ``copyreg.__newobj__``)."""
    slot = PersonSlot.empty("900101300123")
    blob = dumps(slot, 4)  # type: ignore[operator]
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(blob)]
    assert ("EXT1", 240) in ops and not any(name in ("GLOBAL", "STACK_GLOBAL") for name, _ in ops)
    assert pickle.loads(blob) == slot
    assert EXTENSION_CODES[("store.picklers", "_PersonSlot")] == 240


def test_copy_replace_and_equality_still_work() -> None:
    e = Event("e1", "death", "900101300123", 739000, 739001, {"k": 1})
    assert reducer(Event)(e)[0].__module__ == "store.picklers"
    assert copy.copy(e) == e and copy.deepcopy(e) == e and copy.deepcopy(e) is not e
    moved = dataclasses.replace(e, recorded_on=739002)
    assert moved != e and moved.recorded_on == 739002 and type(moved) is Event
    slot = PersonSlot.empty("900101300123")
    assert copy.deepcopy(slot) == slot and copy.deepcopy(slot).card is not slot.card


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, check=True, text=True)
    return done.stdout.strip()


def test_a_process_that_imports_flows_pickles_the_compact_way() -> None:
    """``flows/__init__.py`` imports ``store``: whoever builds or runs a flow (Bytewax's
    snapshots and exchanges in each worker, the shards, the bulk load) has the reductions and
    the extension codes, even from a module that itself names nothing of ``store``."""
    code = ("import pickle, pickletools, flows.epochs\n"
            "from state.person_slot import PersonSlot\n"
            "blob = pickle.dumps(PersonSlot.empty('900101300123'), 4)\n"
            "ops = [op.name for op, _, _ in pickletools.genops(blob)]\n"
            "assert pickle.loads(blob) == PersonSlot.empty('900101300123')\n"
            "print('EXT1' in ops, 'STACK_GLOBAL' in ops)")
    assert _fresh(code) == "True False"


def test_a_process_that_imports_only_state_pickles_the_default_way() -> None:
    """The other side of the boundary: ``state`` alone registers nothing (so whoever pickles
    state must import ``store``, as ``flows`` does)."""
    code = ("import copyreg, pickle, state.person_slot, sys\n"
            "print(state.person_slot.PersonSlot in copyreg.dispatch_table, 'store' in sys.modules)")
    assert _fresh(code) == "False False"


def test_store_loads_what_it_pickles_without_the_class_module_imported_first() -> None:
    """A coded rebuild function lives in ``store.picklers``: loading one needs only ``store``."""
    blob = pickle.dumps(PersonSlot.empty("900101300123"), 5)
    code = ("import pickle, sys, store; x = pickle.loads(sys.stdin.buffer.read()); print(type(x).__name__)")
    done = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, cwd=ROOT, check=True)
    assert done.stdout.decode().strip() == "PersonSlot"
