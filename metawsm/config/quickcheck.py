"""A pure-Python yes/no JSON Schema check for metawsm's own schemas, so that a valid file is accepted without
importing jsonschema-rs (its extension imports decimal, email.utils, socket, random, urllib.parse and
ipaddress when it loads: ~27 ms, more than the pre-commit hook's own work).

`compile_schema` turns a draft 2020-12 schema into one predicate, compiled once into closures. The predicate
answers True only when the document is valid; False means "invalid, or not decided here", and the caller
then asks jsonschema-rs (which also gives every located message, so errors are unchanged). Soundness is
what matters: it must never accept what jsonschema-rs refuses. To keep that simple it refuses (defers)
anything that is not plain JSON data — a value whose type is not exactly str, int, float, bool, None, list
or dict, a non-finite float, a non-str key, a string jsonschema-rs cannot take (a lone surrogate).

Only the keywords metawsm's schemas use are understood; a schema with any other keyword raises
`Unsupported` when compiled (or, compiled lazily, when first used), and its documents go to jsonschema-rs.
`tests/config/test_quickcheck.py` compares the verdicts with jsonschema-rs on generated documents and walks
every schema's keywords.
"""

from __future__ import annotations

import math
from collections.abc import Callable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms) on validate's and the hooks' path
if TYPE_CHECKING:
    from typing import Any

    Check = Callable[[Any], bool]


# keywords that only annotate (no effect on validity), and those the compiler understands
ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "default", "examples",
                         "deprecated", "readOnly", "writeOnly", "$defs"})
KEYWORDS = frozenset({"type", "enum", "const", "not", "anyOf", "allOf", "oneOf", "$ref",
                      "minLength", "maxLength", "pattern",
                      "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                      "items", "minItems", "maxItems", "uniqueItems",
                      "properties", "required", "additionalProperties", "propertyNames", "minProperties",
                      "maxProperties"})
_TYPES = ("string", "integer", "number", "boolean", "null", "array", "object")


class Unsupported(Exception):
    """The schema uses something this checker does not implement: its documents go to jsonschema-rs."""


def _never(_x: Any) -> bool:
    return False


def plain_str(x: str) -> bool:
    """A string jsonschema-rs accepts (encodable as UTF-8: no lone surrogate)."""
    if x.isascii():
        return True
    try:
        x.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def plain(x: Any) -> bool:
    """Plain JSON data all the way down (what an empty schema `{}` accepts here)."""
    t = type(x)
    if t is str:
        return plain_str(x)
    if t is dict:
        return all(type(k) is str and plain_str(k) and plain(v) for k, v in x.items())
    if t is list:
        return all(plain(v) for v in x)
    if t is float:
        return math.isfinite(x)
    return t is int or t is bool or x is None


def _key(x: Any) -> Any:
    """A hashable stand-in with JSON's equality: 1 == 1.0, but true != 1; strings stand for themselves."""
    t = type(x)
    if t is str:
        return x
    if t is bool:
        return ("b", x)
    if t is int or t is float:
        return ("n", x)
    if x is None:
        return ("z",)
    if t is list:
        return ("l", tuple(_key(v) for v in x))
    if t is dict:
        return ("d", frozenset((k, _key(v)) for k, v in x.items()))
    raise TypeError(type(x).__name__)


def _unique(x: list[Any]) -> bool:
    return len(set(x)) == len(x) if all(type(v) is str for v in x) else len({_key(v) for v in x}) == len(x)


def _lazy_pattern(pattern: str, compile_pattern: Callable[[str], Any]) -> Check:
    """`pattern` as a search, its regex compiled on first use (a policy schema has ~35 patterns; a policy file
    usually sets a handful of keys)."""
    cell: list[Any] = []

    def search(x: str) -> bool:
        if not cell:
            cell.append(compile_pattern(pattern).search)
        return cell[0](x) is not None

    return search


