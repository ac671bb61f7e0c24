"""JSON text for step graphs: indented at the top, one line per step (or change) below.

Byte-stable for identical data, readable, friendly to line diffs, and fast: steps reuse the JSON
of their fields computed for the definition hash, and the rest is encoded by the C encoder, which
the standard library only uses without indentation.
"""

from __future__ import annotations

from typing import Any

from metawsm.plan.graph import StepGraph, encode_json


def encode(data: Any, *, indent: int = 2, inline_depth: int = 4) -> str:
    """Like `json.dumps(data, indent=indent)`, except that steps, mappings with an "id" key (changes)
    and anything nested `inline_depth` levels deep are written on one line."""
    return _encode(data, 0, indent, inline_depth)


def _is_record(value: Any) -> bool:
    return hasattr(value, "json_text") or (isinstance(value, dict) and "id" in value)


def _encode(value: Any, depth: int, indent: int, inline_depth: int) -> str:
    if hasattr(value, "json_text"):
        return str(value.json_text())
    if isinstance(value, StepGraph):
        value = {"plan": value.plan_name, "source": value.source, "steps": value.steps}
    elif not isinstance(value, (dict, list, tuple)) and hasattr(value, "to_json"):
        value = value.to_json()
    if isinstance(value, dict):
        if not value or "id" in value or depth >= inline_depth:
            return encode_json(value)
        pad = " " * (indent * (depth + 1))
        items = [f"{pad}{encode_json(str(k))}: {_encode(v, depth + 1, indent, inline_depth)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * (indent * depth) + "}"
    if isinstance(value, (list, tuple)):
        records = bool(value) and _is_record(value[0])
        if not records and (not value or depth >= inline_depth
                            or not any(isinstance(v, (dict, list, tuple, StepGraph)) for v in value)):
            return encode_json(list(value))
        pad = " " * (indent * (depth + 1))
        if records:
            items = [pad + (v.json_text() if hasattr(v, "json_text") else encode_json(v)) for v in value]
        else:
            items = [pad + _encode(v, depth + 1, indent, inline_depth) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * (indent * depth) + "]"
    return encode_json(value)
