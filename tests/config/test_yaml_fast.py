"""Issue 20: `yamlload.parse` reads ordinary documents in one tight walk over the C parser's nodes and hands
everything else to the full path (PyYAML's constructor, then the size/depth walk). Whatever it reads, it
must read exactly as the full path does, and every error must still come from the full path: the golden
messages in test_golden.py stay, and here any document — valid or not — must give the same result both ways."""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metawsm.config import yamlload

KEYS = ["a", "b", "id", "1", "yes", "~", "<<", "'q'", '"a"', "x y", "ü", "a:b"]
SCALARS = ["1", "-2", "0o17", "0x1F", "1_000", "1.5", "1e3", ".inf", "-.Inf", ".nan", "yes", "No", "on",
           "true", "~", "null", "", "''", '""', "'it''s'", '"tab\\there"', "2024-01-02", "2024-13-45",
           "2001-12-14t21:59:43.10-05:00", "=", "!!str 5", "!!int '7'", "!!binary aGk=", "!!binary @@",
           "!foo x", "!!python/name:os.system", "&x 1", "*x", "&y [1]", "*y", "[1, 2]", "{c: 3}", "[]", "{}",
           "|\n  block\n", ">\n  folded\n", "plain text", "a: b", "- z", "\t1", "'unterminated", "[1, 2",
           "0b101", "190:20:30", "0777", "+12", "!!float 3", "!!map {a: 1}", "!!set {a}", "!!omap [a: 1]"]
DOCS = [
    "a: &x [1]\nb: *x\n",  # aliases: sized by the full path
    "a: &x {b: *x}\n",  # a recursive alias
    "a: 1\na: 2\n",  # duplicate key
    "1: a\n",  # a non-string key
    "<<: {a: 1}\nb: 2\n",  # a merge key
    "a: !foo x\n",
    "---\na: 1\n---\nb: 2\n",  # two documents
    "",
    "# only a comment\n",
    "- 1\n",
    "just text\n",
    "a:\n\tb: 1\n",
    "a: " + "[" * 80 + "]" * 80 + "\n",  # deeper than MAX_DEPTH
    "a: " + "[" * 63 + "]" * 63 + "\n",  # just within
    "a: [" + ", ".join(["1"] * 1000) + "]\n",
    "a: 2024-02-30\n",
]


def _same(value: Any, other: Any) -> bool:
    """Equality that also holds for NaN and tells 1 from True from 1.0."""
    if type(value) is not type(other):
        return False
    if isinstance(value, float) and math.isnan(value):
        return math.isnan(other)
    if isinstance(value, dict):
        return list(value) == list(other) and all(_same(value[k], other[k]) for k in value)
    if isinstance(value, list):
        return len(value) == len(other) and all(_same(a, b) for a, b in zip(value, other, strict=True))
    return bool(value == other)


def _both(text: str, allow_empty: bool) -> tuple[Any, Any]:
    try:
        fast = yamlload.parse("t.yaml", text.encode("utf-8"), allow_empty=allow_empty)
    except Exception as exc:
        fast = type(exc)
    try:
        full = yamlload._load("t.yaml", text, allow_empty=allow_empty)
    except Exception as exc:
        full = type(exc)
    return fast, full


def _assert_same(text: str, allow_empty: bool = False) -> None:
    fast, full = _both(text, allow_empty)
    if isinstance(full, type):
        assert fast is full, text
        return
    assert _same(fast[0], full[0]), text
    assert fast[1:] == full[1:], text


@pytest.mark.parametrize("text", DOCS)
@pytest.mark.parametrize("allow_empty", [False, True])
def test_awkward_documents_parse_as_the_full_path_parses_them(text: str, allow_empty: bool) -> None:
    _assert_same(text, allow_empty)


def test_ordinary_documents_take_the_fast_path() -> None:
    text = "id: ABC-1\ntitle: 'x'\nn: 3\nok: yes\nwhen: 2024-01-02\nlist: [a, {b: ~}]\n"
    value = yamlload._fast_load(text)
    assert value == {"id": "ABC-1", "title": "x", "n": 3, "ok": True, "when": datetime.date(2024, 1, 2),
                     "list": ["a", {"b": None}]}
    for text in DOCS[:7]:
        assert yamlload._fast_load(text) is yamlload._UNUSUAL, text


@st.composite
def documents(draw: st.DrawFn) -> str:
    """Block mappings and lists, nested, of keys and scalars that YAML 1.1 reads in awkward ways."""
    lines = []
    depth = 0
    for _ in range(draw(st.integers(1, 12))):
        indent = "  " * depth
        key = draw(st.sampled_from(KEYS))
        shape = draw(st.integers(0, 3))
        if shape == 0 and depth < 4:
            lines.append(f"{indent}{key}:")
            depth += 1
        elif shape == 1 and depth > 0:
            lines.append(f"{indent}- {draw(st.sampled_from(SCALARS))}")
        else:
            lines.append(f"{indent}{key}: {draw(st.sampled_from(SCALARS))}")
            if shape == 3 and depth > 0:
                depth -= 1
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=400, deadline=None)
@given(text=documents(), allow_empty=st.booleans())
def test_any_document_parses_as_the_full_path_parses_it(text: str, allow_empty: bool) -> None:
    _assert_same(text, allow_empty)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab:-[]{},&*!'\"#\n \t|>~1.")), max_size=60))
def test_any_text_parses_as_the_full_path_parses_it(text: str) -> None:
    _assert_same(text)


def test_ticket_files_are_the_yaml_files_by_name(tmp_path: Path) -> None:
    from metawsm.config.project import Project

    folder = tmp_path / "tickets"
    folder.mkdir()
    for name in ("b.yml", "a.yaml", ".yaml", "c.txt", "a.yaml.bak", "..yaml"):
        (folder / name).write_text("x: 1\n", encoding="utf-8")
    (folder / "dir.yaml").mkdir()  # a folder is not a file
    (folder / "link.yaml").symlink_to(folder / "a.yaml")  # a link to a file is one
    expected = sorted((p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()),
                      key=lambda p: p.name)
    assert Project(tmp_path).ticket_files() == expected
    assert [p.name for p in expected] == ["..yaml", "a.yaml", "b.yml", "link.yaml"]
    assert Project(tmp_path).plan_files() == []  # no plans folder


@pytest.mark.parametrize("display", ["tickets/A-1.yaml", "tickets/.yaml", "tickets/a.b.yaml", "x", "tickets/a.",
                                     "a/b/c.yml", "..yaml", "tickets/..yaml", "tickets/A-1"])
def test_the_file_name_stem_is_paths(display: str) -> None:
    from metawsm.config.crosscheck import _stem

    assert _stem(display) == Path(display).stem
