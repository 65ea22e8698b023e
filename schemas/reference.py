"""Generates ``docs/OUTPUTS.md``, the consumers' reference of every output topic, from the schemas.

The schemas in ``schemas/outputs/`` are what every output record is validated against in
the tests, so a page generated from them cannot describe fields the flow does not write.
Per topic: its key, every field (type, required or optional, allowed values, description),
the rules that depend on another field, and an example record that is checked against the
schema while the page is generated.

    python -m schemas.reference            # rewrite docs/OUTPUTS.md
    python -m schemas.reference --check    # exit 1 if docs/OUTPUTS.md is stale

A field's description is the schema's ``description`` (beside a ``$ref`` or in the definition
it points at), else its ``title``. Fields that contract §2 does not name say
``extension, not in contract §2`` in their description.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from schemas.validation import OUTPUT_KINDS, flat_schema, schema_path, validate_output

__all__ = ["OUTPUTS_FILE", "EXTENSION", "TOPICS", "OutputTopic", "example", "generate", "main"]

OUTPUTS_FILE: Final = Path(__file__).resolve().parent.parent / "docs" / "OUTPUTS.md"
EXTENSION: Final = "extension, not in contract §2"


@dataclass(frozen=True, slots=True)
class OutputTopic:
    """What a schema cannot say about its topic: the default topic name and the message key."""

    kind: str  # the schema's name, as for ``validate_output``
    topic: str  # default name (flows/topics.py OUTPUT_TOPICS; configurable)
    key: str
    in_contract: bool


TOPICS: Final = (
    OutputTopic("notification", "notifications", "recipient IIN (the record's `iin`)", True),
    OutputTopic("assignment", "assignments", "recipient IIN (the record's `iin`)", True),
    OutputTopic("dead_letter", "dead-letters", "none (messages have no key)", True),
    OutputTopic("outcome", "offer-outcomes", "recipient IIN of the offer", False),
)

# Checked by schemas.validation.validate_output beyond what JSON Schema can say.
_CHECKED_IN_CODE: Final[Mapping[str, tuple[str, ...]]] = {
    "notification": ("`reply_by`, when not null, is not before `issued_on`.",),
    "assignment": ("`end_month`, when not null, is not before `start_month`.",),
}

# Examples for schemas without ``examples``: real records of `familycard run` (checked on generation).
_BUILT_EXAMPLES: Final[Mapping[str, dict[str, Any]]] = {
    "notification": {
        "notification_id": "n-f8edd5fcb33aa908be02", "kind": "offer", "code": "birth_benefit",
        "iin": "931202400010", "family_id": "F-0000146", "phone": "+77052320045", "language": "kk",
        "sender": "1414",
        "text": {"kk": "Бала тууына жәрдемақы: 272 475 тг. Келісу: 1, бас тарту: 2, 23.01.2026 дейін. "
                       "1414 код, карта нөмірі, құпиясөз сұрамайды.",
                 "ru": "Пособие на рождение ребенка: 272 475 тг. Согласие: 1, отказ: 2, до 23.01.2026. "
                       "1414 не запрашивает коды, номера карт и пароли."},
        "reasons": ["child 260120600014 born 2026-01-20", "mother 931202400010: 7th child", "63 x mci 4325 KZT"],
        "rule": "birth_benefit/2026-01-01", "amount_kzt": 272475, "period": "one_time",
        "occurred_on": "2026-01-20", "issued_on": "2026-01-20", "reply_by": "2026-01-23",
    },
    "assignment": {
        "assignment_id": "a-e37435d155c68ac11528", "notification_id": "n-013a85456bd880d648c8", "kind": "start",
        "code": "targeted_social_assistance", "iin": "900111400018", "family_id": "F-0000189",
        "amount_kzt": 59241, "period": "monthly", "start_month": "2026-01", "end_month": "2026-03",
        "iban": "KZ40914G926678336971",
    },
    "dead_letter": {
        "source_topic": "registry.civil", "partition": 0, "offset": 14,
        "received": '{"event_id":"civ-0000014","type":"birth","iin":"170314600014","occurred_on":"2026-03-01",'
                    '"recorded_at":"2026-03-02T09:15:00+05:00","data":{"mother_iin":"871113400013","sex":"female"}}',
        "error": {"code": "bad_iin", "message": "IIN 170314600014 fails the check digit or date (rules.md §6)",
                  "path": "iin"},
    },
}


def example(kind: str) -> dict[str, Any]:
    """The example record of ``kind``: the schema's first ``examples`` entry, else a built one.

    Raises ``ValueError`` if it does not validate, so the page can never show a record the
    flow would not be allowed to write.
    """
    doc = json.loads(schema_path(kind).read_text(encoding="utf-8"))
    record: dict[str, Any] = doc["examples"][0] if doc.get("examples") else _BUILT_EXAMPLES[kind]
    invalid = validate_output(kind, record)
    if invalid is not None:
        raise ValueError(f"the example {kind} record is invalid: {invalid.path}: {invalid.message}")
    return record


# --- one table row per field -----------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    return "`" + ("null" if value is None else str(value)) + "`"


def _types(node: Mapping[str, Any]) -> list[str]:
    if "const" in node:
        return ["string" if isinstance(node["const"], str) else type(node["const"]).__name__]
    t = node.get("type", "any")
    return list(t) if isinstance(t, list) else [t]


def _type(node: Mapping[str, Any]) -> str:
    types = _types(node)
    if types == ["array"] and "items" in node:
        return f"array of {' or '.join(_types(node['items']))}"
    return " or ".join(types)


def _range(low: Any, high: Any, unit: str = "") -> str:
    text = f"{low} to {high}" if low is not None and high is not None else (
        f">= {low}" if low is not None else f"<= {high}")
    return f"{text} {unit}".strip()


def _values(node: Mapping[str, Any]) -> str:
    """The allowed values as a reader needs them: const, enum, or the shape (pattern, format,
    bounds) and examples."""
    if "const" in node:
        return f"always {_code(node['const'])}"
    if "enum" in node:
        return ", ".join(_code(v) for v in node["enum"])
    parts: list[str] = []
    if node.get("format") == "date":
        parts.append("a real calendar date `YYYY-MM-DD`")
    elif "pattern" in node:
        parts.append(f"matches `{node['pattern']}`")
    if "minimum" in node or "maximum" in node:
        parts.append(_range(node.get("minimum"), node.get("maximum")))
    if "minItems" in node or "maxItems" in node:
        parts.append(_range(node.get("minItems"), node.get("maxItems"), "items"))
    if "examples" in node:
        parts.append("e.g. " + ", ".join(_code(v) for v in node["examples"]))
    return "; ".join(parts)


def _rows(raw: Mapping[str, Any], flat: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """``| field | type | required | values | description |`` for each property, nested ones dotted.

    ``raw`` is the schema as written (its descriptions beside ``$ref``s), ``flat`` the same with
    every ``$ref`` inlined (types, enums, and the referenced definitions' own texts).
    """
    required = set(flat.get("required", ()))
    for name, node in flat.get("properties", {}).items():
        raw_node = raw.get("properties", {}).get(name, {})
        text = raw_node.get("description") or node.get("description") or raw_node.get("title") or node.get("title", "")
        need = "required" if name in required else "optional (may be absent)"
        yield f"| `{prefix}{name}` | {_type(node)} | {need} | {_cell(_values(node))} | {_cell(text)} |"
        if "properties" in node:
            yield from _rows(raw_node, node, f"{prefix}{name}.")


def _conditional_rules(flat: Mapping[str, Any]) -> list[str]:
    """The ``allOf`` if/then branches (the notification's rules per ``kind``) as sentences."""
    out: list[str] = []
    for branch in flat.get("allOf", ()):
        when = branch.get("if", {}).get("properties", {})
        if len(when) != 1 or "const" not in next(iter(when.values())):
            continue
        field, cond = next(iter(when.items()))
        musts = []
        for name, node in branch.get("then", {}).get("properties", {}).items():
            what = f"one of {', '.join(_code(v) for v in node['enum'])}" if "enum" in node else f"{_type(node)}"
            why = f" ({node['$comment']})" if "$comment" in node else ""
            musts.append(f"`{name}` is {what}{why}")
        out.append(f"When `{field}` is {_code(cond['const'])}: " + "; ".join(musts) + ".")
    return out


def _section(t: OutputTopic) -> list[str]:
    path = schema_path(t.kind)
    raw = json.loads(path.read_text(encoding="utf-8"))
    flat = flat_schema(path)
    where = "contract §2" if t.in_contract else "an extension topic, not in contract §2"
    out = [f"## `{t.topic}`", "",
           f"- **Key**: {t.key}",
           f"- **Schema**: `schemas/outputs/{path.name}` (`validate_output(\"{t.kind}\", record)`), {where}",
           f"- **Additional fields**: {'not allowed' if flat.get('additionalProperties') is False else 'allowed'}",
           "", _cell(raw["description"]), "",
           "| field | type | required | values | description |", "|---|---|---|---|---|"]
    out += _rows(raw, flat)
    rules = _conditional_rules(flat) + list(_CHECKED_IN_CODE.get(t.kind, ()))
    if rules:
        out += ["", "Rules beyond each field's own:", ""] + [f"- {r}" for r in rules]
    out += ["", "Example:", "", "```json", json.dumps(example(t.kind), ensure_ascii=False, indent=2), "```", ""]
    return out


def generate() -> str:
    """The full text of OUTPUTS.md for the schemas as they are now."""
    missing = OUTPUT_KINDS - {t.kind for t in TOPICS}
    if missing:
        raise ValueError(f"output kinds without a topic in schemas.reference.TOPICS: {sorted(missing)}")
    out = [
        "# familycard output topics (generated)", "",
        "Generated by `python -m schemas.reference` from `schemas/outputs/*.schema.json`. Do not edit by "
        "hand: change the schemas and regenerate (`python -m schemas.reference --check` fails when this "
        "file is stale).", "",
        "Every record the flow writes is one JSON object per Kafka message (one per line in the file "
        "modes: `notifications.jsonl`, `assignments.jsonl`, `dead-letters.jsonl`, `outcomes.jsonl`). The "
        "schemas are JSON Schema draft-07 and ship with the package: read them with "
        "`importlib.resources.files(\"schemas\") / \"outputs\" / \"notification.schema.json\"` (their `$ref`s "
        "are relative to their `$id`s and point into `schemas/events/_common.schema.json`), or validate "
        "with `schemas.validation.validate_output(kind, record)`, which also checks that dates are real "
        "calendar dates and that integers are JSON integer literals (money is whole tenge). The schemas are "
        "strict: a field that is not listed is an error, so a consumer can rely on this page.", "",
        "Topic names are the defaults (`flows/topics.py`; `--output-prefix` prepends to them). After a "
        "restart the flow's sinks skip records whose id the topic already holds (docs/DESIGN.md, "
        "\"Recovery, restarts and exactly-once effect\"), but a consumer reads at least once, so it should "
        "still be idempotent on `notification_id` / `assignment_id`: see `examples/notifier.py`.", "",
        "| topic | key | schema | in contract §2 |", "|---|---|---|---|",
    ]
    out += [f"| `{t.topic}` | {t.key} | `{schema_path(t.kind).name}` | {'yes' if t.in_contract else 'no (extension)'} |"
            for t in TOPICS]
    out.append("")
    for t in TOPICS:
        out += _section(t)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    from rules.policy_doc import page_main

    return page_main("schemas.reference", OUTPUTS_FILE, generate, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
