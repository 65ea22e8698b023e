"""Generates ``rules/POLICY.md`` from the code and the data, so the published policy cannot drift.

The document lists every registered rule (its code, kind, the events and role that fire it,
and the condition, amount, recipient and period from the rule function's docstring), every
parameter of ``parameters.json`` with its dated values, unit and sources, and the SMS segment
count of every text template.

    python -m rules.policy_doc            # rewrite rules/POLICY.md
    python -m rules.policy_doc --check    # exit 1 if rules/POLICY.md is stale

A rule's docstring is read as: a summary paragraph, then optional fields written as
``Fires:``, ``Condition:``, ``Amount:``, ``Recipient:``, ``Period:``, ``Continues while:``
(the right's condition over time, rules.md §5a, checked by ``rules.conditions``), ``Occasion:`` (a field
runs on over its indented continuation lines). A docstring without such fields is shown as
it is; a rule without a docstring shows "(no description)".
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import rules  # noqa: F401  (imports every rule module, which registers the rules)
from rules.decisions import NOTICE, OFFER
from rules.engine import Rule, registered_rules
from rules.params import PARAMETERS_FILE
from rules.texts import NOTICE_CODES, OFFER_CODES, segment_report, typical_text

__all__ = ["POLICY_FILE", "generate", "parse_docstring", "main"]

POLICY_FILE = Path(__file__).with_name("POLICY.md")
NO_DESCRIPTION = "(no description)"
FIELDS = ("Fires", "Condition", "Amount", "Recipient", "Period", "Continues while", "Occasion")
_FIELD = re.compile(r"^(Fires|Condition|Conditions|Amount|Recipient|Recipients|Period|Continues while|Occasion):\s*(.*)$")
_CANONICAL = {"Conditions": "Condition", "Recipients": "Recipient"}


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(free text, {field: text}) of a rule docstring; ("(no description)", {}) when there is none."""
    if doc is None or not doc.strip():
        return NO_DESCRIPTION, {}
    free: list[str] = []
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in inspect.cleandoc(doc).splitlines():
        m = _FIELD.match(line)
        if m:
            name = _CANONICAL.get(m.group(1), m.group(1))
            current = fields.setdefault(name, [])
            if m.group(2):
                current.append(m.group(2))
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            current.append(line.strip())
        else:
            current = None
            free.append(line)
    text = "\n".join(free).strip()
    return text, {k: " ".join(v) for k, v in fields.items()}


def _md(text: str) -> str:
    """reStructuredText literals (````x````) as Markdown code (```x```)."""
    return text.replace("``", "`")


def _kind(code: str) -> str:
    if code in NOTICE_CODES:
        return NOTICE
    if code in OFFER_CODES:
        return OFFER
    return "unknown (not a contract code)"


def _rule_section(code: str, regs: list[Rule]) -> list[str]:
    out = [f"### `{code}`", "", f"- **Kind**: {_kind(code)}"]
    fired = ", ".join(f"`{t}`" for r in regs for t in r.on)
    roles = ", ".join(dict.fromkeys(f"`{r.role}`" for r in regs))
    out.append(f"- **Fired by**: {fired} (role {roles})")
    funcs = list(dict.fromkeys(r.fn for r in regs))
    out.append("- **Rule**: " + ", ".join(f"`{f.__module__}.{f.__qualname__}`" for f in funcs))
    for fn in funcs:
        text, fields = parse_docstring(fn.__doc__)
        if text or not fields:
            out += ["", _md(text or NO_DESCRIPTION)]
        if fields:
            out.append("")
            out += [f"- **{name}**: {_md(fields[name])}" for name in FIELDS if name in fields]
    if code in OFFER_CODES or code in NOTICE_CODES:
        out += ["", "SMS as typically sent:", ""]
        kind = NOTICE if code in NOTICE_CODES else OFFER
        for lang in ("kk", "ru"):
            out.append(f"- {lang}: {typical_text(code, kind, lang)}")
    out.append("")
    return out


def _sources(spec: dict[str, Any]) -> str:
    srcs = spec.get("sources") or []
    return "; ".join(f"<{s}>" if s.startswith("http") else s for s in srcs) or "(none given)"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")


