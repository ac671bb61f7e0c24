"""Generate docs/configuration.md from the JSON Schemas (run: python -m metawsm.config.docgen)."""

from __future__ import annotations

import json
import sys
from typing import Any

from metawsm.config.schemas import load_schema, resolve

TITLES = {
    "policy": ("Policy", ".metawsm/policy.yaml"),
    "ticket": ("Tickets", "tickets/<ID>.yaml"),
    "plan": ("Plans", "plans/<name>.yaml"),
}


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    t = schema.get("type", "object" if "$ref" in schema else "any")
    if isinstance(t, list):
        return " or ".join(t)
    if t == "array" and isinstance(schema.get("items"), dict):
        return f"list of {_type(schema['items'])}"
    if t == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "map"
    return str(t)


def _default(schema: dict[str, Any]) -> str:
    if "default" not in schema:
        return "required" if schema.get("_required") else ""
    value = schema["default"]
    if isinstance(value, dict) and value and len(json.dumps(value)) > 40:
        return "see below" if any(isinstance(v, dict) for v in value.values()) else f"`{json.dumps(value)}`"
    if isinstance(value, dict):
        return "" if not value else f"`{json.dumps(value)}`"
    return f"`{json.dumps(value)}`"


def _rows(schema: dict[str, Any], root: dict[str, Any], prefix: str) -> list[str]:
    rows: list[str] = []
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        if name == "$schema":
            continue
        sub_r = resolve(sub, root)
        key = f"{prefix}{name}"
        shown = dict(sub_r, _required=name in required)
        description = sub_r.get("description", "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{key}` | {_type(sub_r)} | {_default(shown)} | {description} |")
        if "properties" in sub_r:
            rows += _rows(sub_r, root, f"{key}.")
        items = sub_r.get("items")
        if isinstance(items, dict) and "properties" in resolve(items, root):
            rows += _rows(resolve(items, root), root, f"{key}[].")
        extra = sub_r.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in resolve(extra, root):
            rows += _rows(resolve(extra, root), root, f"{key}.<name>.")
    return rows


def generate() -> str:
    parts = [
        "# Configuration",
        "",
        "Generated from `schemas/*.json` by `python -m metawsm.config.docgen` — do not edit by hand;",
        "a test fails when this file and the schemas drift apart. `metawsm schema` prints the schemas,",
        "`metawsm validate` checks your files against them.",
        "",
        "How a file is checked: a small pure-Python check (`metawsm/config/quickcheck.py`, only the JSON Schema",
        "keywords these schemas use) accepts a valid file without loading jsonschema-rs, which costs more to",
        "import than the pre-commit hook's own work. A file it does not accept goes to jsonschema-rs, and every",
        "error is explained as before, with its file:line:col and key path. The tests compare the two verdicts",
        "on generated documents (every single mistake in full documents, and random ones near each schema), and",
        "a keyword the quick check does not implement sends the documents that use it to jsonschema-rs.",
        "",
    ]
    for kind in ("ticket", "plan", "policy"):
        schema = load_schema(kind)
        title, where = TITLES[kind]
        parts += [f"## {title} (`{where}`)", "", schema["description"], "",
                  "| key | type | default | description |", "|---|---|---|---|"]
        parts += _rows(schema, schema, "")
        parts.append("")
    profiles = load_schema("policy")["properties"]["agent_profiles"]["default"]
    parts += ["### Built-in agent profiles", "", "| profile | command | requires |", "|---|---|---|"]
    for name, profile in profiles.items():
        command = profile["command"].replace("|", "\\|")
        parts.append(f"| `{name}` | `{command}` | {', '.join(profile['requires']) or '—'} |")
    parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(generate())
