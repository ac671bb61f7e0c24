"""Documents for tests/config/test_quickcheck.py: Hypothesis strategies that build documents near a JSON
Schema (valid, or off by a little), and every single mistake in a full valid document."""

from __future__ import annotations

import math
import re
from typing import Any

from hypothesis import strategies as st

from metawsm.config import schemas

TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from("\n\r\t \ufeff\x85\u2028é-_.:/*{}"), max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.sampled_from([0, 1, -1, 2**63, 2**64])
           | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, -0.0, 1.0, 0.5, 1e300])
           | TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=10)
# values jsonschema-rs cannot take as JSON: the quick check must leave them to it
NOT_PLAIN = st.sampled_from([float("nan"), float("inf"), "\ud800", b"x", (1, 2), {1: "a"}, {"a": {2: 3}}])


def _schema(schema: Any, root: dict[str, Any]) -> Any:
    return schemas.resolve(schema, root) if isinstance(schema, dict) else schema


def _neighbours(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value, value + "x", value.upper(), value[:-1], " " + value, value + "\n"]
    if value is None:
        return [None, "null", False, 0, ""]
    if isinstance(value, bool):
        return [value, int(value), float(value), str(value).lower()]
    return [value, value + 1, value - 1, float(value), value + 0.5, bool(value), str(value)]


def _numbers(schema: dict[str, Any]) -> list[Any]:
    out: list[Any] = [0, 1, -1, 0.0, 1.0, 2.5, True, False, 2**63, -(2**63) - 1, 1e300, "1"]
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema:
            b = schema[key]
            out += [b - 1, b, b + 1, float(b), b - 0.5, b + 0.5, b - 1e-9, b + 1e-9]
    return out


def _sized(draw: st.DrawFn, seed: str, schema: dict[str, Any]) -> str:
    """`seed` stretched or cut to a length at an edge of minLength/maxLength (repeating its last character
    keeps most of our patterns matched)."""
    edges = [0, 1]
    for key in ("minLength", "maxLength"):
        if key in schema:
            edges += [schema[key] - 1, schema[key], schema[key] + 1]
    n = max(0, draw(st.sampled_from(edges)))
    return seed[:n] if len(seed) >= n else seed + (seed[-1:] or "a") * (n - len(seed))


class Plan:
    """Where a generated document goes wrong: at one node in `rate` (0: nowhere), and/or at exactly the
    `countdown`-th chance (0: none) — one mistake in an otherwise valid document is the sharpest test."""

    def __init__(self, rate: int, countdown: int) -> None:
        self.rate, self.countdown = rate, countdown


def _off(draw: st.DrawFn, plan: Plan, weight: int = 1) -> bool:
    """Whether to go wrong at this chance."""
    if plan.countdown > 0:
        plan.countdown -= 1
        if plan.countdown == 0:
            return True
    return plan.rate > 0 and draw(st.integers(0, plan.rate * weight - 1)) == 0


def _valid_number(schema: dict[str, Any], x: Any) -> bool:
    return (not isinstance(x, bool) and isinstance(x, int | float)
            and schema.get("minimum", -math.inf) <= x <= schema.get("maximum", math.inf)
            and schema.get("exclusiveMinimum", -math.inf) < x and (schema.get("type") != "integer" or x == int(x)))