def _parameters(raw: dict[str, Any]) -> list[str]:
    out = ["## Parameters", "", f"From `rules/parameters.json` (version {raw.get('version', '?')}). "
           "A dated value applies from its date until the next one.", ""]
    dated = raw.get("dated", {})
    if dated:
        out += ["### Dated values", ""]
        for name, spec in dated.items():
            out += [f"#### `{name}` — {spec.get('label', '')} ({spec.get('unit', '')})", "",
                    "| from | value |", "|---|---|"]
            out += [f"| {day} | {_cell(v)} |" for day, v in sorted(spec["values"].items())]
            out += ["", f"Sources: {_sources(spec)}", ""]
    scalars = raw.get("scalars", {})
    if scalars:
        out += ["### Scalars", "", "| name | value | unit | meaning | sources |", "|---|---|---|---|---|"]
        out += [f"| `{name}` | {_cell(spec.get('value'))} | {_cell(spec.get('unit', ''))} | "
                f"{_cell(spec.get('label', ''))} | {_cell(_sources(spec))} |" for name, spec in scalars.items()]
        out.append("")
    coefficients = raw.get("coefficients", {})
    if coefficients:
        out += ["### Coefficient tables", ""]
        for name, spec in coefficients.items():
            out += [f"#### `{name}` — {spec.get('label', '')} ({spec.get('unit', '')})", "",
                    "| key | value |", "|---|---|"]
            out += [f"| {_cell(k)} | {_cell(v)} |" for k, v in spec["values"].items()]
            out += ["", f"Sources: {_sources(spec)}", ""]
    if "retirement_age" in raw:
        spec = raw["retirement_age"]
        out += [f"### `retirement_age` — {spec.get('label', '')} ({spec.get('unit', '')})", "",
                f"Men: {spec.get('men')} months.", "", "| women, from | months |", "|---|---|"]
        out += [f"| {day} | {months} |" for day, months in sorted(spec.get("women", {}).items())]
        out += ["", f"Sources: {_sources(spec)}", ""]
    known = {"version", "description", "dated", "scalars", "coefficients", "retirement_age"}
    for name in sorted(set(raw) - known):
        out += [f"### `{name}`", "", "```json", json.dumps(raw[name], ensure_ascii=False, indent=2), "```", ""]
    return out


def _segments() -> list[str]:
    out = ["## SMS length", "",
           "Each template rendered with a typical amount, reply date 05.03.2026, kandas expiry "
           "15.08.2026 and a typical withdrawal reason. Cyrillic text is UCS-2: 70 characters in "
           "one SMS, 67 per part when longer.", "",
           "| code | kind | language | characters | SMS parts |", "|---|---|---|---|---|"]
    out += [f"| `{code}` | {kind} | {lang} | {chars} | {parts} |" for code, kind, lang, chars, parts in segment_report()]
    out.append("")
    return out


def generate() -> str:
    """The full text of POLICY.md for the rules, parameters and templates as they are now."""
    with open(PARAMETERS_FILE, encoding="utf-8") as fh:
        raw = json.load(fh)
    by_code: dict[str, list[Rule]] = {}
    for r in registered_rules():
        by_code.setdefault(r.code, []).append(r)
    out = [
        "# familycard policy (generated)", "",
        "Generated by `python -m rules.policy_doc` from the rule functions' docstrings, "
        "`rules/parameters.json` and `rules/texts.py`. Do not edit by hand: change the code or "
        "the data and regenerate (`python -m rules.policy_doc --check` fails when this file is stale).", "",
        "## Rights over time (rules.md §5a)", "",
        "A rule decides a fresh occasion when something happens (\"Fires\", \"Condition\"). From then "
        "on the right is a condition over the state (\"Continues while\"), kept by its recipient's "
        "rights ledger wherever the recipient or the persons it is about live: when it stops holding, "
        "an open offer is withdrawn and a running benefit closed (`end_month` the month of the "
        "change, `late: true` when a late record caused it); when its amount follows the state, a "
        "running benefit gets a `change` (and an open offer is offered again at the new amount); on "
        "1 January benefits in `mci` or `subsistence_minimum` take the year's amount (no SMS). "
        "One occasion, one notification per recipient, across families.", "",
        "## Rules", "",
        "| code | kind | fired by | role |", "|---|---|---|---|",
    ]
    out += [f"| `{code}` | {_kind(code)} | {', '.join(f'`{t}`' for r in regs for t in r.on)} | "
            f"{', '.join(dict.fromkeys(r.role for r in regs))} |" for code, regs in by_code.items()]
    missing = [c for c in OFFER_CODES + NOTICE_CODES if c not in by_code]
    if missing:
        out += ["", "Contract codes without a registered rule yet: " + ", ".join(f"`{c}`" for c in missing) + "."]
    out.append("")
    for code, regs in by_code.items():
        out += _rule_section(code, regs)
    out += _parameters(raw)
    out += _segments()
    return "\n".join(out)


def page_main(module: str, page: Path, generate_page: Callable[[], str], description: str,
              argv: Sequence[str] | None = None) -> int:
    """The command of a page generated from code (this one, ``schemas.reference``): write it, or
    with ``--check`` exit 1 if the file differs from what the code says now."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {page.name} is stale")
    parser.add_argument("--output", type=Path, default=page)
    args = parser.parse_args(argv)
    text = generate_page()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{args.output} is stale: run python -m {module}", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return page_main("rules.policy_doc", POLICY_FILE, generate, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
