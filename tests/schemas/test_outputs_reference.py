"""Consumers can build on the outputs (issue 14, item 6): schemas, contract and reference agree.

- every record a real run writes validates against its output schema, and a few hand-made
  invalid records do not;
- each schema names every field contract §2 names, requires exactly the non-optional ones,
  and marks every other field as an extension;
- ``docs/OUTPUTS.md`` is what ``python -m schemas.reference`` generates from the schemas;
- the schemas ship as package data (found through ``importlib.resources``, also in a build).
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest

from familycard.cli import OUTPUT_FILES, main
from flows.topics import OUTPUT_TOPICS
from schemas import reference
from schemas.validation import OUTPUT_KINDS, flat_schema, schema_path, validate_output

ROOT = Path(__file__).resolve().parents[2]
KIND_OF_FILE = {"notifications.jsonl": "notification", "assignments.jsonl": "assignment",
                "dead-letters.jsonl": "dead_letter", "outcomes.jsonl": "outcome"}

# --- contract §2, copied from /work/shared/contract.md (a trailing ? marks an optional field) ---
CONTRACT_FIELDS: dict[str, list[str]] = {
    "notification": ["notification_id", "kind", "code", "iin", "family_id", "phone", "language", "sender", "text",
                     "reasons", "rule", "amount_kzt", "period", "occurred_on", "issued_on", "reply_by"],
    "assignment": ["assignment_id", "notification_id", "kind", "code", "iin", "family_id", "amount_kzt", "period",
                   "start_month", "end_month?", "iban?", "late?"],
    "dead_letter": ["source_topic", "partition?", "offset?", "received", "error"],
    "dead_letter.error": ["code", "message", "path"],
    "outcome": [],  # the topic offer-outcomes is not in contract §2
}
CONTRACT_ENUMS: dict[tuple[str, str], set[str]] = {
    ("notification", "kind"): {"offer", "notice", "reminder", "withdrawal", "change"},
    ("notification", "code"): {"working_capacity_loss", "job_loss", "breadwinner_loss", "birth_benefit",
                               "childcare_benefit", "disabled_child_carer", "disability_benefit",
                               "large_family_benefit", "mother_award_benefit", "targeted_social_assistance",
                               "funeral_payment", "pension_eligibility", "kandas_status_expiry",
                               "employment_measures"},
    ("notification", "language"): {"kk", "ru"},
    ("assignment", "kind"): {"start", "change", "close"},
    ("assignment", "period"): {"one_time", "monthly"},
}
# Where schema and code knowingly differ from contract.md's letter: (record, field) -> why.
# Each must still be a difference (test_known_deviations_are_still_deviations), so this
# table empties itself when the contract is corrected.
DEVIATIONS: dict[tuple[str, str], str] = {
    ("dead_letter.error", "path"): "the contract shows error.path without `?`, but codec.dead_letter_record omits "
                                   "it when no field is to blame (invalid_json, too_large) and the schema makes it "
                                   "optional",
}


def _node(kind: str) -> dict[str, Any]:
    """The flat schema of ``kind``, or of a nested object named ``kind.field``."""
    base, _, field = kind.partition(".")
    node = flat_schema(schema_path(base))
    return node["properties"][field] if field else node


def _raw_properties(kind: str) -> dict[str, Any]:
    base, _, field = kind.partition(".")
    doc = json.loads(schema_path(base).read_text(encoding="utf-8"))
    props: dict[str, Any] = doc["properties"][field]["properties"] if field else doc["properties"]
    return props


# --- 1. every record of a real run validates -------------------------------------------------

@pytest.fixture(scope="module")
def run_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """``familycard run --families 300 --days 120`` with 2 % bad input, so that dead letters exist too."""
    out = tmp_path_factory.mktemp("run")
    assert main(["run", "--families", "300", "--days", "120", "--bad-fraction", "0.02", "--output", str(out)]) == 0
    return {name: [orjson.loads(line) for line in (out / name).read_bytes().splitlines() if line.strip()]
            for name in OUTPUT_FILES}


def test_every_output_file_has_a_schema() -> None:
    assert set(KIND_OF_FILE) == set(OUTPUT_FILES)
    assert set(KIND_OF_FILE.values()) == OUTPUT_KINDS == {t.kind for t in reference.TOPICS}


@pytest.mark.parametrize("name", sorted(KIND_OF_FILE))
def test_every_record_of_a_real_run_validates(run_outputs: dict[str, list[dict[str, Any]]], name: str) -> None:
    records = run_outputs[name]
    assert records, f"the run wrote no {name}"
    kind = KIND_OF_FILE[name]
    bad = [(r, invalid) for r in records if (invalid := validate_output(kind, r)) is not None]
    assert not bad, f"{len(bad)} of {len(records)} {name} records are invalid; first: {bad[0]}"


def test_the_run_exercises_the_kinds(run_outputs: dict[str, list[dict[str, Any]]]) -> None:
    assert {"offer", "notice", "reminder"} <= {n["kind"] for n in run_outputs["notifications.jsonl"]}
    assert {"offered", "reminded", "consented", "refused", "lapsed"} <= {
        o["outcome"] for o in run_outputs["outcomes.jsonl"]}
    assert len({d["error"]["code"] for d in run_outputs["dead-letters.jsonl"]}) >= 3


OUTCOME = {"notification_id": "n-013a85456bd880d648c8", "code": "targeted_social_assistance",
           "outcome": "consented", "on": "2026-01-16"}


@pytest.mark.parametrize("kind,record,path", [
    ("outcome", {**OUTCOME, "outcome": "sent"}, "outcome"),
    ("outcome", {**OUTCOME, "code": "pension_eligibility"}, "code"),  # a notice has no funnel
    ("outcome", {**OUTCOME, "on": "2026-02-30"}, "on"),
    ("outcome", {**OUTCOME, "notification_id": "a-013a85456bd880d648c8"}, "notification_id"),
    ("outcome", {k: v for k, v in OUTCOME.items() if k != "on"}, "on"),
    ("outcome", {**OUTCOME, "iin": "870512400129"}, "iin"),  # strict: no fields beyond the schema
    ("notification", {**reference.example("notification"), "amount_kzt": None}, "amount_kzt"),  # an offer's amount
    ("notification", {**reference.example("notification"), "reply_by": "2026-01-19"}, "reply_by"),  # before issued_on
    ("assignment", {**reference.example("assignment"), "end_month": "2025-12"}, "end_month"),  # before start_month
    ("assignment", {**reference.example("assignment"), "amount_kzt": 59241.0}, "amount_kzt"),  # whole tenge only
    ("dead_letter", {**reference.example("dead_letter"), "error": {"code": "Bad Code", "message": "x"}}, "error.code"),
])
def test_invalid_records_are_refused(kind: str, record: dict[str, Any], path: str) -> None:
    invalid = validate_output(kind, record)
    assert invalid is not None and invalid.path == path, invalid


def test_every_example_validates() -> None:
    for kind in sorted(OUTPUT_KINDS):
        assert validate_output(kind, reference.example(kind)) is None


# --- 2. contract §2 and the schemas in step ----------------------------------------------------

@pytest.mark.parametrize("kind", sorted(CONTRACT_FIELDS))
def test_schema_has_every_contract_field_and_requires_the_non_optional_ones(kind: str) -> None:
    node = _node(kind)
    named = {f.rstrip("?") for f in CONTRACT_FIELDS[kind]}
    required = {f for f in CONTRACT_FIELDS[kind] if not f.endswith("?")}
    for (k, field), _why in DEVIATIONS.items():
        if k == kind:
            required.discard(field)
    assert named <= set(node["properties"]), f"fields of contract §2 missing from the schema: {named - set(node['properties'])}"
    # extension fields (not named by the contract) may be required too: they are always written
    assert set(node.get("required", ())) & named == required


@pytest.mark.parametrize("kind", sorted(CONTRACT_FIELDS))
def test_fields_beyond_the_contract_are_marked_as_extensions(kind: str) -> None:
    named = {f.rstrip("?") for f in CONTRACT_FIELDS[kind]}
    for field, spec in _raw_properties(kind).items():
        if field not in named:
            assert reference.EXTENSION in spec.get("description", ""), f"{kind}.{field} is not in contract §2"


def test_known_deviations_are_still_deviations() -> None:
    for (kind, field), why in DEVIATIONS.items():
        assert field in CONTRACT_FIELDS[kind] and field not in _node(kind).get("required", ()), why


@pytest.mark.parametrize("kind,field", sorted(CONTRACT_ENUMS))
def test_enums_are_the_contracts(kind: str, field: str) -> None:
    node = _node(kind)["properties"][field]
    assert set(node["enum"]) == CONTRACT_ENUMS[(kind, field)]


def test_outcome_values_are_the_ones_the_code_writes() -> None:
    source = (ROOT / "state" / "offers.py").read_text(encoding="utf-8")
    written = set(re.findall(r'Outcome\([a-z_.]+, "([a-z]+)"', source))
    assert written and set(_node("outcome")["properties"]["outcome"]["enum"]) == written


def test_reference_topics_are_the_flows() -> None:
    assert {t.topic for t in reference.TOPICS} == set(OUTPUT_TOPICS.values())


# --- 3. docs/OUTPUTS.md ---------------------------------------------------------------------------

def test_outputs_page_is_up_to_date() -> None:
    assert reference.main(["--check"]) == 0, "docs/OUTPUTS.md is stale: run python -m schemas.reference"


def test_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    page = tmp_path / "OUTPUTS.md"
    assert reference.main(["--check", "--output", str(page)]) == 1  # missing
    assert reference.main(["--output", str(page)]) == 0
    assert reference.main(["--check", "--output", str(page)]) == 0
    page.write_text(page.read_text(encoding="utf-8").replace("offer-outcomes", "outcomes"), encoding="utf-8")
    assert reference.main(["--check", "--output", str(page)]) == 1


def test_page_lists_every_field_of_every_schema() -> None:
    page = reference.generate()
    for t in reference.TOPICS:
        assert f"## `{t.topic}`" in page
        for field in _node(t.kind)["properties"]:
            assert f"| `{field}` |" in page, (t.kind, field)


# --- 5. schemas as package data --------------------------------------------------------------------

def test_schemas_are_found_through_importlib_resources() -> None:
    outputs = importlib.resources.files("schemas").joinpath("outputs")
    names = {p.name for p in outputs.iterdir() if p.name.endswith(".schema.json")}
    assert names == {f"{k}.schema.json" for k in OUTPUT_KINDS}
    for name in names:
        doc = json.loads(outputs.joinpath(name).read_text(encoding="utf-8"))
        assert doc["$id"].endswith(f"/outputs/{name}")
    assert importlib.resources.files("schemas").joinpath("events", "_common.schema.json").is_file()  # their $refs


def test_package_data_ships_the_schemas() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert {"outputs/*.json", "events/*.json"} <= set(config["package-data"]["schemas"])


def test_a_build_of_the_package_reads_and_uses_its_schemas(tmp_path: Path) -> None:
    """What ``pip install .`` installs: setuptools' build_py (the step a wheel is built from) on a
    copy of the project, then the built ``schemas`` imported alone, from the build directory."""
    src, build = tmp_path / "src", tmp_path / "build"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("familycard", "flows", "rules", "schemas", "state"):
        shutil.copytree(ROOT / package, src / package, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
                    "--build-lib", str(build)], cwd=src, check=True, capture_output=True, timeout=120)
    probe = (
        "import importlib.resources, json, schemas.validation as v\n"
        f"assert v.__file__.startswith({str(build)!r}), v.__file__\n"
        "out = importlib.resources.files('schemas') / 'outputs'\n"
        "print(json.dumps(sorted(p.name for p in out.iterdir())))\n"
        f"assert v.validate_output('outcome', {OUTCOME!r}) is None\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(build)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {p.name for p in (ROOT / "schemas" / "outputs").glob("*.json")}
