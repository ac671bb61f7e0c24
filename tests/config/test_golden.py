"""Golden error messages: the input file beside the exact text `metawsm validate` prints."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest


class Golden(NamedTuple):
    name: str
    path: str
    content: bytes
    expected: str


TICKET_OK = b"id: ABC-1\ntitle: A ticket\n"

GOLDEN = [
    Golden(
        "unknown-profile-and-key",
        "plans/x.yaml",
        b"name: x\ntickets: [ABC-1]\nagents:\n  - name: impl\n    profile: codx\n    promt: hi\n",
        """\
error: 1 error in 1 file:
plans/x.yaml:6:5: agents[0].promt: unknown key 'promt' (did you mean 'prompt'?)
 6 |     promt: hi
   |     ^
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "unknown-profile",
        "plans/x.yaml",
        b"name: x\ntickets: [ABC-1]\nagents:\n  - name: impl\n    profile: codx\n",
        """\
error: 1 error in 1 file:
plans/x.yaml:5:14: agents[0].profile: unknown profile 'codx'; profiles: claude, codex, shell (did you mean 'codex'?)
 5 |     profile: codx
   |              ^
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "unknown-ticket",
        "plans/x.yaml",
        b"name: x\ntickets: [ABC-1, ABC-2]\nagents:\n  - {name: impl, profile: codex}\n",
        """\
error: 1 error in 1 file:
plans/x.yaml:2:18: tickets[1]: unknown ticket 'ABC-2': no tickets/ABC-2.yaml (did you mean 'ABC-1'?)
 2 | tickets: [ABC-1, ABC-2]
   |                  ^
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "ticket-id-mismatch",
        "tickets/ABC-3.yaml",
        b"id: ABC-4\ntitle: t\n",
        """\
error: 1 error in 1 file:
tickets/ABC-3.yaml:1:5: id: id 'ABC-4' differs from the file name 'ABC-3'; rename the file to ABC-4.yaml
 1 | id: ABC-4
   |     ^
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "bad-ticket-id",
        "tickets/abc.yaml",
        b"id: abc\ntitle: t\n",
        """\
error: 1 error in 1 file:
tickets/abc.yaml:1:5: id: 'abc' is not valid: ticket ids look like ABC-12 (upper-case key, dash, letters/digits/dashes)
 1 | id: abc
   |     ^
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "missing-title-and-type",
        "tickets/ABC-5.yaml",
        b"id: ABC-5\ndone_criteria: yes\n",
        """\
error: 2 errors in 1 file:
tickets/ABC-5.yaml:1:1: missing required key 'title'
 1 | id: ABC-5
   | ^
tickets/ABC-5.yaml:2:16: done_criteria: expected a list, got a boolean
 2 | done_criteria: yes
   |                ^
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "duplicate-key",
        "tickets/ABC-6.yaml",
        b"id: ABC-6\ntitle: a\ntitle: b\n",
        """\
error: 1 error in 1 file:
tickets/ABC-6.yaml:3:1: YAML syntax error: duplicate key 'title' (first defined on line 2)
 3 | title: b
   | ^
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "tab-indent",
        "tickets/ABC-7.yaml",
        b"id: ABC-7\ntitle: t\nlabels:\n\t- a\n",
        """\
error: 1 error in 1 file:
tickets/ABC-7.yaml:4:1: YAML syntax error: tab character used for indentation; YAML indents with spaces
 4 |  - a
   | ^
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "syntax-error",
        "tickets/ABC-8.yaml",
        b"id: ABC-8\ntitle: [unclosed\n",
        """\
error: 1 error in 1 file:
tickets/ABC-8.yaml:3:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 8)
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "empty-file",
        "tickets/ABC-9.yaml",
        b"# only a comment\n",
        """\
error: 1 error in 1 file:
tickets/ABC-9.yaml:1:1: file is empty; expected a mapping of keys
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "top-level-list",
        "plans/list.yaml",
        b"- name: x\n",
        """\
error: 1 error in 1 file:
plans/list.yaml:1:1: expected a mapping at the top level, got a list
 1 | - name: x
   | ^
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "binary",
        "tickets/ABC-10.yaml",
        b"id: ABC-10\n\x00\x01\x02",
        """\
error: 1 error in 1 file:
tickets/ABC-10.yaml:2:1: binary file (NUL byte); expected YAML text
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "not-utf8",
        "tickets/ABC-11.yaml",
        b"id: ABC-11\ntitle: caf\xe9\n",
        """\
error: 1 error in 1 file:
tickets/ABC-11.yaml:2:11: not valid UTF-8 (byte 0xe9)
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "policy-llm-without-command",
        ".metawsm/policy.yaml",
        b"operator:\n  llm:\n    mode: auto\n",
        """\
error: 1 error in 1 file:
.metawsm/policy.yaml:3:11: operator.llm.mode: mode 'auto' needs operator.llm.command (or set mode: off)
 3 |     mode: auto
   |           ^
hint: fix the files above, then run `metawsm validate` again
""",
    ),
    Golden(
        "unknown-repo",
        "tickets/ABC-12.yaml",
        b"id: ABC-12\ntitle: t\nrepos: [self, apii]\n",
        """\
error: 1 error in 1 file:
tickets/ABC-12.yaml:3:15: repos[1]: unknown repo 'apii'; define it under policy repos
 3 | repos: [self, apii]
   |               ^
hint: fix the files above, then run `metawsm validate` again
""",
    ),
]


@pytest.mark.parametrize("case", GOLDEN, ids=[g.name for g in GOLDEN])
def test_golden_error(case: Golden, repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (repo / "tickets").mkdir()
    (repo / "tickets" / "ABC-1.yaml").write_bytes(TICKET_OK)
    target = repo / case.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(case.content)
    result = cli("validate", cwd=repo)
    assert result.code == 2
    assert result.out == ""
    assert result.err == case.expected


def test_all_errors_reported_at_once(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (repo / "tickets").mkdir()
    for i in range(3):
        (repo / "tickets" / f"ABC-{i}.yaml").write_text(f"id: ABC-{i}\ntitel: x\n")
    result = cli("validate", cwd=repo)
    assert result.code == 2
    assert result.err.startswith("error: 6 errors in 3 files:")