class _Compiler:
    def __init__(self, root: dict[str, Any], compile_pattern: Callable[[str], Any], lazy: bool) -> None:
        self.root = root
        self.compile_pattern = compile_pattern
        self.lazy = lazy
        self.refs: dict[str, list[Check]] = {}

    def later(self, props: dict[str, Check], name: str, schema: Any) -> Check:
        """A property's check compiled when a document first has that property (the policy schema has ~400
        subschemas; a policy file sets a few keys): it then takes its own place in `props`."""

        def first(x: Any) -> bool:
            check = props[name] = self.compile(schema)
            return check(x)

        return first

    def ref(self, ref: str) -> Check:
        if not ref.startswith("#"):
            raise Unsupported(f"$ref {ref!r}")
        cell = self.refs.get(ref)
        if cell is None:
            cell = self.refs[ref] = []
            target: Any = self.root
            for part in filter(None, ref[1:].split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise Unsupported(f"$ref {ref!r} does not resolve")
                target = target[part]
            cell.append(self.compile(target))
        if cell:
            return cell[0]
        return lambda x: cell[0](x)  # a reference to a schema being compiled (recursion)

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return plain
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        for key in schema:
            if key not in KEYWORDS and key not in ANNOTATIONS and not key.startswith("x-"):
                raise Unsupported(f"keyword {key!r}")
        types = schema.get("type", list(_TYPES))
        types = {types} if isinstance(types, str) else set(types)
        if not types <= set(_TYPES):
            raise Unsupported(f"type {schema.get('type')!r}")
        handlers: dict[type, Check] = {}
        if "string" in types:
            handlers[str] = self.string(schema)
        if "integer" in types or "number" in types:
            handlers[int] = self.number(schema, integral=False)
            handlers[float] = self.number(schema, integral="number" not in types)
        if "boolean" in types:
            handlers[bool] = lambda _x: True
        if "null" in types:
            handlers[type(None)] = lambda _x: True
        if "array" in types:
            handlers[list] = self.array(schema)
        if "object" in types:
            handlers[dict] = self.obj(schema)
        generic = self.generic(schema)
        get = handlers.get
        if not generic and len(handlers) == 1:  # the usual case: one type (no dict lookup)
            [(only, handler)] = handlers.items()

            def check_one(x: Any) -> bool:
                return type(x) is only and handler(x)
            return check_one
        if not generic:
            def check(x: Any) -> bool:
                h = get(type(x))
                return h is not None and h(x)
            return check
        if len(generic) == 1:
            g = generic[0]

            def check1(x: Any) -> bool:
                h = get(type(x))
                return h is not None and h(x) and g(x)
            return check1

        def check_all(x: Any) -> bool:
            h = get(type(x))
            return h is not None and h(x) and all(g(x) for g in generic)
        return check_all

    def generic(self, schema: dict[str, Any]) -> list[Check]:
        """The keywords that apply to any type (value sets, combinators, references)."""
        out: list[Check] = []
        if "enum" in schema or "const" in schema:
            values = schema["enum"] if "enum" in schema else [schema["const"]]
            if not isinstance(values, list):
                raise Unsupported("enum")
            try:
                allowed = frozenset(_key(v) for v in values)
            except TypeError as exc:
                raise Unsupported("enum value") from exc
            if "enum" in schema and "const" in schema:
                allowed &= frozenset({_key(schema["const"])})
            out.append(lambda x: _key(x) in allowed)
        if "not" in schema:
            inner = self.compile(schema["not"])
            # for plain data a refusal means "invalid" (only non-plain data is left undecided)
            out.append(lambda x: plain(x) and not inner(x))
        if "anyOf" in schema:
            alts = [self.compile(s) for s in schema["anyOf"]]
            out.append(lambda x: any(a(x) for a in alts))
        if "allOf" in schema:
            parts = [self.compile(s) for s in schema["allOf"]]
            out.append(lambda x: all(p(x) for p in parts))
        if "oneOf" in schema:
            raise Unsupported("oneOf")  # exactly-one needs a sure "invalid" from every other branch
        if "$ref" in schema:
            out.append(self.ref(schema["$ref"]))
        return out

    def string(self, schema: dict[str, Any]) -> Check:
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        search = _lazy_pattern(schema["pattern"], self.compile_pattern) if "pattern" in schema else None
        if hi is None and not lo and search is None:
            return plain_str
        top = math.inf if hi is None else hi

        def check(x: str) -> bool:
            return lo <= len(x) <= top and (x.isascii() or plain_str(x)) and (search is None or search(x))
        return check

    def number(self, schema: dict[str, Any], *, integral: bool) -> Check:
        lo, hi = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
        xlo, xhi = schema.get("exclusiveMinimum", -math.inf), schema.get("exclusiveMaximum", math.inf)
        for bound in (lo, hi, xlo, xhi):
            if type(bound) not in (int, float):
                raise Unsupported("a numeric bound")

        def check(x: float) -> bool:
            if type(x) is float and (not math.isfinite(x) or (integral and not x.is_integer())):
                return False
            return lo <= x <= hi and xlo < x < xhi
        return check

    def array(self, schema: dict[str, Any]) -> Check:
        item = self.compile(schema.get("items", True))
        lo, hi = schema.get("minItems", 0), schema.get("maxItems", math.inf)
        unique = schema.get("uniqueItems", False) is True
        items = schema.get("items")
        strings = isinstance(items, dict) and items.get("type") == "string"  # every item checked is a str

        def check(x: list[Any]) -> bool:
            if not lo <= len(x) <= hi:
                return False
            for v in x:
                if not item(v):
                    return False
            return not unique or (len(set(x)) == len(x) if strings else _unique(x))
        return check

    def obj(self, schema: dict[str, Any]) -> Check:
        props: dict[str, Check] = {}
        for name, sub in schema.get("properties", {}).items():
            props[name] = self.later(props, name, sub) if self.lazy else self.compile(sub)
        extra = self.compile(schema.get("additionalProperties", True))
        names = self.compile(schema["propertyNames"]) if "propertyNames" in schema else None
        required = tuple(schema.get("required", ()))
        lo, hi = schema.get("minProperties", 0), schema.get("maxProperties", math.inf)
        get = props.get

        def check(x: dict[str, Any]) -> bool:
            if not lo <= len(x) <= hi:
                return False
            for name in required:
                if name not in x:
                    return False
            for k, v in x.items():
                if type(k) is not str or not (k.isascii() or plain_str(k)) or (names is not None and not names(k)):
                    return False
                c = get(k)
                if not (extra(v) if c is None else c(v)):
                    return False
            return True
        return check


def compile_schema(schema: dict[str, Any], compile_pattern: Callable[[str], Any], *, lazy: bool = False) -> Check:
    """One predicate for `schema` (True: valid). `compile_pattern(pattern)` gives an object with `.search`
    that has ECMA-262 semantics (metawsm.config.schemas.ecma_regex). Raises Unsupported — with `lazy`, object
    properties are compiled on first use, so the predicate itself may raise it then."""
    return _Compiler(schema, compile_pattern, lazy).compile(schema)