@st.composite
def near(draw: st.DrawFn, schema: Any, root: dict[str, Any], plan: Plan, depth: int = 0) -> Any:
    """A document shaped by `schema`: valid except where `plan` says to go wrong (a wrong type, a value just
    out of bounds, a key missing or unknown, a near-miss string, an enum's neighbour...)."""
    schema = _schema(schema, root)
    if not isinstance(schema, dict) or depth > 8:
        return draw(JSON)
    if _off(draw, plan, 3):
        return draw(JSON | NOT_PLAIN) if draw(st.integers(0, 9)) == 0 else draw(JSON)
    if "anyOf" in schema:
        return draw(near(draw(st.sampled_from(schema["anyOf"])), root, plan, depth + 1))
    if "enum" in schema or "const" in schema:
        value = draw(st.sampled_from(schema.get("enum", [schema.get("const")])))
        return draw(st.sampled_from(_neighbours(value))) if _off(draw, plan) else value
    types = schema.get("type", ["string", "integer", "number", "boolean", "null", "array", "object"])
    kind = draw(st.sampled_from([types] if isinstance(types, str) else types))
    if _off(draw, plan, 2):  # the wrong type
        kind = draw(st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object"]))
    if kind == "string":
        lo, hi = schema.get("minLength", 0), schema.get("maxLength", 30)
        if "pattern" in schema:
            seed = draw(st.from_regex(re.compile(schemas.ecma_regex(schema["pattern"]))))
        else:
            seed = draw(st.text(st.characters(codec="utf-8"), min_size=lo, max_size=max(lo, min(hi, 20))))
        if not _off(draw, plan):
            return seed
        if draw(st.booleans()):
            return _sized(draw, seed, schema)
        i = draw(st.integers(0, len(seed)))  # one character changed, added or dropped
        return seed[:i] + draw(st.sampled_from(["", "\n", " ", "-", "é", "\ufeff", "A", "0", "."])) + seed[i + 1:]
    if kind in ("integer", "number"):
        numbers = _numbers(schema)
        if not _off(draw, plan):
            numbers = [x for x in numbers if _valid_number({**schema, "type": kind}, x)] or numbers
        return draw(st.sampled_from(numbers))
    if kind == "boolean":
        return draw(st.sampled_from([True, False, 0, 1, "true", None] if _off(draw, plan) else [True, False]))
    if kind == "null":
        return draw(st.sampled_from([0, "", False, []])) if _off(draw, plan) else None
    if kind == "array":
        items = schema.get("items", True)
        lo, hi = schema.get("minItems", 0), schema.get("maxItems", 100)
        if _off(draw, plan):
            sizes = [0, 1, 2, 3] + [max(0, edge + d) for edge in (lo, hi) for d in (-1, 0, 1)]
        else:
            sizes = [n for n in (lo, lo + 1, lo + 2, hi) if n <= hi]
        size = min(draw(st.sampled_from(sizes)), 110)
        first = [draw(near(items, root, plan, depth + 1)) for _ in range(min(size, 3))]
        out = [first[i % len(first)] if i >= 3 else first[i] for i in range(size)] if first else []
        if out and _off(draw, plan):
            out.append(out[0])  # a duplicate
        return out
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        out = {}
        for name, sub in props.items():
            keep = not _off(draw, plan) if name in required else draw(st.integers(0, 2)) == 0
            if keep:
                out[name] = draw(near(sub, root, plan, depth + 1))
        extra = schema.get("additionalProperties", True)
        if "maxProperties" in schema and _off(draw, plan):  # one key too many (or just enough)
            key_pattern = re.compile(schemas.ecma_regex(schema.get("propertyNames", {}).get("pattern", ".*")))
            while len(out) < schema["maxProperties"] + draw(st.integers(0, 1)):
                out[draw(st.from_regex(key_pattern))] = draw(near(extra, root, Plan(0, 0), depth + 1))
        if isinstance(extra, dict) or _off(draw, plan):
            names = schema.get("propertyNames", {})
            for _ in range(draw(st.integers(0, 3))):
                if "pattern" in names and not _off(draw, plan):
                    key = draw(st.from_regex(re.compile(schemas.ecma_regex(names["pattern"]))))
                else:
                    key = draw(st.sampled_from([*props, "self", "x", "titel", "1X", "a b", ""]) | TEXT)
                out[key] = draw(near(extra if isinstance(extra, dict) else True, root, plan, depth + 1))
        return out
    return draw(JSON)


def docs(kind: str) -> st.SearchStrategy[Any]:
    """Valid documents, documents with exactly one mistake somewhere, and documents with several."""
    root = schemas.load_schema(kind)
    plans = st.builds(Plan, st.just(0), st.integers(0, 120)) | st.builds(Plan, st.sampled_from([5, 20, 60]),
                                                                         st.just(0))
    return plans.flatmap(lambda plan: near(root, root, plan))


# --------------------------------------------------------------------------- every single mistake
SAMPLES = ["a", "A-1", "ab", "{agent}", "{ticket}-{agent}", "/a", "http://a", "ssh://h", "a:1", "agent:x", "1", "A",
           "*", "8080", "1k", "VAR", "a.b", ""]


def _match(schema: dict[str, Any], text: str) -> bool:
    return (schema.get("minLength", 0) <= len(text) <= schema.get("maxLength", 10**6)
            and ("pattern" not in schema or re.search(schemas.ecma_regex(schema["pattern"]), text) is not None))


def _example(schema: Any, root: dict[str, Any]) -> Any:
    """A valid value with every property and one entry in every map and list the schema allows."""
    schema = _schema(schema, root)
    if not isinstance(schema, dict):
        return {}
    if "enum" in schema or "const" in schema:
        return schema.get("enum", [schema.get("const")])[0]
    if "anyOf" in schema:
        return _example(schema["anyOf"][-1], root)
    types = schema.get("type", "object")
    kind = types if isinstance(types, str) else next(t for t in types if t != "null")
    if kind == "string":
        return next((t for t in SAMPLES if _match(schema, t)), "")
    if kind in ("integer", "number"):
        return schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return [_example(schema.get("items", {}), root)] if schema.get("maxItems", 1) >= 1 else []
    out = {name: _example(sub, root) for name, sub in schema.get("properties", {}).items()}
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        names = schema.get("propertyNames", {})
        key = next(t for t in ["x1", "VAR", "a"] if _match(names, t))
        out[key] = _example(extra, root)
    return out


def _candidates(schema: Any, root: dict[str, Any], value: Any) -> list[Any]:
    """Values to put in place of `value` (valid under `schema`): near misses and other types."""
    schema = _schema(schema, root)
    out: list[Any] = [None, True, False, 0, 1, 1.0, 1.5, -1, 2**64, "", "x", [], {}, [value], {"x": value},
                      float("nan"), float("inf"), "\ud800"]
    if not isinstance(schema, dict):
        return out
    for sub in schema.get("anyOf", []):
        out += _candidates(sub, root, value)
    for v in schema.get("enum", [schema["const"]] if "const" in schema else []):
        out += _neighbours(v)
    out += _numbers(schema)
    if isinstance(value, str):
        out += [*_neighbours(value), value + "\ufeff", value + " x", "é" + value]
        for key in ("minLength", "maxLength"):
            if key in schema:
                n = schema[key]
                out += [(value + "a" * n)[: max(0, n - 1)], (value + "a" * n)[:n], value + "a" * (n + 1 - len(value))]
    if isinstance(value, list):
        out += [[], value[:1] * 2, value * 2, [*value, None], value[:-1]]
        if "maxItems" in schema and value:
            out += [value[:1] * (schema["maxItems"] + 1), [f"v{i}" for i in range(schema["maxItems"] + 1)]]
    if isinstance(value, dict):
        out += [{k: v for k, v in value.items() if k != name} for name in value]  # each key missing
        out += [{**value, key: 1} for key in ("titel", "x", "self", "1X", "")]
        if "maxProperties" in schema:
            out += [{**value, **{f"k{i}": "v" for i in range(schema["maxProperties"] + d)}} for d in (0, 1)]
    return out


def _subschema(schema: Any, root: dict[str, Any], key: Any) -> Any:
    """The schema a child (property name or list index) of a value of `schema` follows."""
    schema = _schema(schema, root)
    if not isinstance(schema, dict):
        return True
    if isinstance(key, int):
        return schema.get("items", True)
    return schema.get("properties", {}).get(key, schema.get("additionalProperties", True))


def single_mistakes(doc: Any, schema: Any, root: dict[str, Any]) -> Any:
    """`doc` with one node replaced by each of its candidates, for every node."""
    yield from _candidates(schema, root, doc)
    children = list(doc.items()) if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for key, child in children:
        for changed in single_mistakes(child, _subschema(schema, root, key), root):
            if isinstance(doc, dict):
                yield {**doc, key: changed}
            else:
                yield [*doc[:key], changed, *doc[key + 1:]]


def bases(kind: str) -> list[Any]:
    root = schemas.load_schema(kind)
    bases = [_example(root, root), schemas.apply_defaults(kind, _example(root, root))]
    if kind == "policy":
        bases.append(schemas.apply_defaults("policy", {}))
    return bases
