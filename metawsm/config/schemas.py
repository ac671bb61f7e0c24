"""JSON Schemas: loading, fast validity checks, located error messages, and defaults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache

from metawsm.config import yamlload
from metawsm.errors import Diagnostic
from metawsm.resources import data_dir

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms) on validate's and the hooks' path
if TYPE_CHECKING:
    from typing import Any

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
    return python_validator_class()(load_schema(kind))


@cache
def python_validator_class() -> Any:
    """Draft 2020-12 with ECMA-262 `pattern` semantics (what jsonschema-rs and browsers do)."""
    from jsonschema import Draft202012Validator, validators

    return validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


# ECMA-262's character classes, spelled out: Python's `\s` misses U+FEFF and adds U+001C-U+001F and
# U+0085, and its `\d`/`\w` match any Unicode digit or letter (ECMA's are ASCII), so the Python and Rust
# validators disagreed on values such as 'agent:\ufeff'.
_ECMA_CLASSES = {
    "\\s": "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff",
    "\\d": "0-9",
    "\\w": "A-Za-z0-9_",
}


def ecma_regex(pattern: str) -> str:
    """A JSON Schema (ECMA-262) pattern as a Python regex: `$` means the end of the text (Python's
    `$` also matches before a final newline, so `ABC-1\\n` passed `^…$` here and failed in the Rust
    validator), and `\\s`, `\\d`, `\\w` (and their negations) mean what ECMA-262 says."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            esc = pattern[i:i + 2]
            body = _ECMA_CLASSES.get(esc.lower())
            if body is None or (in_class and esc.isupper()):
                out.append(esc)
            elif in_class:
                out.append(body)
            else:
                out.append(f"[{'^' if esc[1].isupper() else ''}{body}]")
            i += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "$" and not in_class:
            c = r"\Z"
        out.append(c)
        i += 1
    return "".join(out)


@cache
def _compiled(pattern: str) -> Any:
    import re

    return re.compile(ecma_regex(pattern))


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _fast_validator(kind: str) -> Any:
    try:
        import jsonschema_rs
    except ImportError:  # optional accelerator
        return None
    return jsonschema_rs.validator_for(load_schema(kind))


@cache
def _quick(kind: str) -> Any:
    """The pure-Python yes/no check of config/quickcheck.py, or None when the schema needs more than it knows."""
    from metawsm.config import quickcheck

    try:
        return quickcheck.compile_schema(load_schema(kind), _compiled, lazy=True)
    except quickcheck.Unsupported:
        return None


def _quick_accepts(kind: str, data: Any) -> bool:
    quick = _quick(kind)
    if quick is None:
        return False
    from metawsm.config.quickcheck import Unsupported

    try:
        return bool(quick(data))
    except Unsupported:  # a part of the schema compiled on first use needs more than quickcheck knows
        return False


def is_valid(kind: str, data: Any) -> bool:
    """Quick check: the pure-Python check accepts a valid document without loading jsonschema-rs (~27 ms of
    imports); anything it does not accept goes to the Rust validator when present (errors are always
    explained by `jsonschema`)."""
    if _quick_accepts(kind, data):
        return True
    fast = _fast_validator(kind)
    if fast is not None:
        try:
            return bool(fast.is_valid(data))
        except Exception:
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


def _clone(value: Any) -> Any:
    """Copy of a JSON-like default (much faster than copy.deepcopy for these small values)."""
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


_MISSING = object()


class _Defaults:
    """What to fill in at one level of a document: property defaults and child levels. (A plain class:
    a NamedTuple or a dataclass costs more to create at import than this whole module's other work.)"""

    __slots__ = ("extra", "items", "props")

    def __init__(self, props: tuple[tuple[str, Any, _Defaults | None], ...] = (), extra: _Defaults | None = None,
                 items: _Defaults | None = None) -> None:
        self.props = props
        self.extra = extra  # for additionalProperties maps
        self.items = items  # for lists of objects


def _compile_defaults(schema: dict[str, Any], root: dict[str, Any], depth: int = 0) -> _Defaults | None:
    schema = resolve(schema, root)
    if depth > 16:
        return None
    props = []
    for name, sub in schema.get("properties", {}).items():
        child = _compile_defaults(sub, root, depth + 1)
        props.append((name, resolve(sub, root).get("default", _MISSING), child))
    extra = schema.get("additionalProperties")
    extra_d = _compile_defaults(extra, root, depth + 1) if isinstance(extra, dict) else None
    items = schema.get("items")
    items_d = _compile_defaults(items, root, depth + 1) if isinstance(items, dict) else None
    if not props and extra_d is None and items_d is None:
        return None
    return _Defaults(tuple(props), extra_d, items_d)


@cache
def _defaults_tree(kind: str) -> _Defaults | None:
    root = load_schema(kind)
    return _compile_defaults(root, root)


def _fill(node: _Defaults | None, value: Any) -> Any:
    if node is None:
        return value
    if isinstance(value, dict):
        for name, default, child in node.props:
            if name not in value:
                if default is not _MISSING:
                    value[name] = _fill(child, _clone(default))
            elif child is not None:
                value[name] = _fill(child, value[name])
        if node.extra is not None:
            known = {name for name, _, _ in node.props}
            for name, item in value.items():
                if name not in known:
                    value[name] = _fill(node.extra, item)
    elif isinstance(value, list) and node.items is not None:
        return [_fill(node.items, item) for item in value]
    return value


def apply_defaults(kind: str, data: dict[str, Any], *, copy_input: bool = True) -> dict[str, Any]:
    """`data` with every missing property filled from the schema's defaults.

    The input is deep-copied first unless `copy_input=False` (the loader owns freshly parsed data).
    """
    return _fill(_defaults_tree(kind), _clone(data) if copy_input else data)  # type: ignore[no-any-return]


def suggest(word: str, options: list[str] | tuple[str, ...]) -> str:
    import difflib  # only when there is an error to explain

    match = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _expected(types: Any) -> str:
    names = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
             "array": "a list", "object": "a mapping", "null": "null"}
    if isinstance(types, list):
        return " or ".join(str(names.get(t, t)) for t in types)
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
        yield path, f"{_short(inst)} is not one of: {', '.join(choices)}{suggest(str(inst), choices)}", False
        return
    if v == "maxLength":
        yield path, f"too long: {len(inst)} characters, at most {error.validator_value}", False
        return
    if v == "minLength":
        yield path, "must not be empty" if error.validator_value == 1 else \
            f"too short: at least {error.validator_value} characters", False
        return
    if v == "const":
        yield path, f"must be {error.validator_value!r}, got {inst!r}", False
        return
    if v == "type":
        yield path, f"expected {_expected(error.validator_value)}, got {_type_name(inst)}", False
        return
    if v == "pattern":
        hint = schema.get("x-hint")
        shown = _short(inst)
        msg = f"{shown} is not valid: {hint}" if hint else f"{shown} does not match {error.validator_value!r}"
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
    message = error.message
    yield path, message if len(message) <= 200 else message[:197] + "...", False


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
