"""Issue 20: the pure-Python schema check (config/quickcheck.py) lets a valid file through without importing
jsonschema-rs. It must give jsonschema-rs's verdict on every plain JSON document (and refuse — defer to
jsonschema-rs — anything else): documents are generated near each schema (valid ones, and wrong types,
missing and unknown keys, enum neighbours, boundary numbers and lengths, bools for ints, strings that match
a pattern or nearly do) and at random, and both validators judge each one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from metawsm.config import quickcheck, schemas, yamlload
from metawsm.config.quickcheck import ANNOTATIONS, KEYWORDS, Unsupported, compile_schema, plain
from tests.config.schemadocs import JSON, NOT_PLAIN, SCALARS, bases, docs, single_mistakes

KINDS = ("policy", "ticket", "plan")
ROOT = Path(__file__).resolve().parents[2]
RUST = {kind: jsonschema_rs.validator_for(schemas.load_schema(kind)) for kind in KINDS}
QUICK = {kind: schemas._quick(kind) for kind in KINDS}


def agree(kind: str, doc: Any) -> None:
    quick = QUICK[kind](doc)  # type: ignore[misc]
    if not plain(doc):
        assert quick is False, doc
        return
    assert quick == RUST[kind].is_valid(doc), doc


# A document of each kind with every key filled in (the schema defaults), the repository's plans, and what
# a random seed found, kept as explicit examples.
SEEDS: list[tuple[str, Any]] = [
    ("policy", schemas.apply_defaults("policy", {})),
    ("ticket", schemas.apply_defaults("ticket", {"id": "ABC-1", "title": "t", "vars": {"k": [1, {"a": None}]}})),
    ("ticket", {"id": "ABC-1", "title": "t", "labels": [1, True]}),
    ("ticket", {"id": "ABC-1", "title": "t", "repos": ["a", "a"]}),
    ("plan", {"name": "p", "tickets": ["A-1"], "agents": [{"name": "a", "profile": "x", "timeout_seconds": 1.0}]}),
    ("plan", {"name": "p", "tickets": ["A-1"], "agents": [{"name": "a", "profile": "x", "timeout_seconds": True}]}),
    ("plan", {"name": "p", "tickets": ["A-1"], "agents": [{"name": "a", "profile": "x", "timeout_seconds": 2**64}]}),
    ("policy", {"version": 1.0}),
    ("policy", {"version": True}),
    ("policy", {"repos": {"self": {"path": "."}}}),
    ("policy", {"server": {"reconcile_interval": 0}}),
    ("policy", {"server": {"reconcile_interval": 1e-9}}),
    ("policy", {"close": {"required_checks": ["clean_tree", "clean_tree"]}}),
    ("policy", {"tmux": {"socket_name": "a\n"}}),
    ("policy", {"agent_profiles": {"mine": {"command": "x", "env": {"A\ufeff": "1"}}}}),
] + [("plan", yamlload.parse(p.name, p.read_bytes())[0]) for p in sorted((ROOT / "plans").glob("*.yaml"))]


@pytest.mark.parametrize(("kind", "doc"), SEEDS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(SEEDS)])
def test_seed_documents(kind: str, doc: Any) -> None:
    agree(kind, doc)


def test_the_full_documents_are_valid() -> None:
    assert QUICK["policy"](schemas.apply_defaults("policy", {}))  # type: ignore[misc]
    assert all(QUICK[k](d) for k, d in SEEDS if k == "plan" and isinstance(d, dict) and "steps" in d)  # type: ignore[misc]


# A policy document is hundreds of draws: on a loaded CI machine generating one can be slow or overrun
# Hypothesis's buffer, which is no failure of the code under test.
@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=st.data())
def test_near_documents_get_the_rust_verdict(kind: str, data: st.DataObject) -> None:
    agree(kind, data.draw(docs(kind)))


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=150, deadline=None)
@given(doc=JSON | NOT_PLAIN | st.dictionaries(st.sampled_from(["id", "title", "name", "tickets", "agents", "close"]),
                                              JSON, max_size=4))
def test_random_json_gets_the_rust_verdict(kind: str, doc: Any) -> None:
    agree(kind, doc)


@settings(max_examples=300, deadline=None)
@given(doc=st.fixed_dictionaries({}, optional={"version": JSON, "server": st.fixed_dictionaries(
    {}, optional={"reconcile_interval": SCALARS | NOT_PLAIN, "heartbeat_seconds": SCALARS})}))
@example(doc={"server": {"heartbeat_seconds": 5e-324}})
def test_number_edges_get_the_rust_verdict(doc: Any) -> None:
    agree("policy", doc)


@pytest.mark.parametrize("kind", KINDS)
def test_every_single_mistake_gets_the_rust_verdict(kind: str) -> None:
    root = schemas.load_schema(kind)
    count = 0
    for base in bases(kind):
        assert RUST[kind].is_valid(base) and QUICK[kind](base), base  # type: ignore[misc]
        for doc in single_mistakes(base, root, root):
            agree(kind, doc)
            count += 1
    assert count > 500


def _schema_objects(node: Any) -> Any:
    """Every subschema of a schema (by keyword, so a property named like a keyword is not mistaken for one)."""
    if not isinstance(node, dict):
        return
    yield node
    for key in ("properties", "$defs"):
        for sub in node.get(key, {}).values():
            yield from _schema_objects(sub)
    for key in ("items", "additionalProperties", "propertyNames", "not"):
        if key in node:
            yield from _schema_objects(node[key])
    for key in ("anyOf", "allOf", "oneOf"):
        for sub in node.get(key, []):
            yield from _schema_objects(sub)


@pytest.mark.parametrize("kind", KINDS)
def test_every_keyword_of_the_config_schemas_is_understood(kind: str) -> None:
    """A keyword added to a schema must be implemented here (with the differential tests above) — or the
    whole kind falls back to jsonschema-rs, which this test would then report."""
    unknown = {key for sub in _schema_objects(schemas.load_schema(kind)) for key in sub
               if key not in KEYWORDS and key not in ANNOTATIONS and not key.startswith("x-")}
    assert unknown == set(), f"quickcheck does not implement {sorted(unknown)}"
    assert QUICK[kind] is not None
    compile_schema(schemas.load_schema(kind), schemas._compiled)  # every subschema, not only those used so far


@pytest.mark.parametrize("schema", [
    {"type": "string", "format": "date-time"},
    {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    {"type": "object", "patternProperties": {"^a": {"type": "string"}}},
    {"if": {"type": "string"}, "then": {"minLength": 2}},
    {"$ref": "https://example.com/other.json"},
    {"properties": {"a": {"$ref": "#/$defs/missing"}}},
    {"type": "decimal"},
    {"type": "integer", "multipleOf": 2},
])
def test_an_unknown_keyword_sends_the_schema_to_jsonschema_rs(schema: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        compile_schema(schema, re.compile)
    # compiled lazily (as is_valid does), a property's schema is compiled, and refused, when first used
    lazy = compile_schema({"type": "object", "properties": {"p": schema}}, re.compile, lazy=True)
    assert lazy({})
    with pytest.raises(Unsupported):
        lazy({"p": {"a": "x"}})


def test_is_valid_asks_jsonschema_rs_when_a_lazily_compiled_part_is_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = {"type": "object", "properties": {"when": {"type": "string", "format": "date"}}}
    monkeypatch.setattr(schemas, "load_schema", lambda kind: schema)
    schemas._quick.cache_clear()
    schemas._fast_validator.cache_clear()
    try:
        assert schemas._quick_accepts("x", {}) and not schemas._quick_accepts("x", {"when": "2024-01-02"})
        assert schemas.is_valid("x", {"when": "2024-01-02"})  # jsonschema-rs's verdict
        assert not schemas.is_valid("x", {"when": 5})
    finally:
        schemas._quick.cache_clear()
        schemas._fast_validator.cache_clear()


def test_is_valid_falls_back_for_what_quickcheck_refuses() -> None:
    # the control schema has if/then: no quick check, jsonschema-rs decides
    assert schemas._quick("control") is None
    assert schemas.is_valid("ticket", {"id": "ABC-1", "title": "t"})
    assert not schemas.is_valid("ticket", {"id": "ABC-1", "title": ""})
    # a value jsonschema-rs cannot take (a YAML date) is refused by the quick check and judged as before
    when = yamlload.parse("t.yaml", b"id: ABC-1\ntitle: 2024-01-02\n")[0]
    assert not quickcheck.plain(when) and not schemas.is_valid("ticket", when)


def test_a_recursive_reference_compiles() -> None:
    tree = {"$defs": {"node": {"type": "object", "additionalProperties": False,
                               "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
            "$ref": "#/$defs/node"}
    check = compile_schema(tree, re.compile)
    assert check({"kids": [{"kids": []}, {}]}) and not check({"kids": [{"x": 1}]})


GENERIC = [{"uniqueItems": True}, {"enum": [1, "a", None, True, [1], {"a": 1}]}, {"const": 1}, {"const": [1, {"a": 1.0}]},
           {"not": {"const": "self"}}, {"type": "integer"}, {"type": ["number", "null"], "maximum": 3},
           {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2, "uniqueItems": True},
           {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "object", "required": ["a"]}]},
           {"allOf": [{"minProperties": 1}, {"propertyNames": {"pattern": "^[a-z]+$"}}]}]


@pytest.mark.parametrize("schema", GENERIC, ids=[str(i) for i in range(len(GENERIC))])
@settings(max_examples=150, deadline=None)
@given(doc=JSON | NOT_PLAIN)
@example(doc=[1, True]).via("1 and true are different JSON values")
@example(doc=[1, 1.0]).via("1 and 1.0 are the same JSON number")
@example(doc=[{"a": 1}, {"a": 1.0}])
def test_each_keyword_alone_gets_the_rust_verdict(schema: dict[str, Any], doc: Any) -> None:
    quick = compile_schema(schema, lambda p: re.compile(schemas.ecma_regex(p)))(doc)
    assert quick == (plain(doc) and jsonschema_rs.validator_for(schema).is_valid(doc)), doc
