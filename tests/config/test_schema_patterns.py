"""Issue 15: every `pattern` in the shipped schemas is anchored to the whole string — a value with a
trailing newline is refused — and the Python and Rust validators agree on it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metawsm.config.schemas import ecma_regex, load_schema, python_validator_class

KINDS = ("policy", "ticket", "plan", "event", "control")


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


PATTERNS = sorted({p for kind in KINDS for p in _patterns(load_schema(kind))})


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_validators_agree_on_every_pattern(pattern: str, data: st.DataObject) -> None:
    schema = {"type": "string", "pattern": pattern}
    rust, python = jsonschema_rs.validator_for(schema), python_validator_class()(schema)
    value = data.draw(st.one_of(st.from_regex(re.compile(ecma_regex(pattern))), st.text(max_size=20)))
    for candidate in (value, value + "\n", "\n" + value, value + "\r\n"):
        assert rust.is_valid(candidate) == python.is_valid(candidate), repr(candidate)


def test_a_name_ending_in_newline_is_refused() -> None:
    """Issue 15: names ending in `\\n` passed the Python schema check (Rust refused them)."""
    v = python_validator_class()(load_schema("ticket"))
    assert not v.is_valid({"id": "ABC-1\n", "title": "t"}) and v.is_valid({"id": "ABC-1", "title": "t"})
    v = python_validator_class()(load_schema("plan"))
    assert not v.is_valid({"name": "feature\n", "tickets": ["ABC-1"]})


@pytest.mark.parametrize("value", ["agent:\ufeff", "agent:\x1c", "agent:\x85", "agent:\u0663", "agent:é"])
def test_validators_agree_on_ecma_classes(value: str) -> None:
    """Found by a random seed: Python's `\\s`, `\\d`, `\\w` are not ECMA-262's (U+FEFF is ECMA whitespace,
    U+001C and U+0085 are Python whitespace only; Arabic-Indic digits are Python digits only)."""
    for pattern in ("^(agent|operator|human|system):[^\\s]+$", "^agent:\\S+$", "^agent:\\d+$", "^agent:\\w+$"):
        schema = {"type": "string", "pattern": pattern}
        rust, python = jsonschema_rs.validator_for(schema), python_validator_class()(schema)
        assert rust.is_valid(value) == python.is_valid(value), (pattern, value)
