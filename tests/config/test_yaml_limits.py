"""Issue 15: YAML alias expansion (billion laughs) and nesting depth are limited when a file is loaded,
so `validate` refuses what `plan` could not render (a 589-byte ticket used to pass validate and take
`plan` past 60 s and 2.4 GB; vars nested 600 deep crashed `plan` with RecursionError)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

LAUGHS = """\
id: LOL-1
title: laughs
goal: x
vars:
  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
"""
DEEP = "id: DEEP-1\ntitle: deep\ngoal: x\nvars:\n  v: " + "[" * 600 + "]" * 600 + "\n"
RECURSIVE = "id: REC-1\ntitle: r\ngoal: x\nvars:\n  v: &v [*v]\n"
PLAN = "name: p\ntickets: [{tid}]\nagents:\n  - name: a\n    profile: shell\n    run: echo {{{{ ticket.vars }}}}\n"


@pytest.mark.parametrize(("tid", "text", "message"), [
    ("LOL-1", LAUGHS, "expands to more than"),
    ("DEEP-1", DEEP, "nesting too deep"),
    ("REC-1", RECURSIVE, "YAML"),
])
def test_validate_and_plan_refuse(cli: Any, repo: Path, tid: str, text: str, message: str) -> None:
    assert cli("init", cwd=repo).code == 0
    (repo / "tickets" / f"{tid}.yaml").write_text(text, encoding="utf-8")
    (repo / "plans" / "p.yaml").write_text(PLAN.format(tid=tid), encoding="utf-8")
    for argv in (("validate",), ("plan", "plans/p.yaml")):
        r = cli(*argv, cwd=repo)
        assert r.code == 2, r.out + r.err
        assert message in r.err and f"tickets/{tid}.yaml:" in r.err and "Traceback" not in r.err


def test_ordinary_aliases_still_load(cli: Any, repo: Path) -> None:
    assert cli("init", cwd=repo).code == 0
    (repo / "tickets" / "AL-1.yaml").write_text(
        "id: AL-1\ntitle: t\ngoal: x\nvars:\n  base: &b {a: 1}\n  copy: *b\n", encoding="utf-8")
    assert cli("validate", cwd=repo).code == 0
