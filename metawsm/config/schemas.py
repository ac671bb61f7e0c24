"""JSON Schemas: loading, fast validity checks, located error messages, and defaults."""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

from metawsm.config import yamlload
from metawsm.errors import Diagnostic
from metawsm.resources import data_dir

KINDS = ("policy", "ticket", "plan")
_TYPE_NAMES = {
    str: "a string", int: "an integer", float: "a number", bool: "a boolean",
    list: "a list", dict: "a mapping", type(None): "null",
}


@cache
def load_schema(kind: str) -> dict[str, Any]:
    with (data_dir("schemas") / f"{kind}.json").open(encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


@cache
def _validator(kind: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(kind))


@cache
def _fast_validator(kind: str) -> Any:
    try:
        import jsonschema_rs
    except ImportError:  # optional accelerator
        return None
    return jsonschema_rs.validator_for(load_schema(kind))


def is_valid(kind: str, data: Any) -> bool:
    """Quick check; the Rust validator when present (errors are always explained by `jsonschema`)."""
    fast = _fast_validator(kind)
    if fast is not None:
        try:
            return bool(fast.is_valid(data))
        except Exception:  # noqa: BLE001 - non-JSON values (dates, odd keys): let jsonschema judge
            pass
    return not any(True for _ in _validator(kind).iter_errors(data))


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (the only kind our schemas use), merging sibling keywords."""
    ref = schema.get("$ref")
    if not ref:
        return schema
    target: Any = root
    for part in ref.lstrip("#/").split("/"):
        target = target[part]
    merged = dict(resolve(target, root))
    merged.update({k: v for k, v in schema.items() if k != "$ref"})
    return merged


def apply_defaults(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `data` with every missing property filled from the schema's defaults."""
    root = load_schema(kind)

    def fill(schema: dict[str, Any], value: Any) -> Any:
        schema = resolve(schema, root)
        if isinstance(value, dict):
            props = schema.get("properties", {})
            for name, sub in props.items():
                sub_r = resolve(sub, root)
                if name not in value and "default" in sub_r:
                    value[name] = copy.deepcopy(sub_r["default"])
            for name, item in value.items():
                if name in props:
                    value[name] = fill(props[name], item)
                elif isinstance(schema.get("additionalProperties"), dict):
                    value[name] = fill(schema["additionalProperties"], item)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            return [fill(schema["items"], item) for item in value]
        return value

    return fill(root, copy.deepcopy(data))  # type: ignore[no-any-return]


def suggest(word: str, options: list[str] | tuple[str, ...]) -> str:
    match = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _expected(types: Any) -> str:
    names = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
             "array": "a list", "object": "a mapping", "null": "null"}
    if isinstance(types, list):
        return " or ".join(names.get(t, t) for t in types)
    return names.get(types, str(types))


def _messages(error: Any) -> Iterator[tuple[list[object], str, bool]]:
    """(key path, message, point-at-key) for one jsonschema error, friendlier than the defaults."""
    path = list(error.absolute_path)
    v, inst, schema = error.validator, error.instance, error.schema
    if "propertyNames" in error.absolute_schema_path:
        hint = f"must match {error.validator_value}" if v == "pattern" else "this name is reserved"
        yield [*path, inst], f"invalid name {inst!r} ({hint})", True
        return
    if v == "additionalProperties" and isinstance(inst, dict):
        known = list(schema.get("properties", {}))
        for key in inst:
            if key not in known:
                yield [*path, key], f"unknown key {key!r}{suggest(key, known)}", True
        return
    if v == "required":
        missing = [name for name in error.validator_value if name not in inst]
        for name in missing:
            yield path, f"missing required key {name!r}", False
        return
    if v == "enum":
        choices = [str(c) for c in error.validator_value]
        yield path, f"{inst!r} is not one of: {', '.join(choices)}{suggest(str(inst), choices)}", False
        return
    if v == "const":
        yield path, f"must be {error.validator_value!r}, got {inst!r}", False
        return
    if v == "type":
        yield path, f"expected {_expected(error.validator_value)}, got {_type_name(inst)}", False
        return
    if v == "pattern":
        hint = schema.get("x-hint")
        msg = f"{inst!r} is not valid: {hint}" if hint else f"{inst!r} does not match {error.validator_value!r}"
        yield path, msg, False
        return
    if v == "uniqueItems":
        yield path, "items must be unique", False
        return
    if v == "minItems" and error.validator_value == 1:
        yield path, "must not be empty", False
        return
    if v in ("anyOf", "oneOf") and error.context:
        best = min(error.context, key=lambda e: len(list(e.absolute_path)) * -1)
        if isinstance(inst, str):
            opts = [str(c) for e in error.context if e.validator == "enum" for c in e.validator_value]
            if opts:
                yield path, f"{inst!r} is not one of: {', '.join(opts)}{suggest(inst, opts)}", False
                return
        yield from _messages(best)
        return
    yield path, error.message, False


def diagnostics(kind: str, data: Any, display: str, text: str) -> list[Diagnostic]:
    """Every schema error of a document, located in its source text."""
    errors = sorted(_validator(kind).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return []
    root = yamlload.compose(text)
    out: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()
    for error in errors:
        for path, message, at_key in _messages(error):
            keypath = yamlload.format_keypath(path)
            if (keypath, message) in seen:
                continue
            seen.add((keypath, message))
            node = yamlload.find_node(root, path, want_key=at_key)
            line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)
            out.append(yamlload.diag(display, text, line, col, keypath, message))
    return out
