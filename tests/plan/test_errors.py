"""Golden error output: the plan file and the exact message, side by side."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from metawsm.errors import PlanError


class Golden(NamedTuple):
    id: str
    plan: str
    expected: str


GOLDEN = [
    Golden("undefined-attribute", """\
name: p
tickets: [ABC-1]
agents:
  - name: impl
    profile: codex
    prompt: "{{ ticket.goals }}"
""", """\
1 error in 1 file:
plans/p.yaml:6:13: agents[0].prompt: 'ticket' has no attribute 'goals'
 6 |     prompt: "{{ ticket.goals }}"
   |             ^"""),
    Golden("undefined-name-in-literal-block", """\
name: p
tickets: [ABC-1]
agents:
  - name: impl
    profile: codex
    prompt: |
      Work on {{ ticket.id }}.
      Then {{ tiket.title }}.
""", """\
1 error in 1 file:
plans/p.yaml:8:7: agents[0].prompt: 'tiket' is undefined
 8 |       Then {{ tiket.title }}.
   |       ^"""),
    Golden("agent-run-not-given", """\
name: p
tickets: [ABC-1]
agents:
  - name: impl
    profile: codex
    prompt: "{{ agent.run }}"
""", """\
1 error in 1 file:
plans/p.yaml:6:13: agents[0].prompt: 'agent' has no attribute 'run'
 6 |     prompt: "{{ agent.run }}"
   |             ^"""),
    Golden("syntax-error", """\
name: p
tickets: [ABC-1]
agents:
  - {name: impl, profile: shell, run: "echo {{ ticket.id"}
""", """\
1 error in 1 file:
plans/p.yaml:4:39: agents[0].run: template syntax error: unexpected end of template, expected 'end of \
print statement'.
 4 |   - {name: impl, profile: shell, run: "echo {{ ticket.id"}
   |                                       ^"""),
    Golden("unknown-needs", """\
name: p
tickets: [ABC-1]
agents:
  - {name: impl, profile: shell, run: "true"}
checks: [pytest -q]
steps:
  - id: "lint:{{ ticket.id }}"
    needs: ["chek:{{ ticket.id }}"]
    run: ruff check .
""", """\
1 error in 1 file:
plans/p.yaml:8:13: steps[0].needs[0]: step 'lint:ABC-1' needs unknown step 'chek:ABC-1' (did you mean \
'check:ABC-1'?)
 8 |     needs: ["chek:{{ ticket.id }}"]
   |             ^"""),
    Golden("cycle", """\
name: p
tickets: [ABC-1]
agents:
  - {name: impl, profile: shell, run: "true"}
steps:
  - {id: a, for_each: none, needs: [c], run: x}
  - {id: b, for_each: none, needs: [a], run: x}
  - {id: c, for_each: none, needs: [b], run: x}
""", """\
1 error in 1 file:
plans/p.yaml:6:36: steps[0].needs: dependency cycle: a -> b -> c -> a
 6 |   - {id: a, for_each: none, needs: [c], run: x}
   |                                    ^"""),
    Golden("duplicate-rendered-id", """\
name: p
tickets: [ABC-1, ABC-2]
agents:
  - {name: impl, profile: shell, run: "true"}
steps:
  - {id: lint, run: ruff check .}
""", """\
1 error in 1 file:
plans/p.yaml:6:10: steps[0].id: duplicate step id 'lint' (rendered for both ABC-1 and ABC-2) — \
include {{ ticket.id }} in a per-ticket step's id
 6 |   - {id: lint, run: ruff check ., cwd: repo}
   |          ^"""),
    Golden("unsafe-attribute", """\
name: p
tickets: [ABC-1]
agents:
  - {name: impl, profile: shell, run: "{{ ticket.id.__class__ }}"}
""", """\
1 error in 1 file:
plans/p.yaml:4:39: agents[0].run: template tried to access an unsafe attribute '__class__' of a str \
value (templates may only read ticket, agent, plan, policy, run and workspace values)
 4 |   - {name: impl, profile: shell, run: "{{ ticket.id.__class__ }}"}
   |                                       ^"""),
    Golden("several-errors-at-once", """\
name: p
tickets: [ABC-1]
agents:
  - {name: impl, profile: shell, run: "{{ nope }}"}
checks: ["{{ ticket.nope }}"]
""", """\
2 errors in 1 file:
plans/p.yaml:4:39: agents[0].run: 'nope' is undefined
 4 |   - {name: impl, profile: shell, run: "{{ nope }}"}
   |                                       ^
plans/p.yaml:5:10: checks[0]: 'ticket' has no attribute 'nope'
 5 | checks: ["{{ ticket.nope }}"]
   |          ^"""),
]


@pytest.mark.parametrize("case", GOLDEN, ids=[c.id for c in GOLDEN])
def test_golden_error(case: Golden, files: Any) -> None:
    plan = case.plan
    if case.id == "duplicate-rendered-id":
        plan = plan.replace("run: ruff check .}", "run: ruff check ., cwd: repo}")
    with pytest.raises(PlanError) as info:
        files.render(plan)
    assert info.value.render() == case.expected + "\nhint: fix plans/p.yaml, then run `metawsm plan` again"


def test_profile_command_error_is_located_in_the_policy(files: Any) -> None:
    files.policy("""\
    agent_profiles:
      mine:
        command: go {{ promt }}
    """)
    with pytest.raises(PlanError) as info:
        files.render("name: p\ntickets: [ABC-1]\nagents:\n  - {name: a, profile: mine}\n")
    assert info.value.diagnostics[0].headline() == (
        ".metawsm/policy.yaml:3:14: agent_profiles.mine.command: 'promt' is undefined")


def test_cli_reports_located_error_without_traceback(files: Any, cli: Any) -> None:
    files.plan(GOLDEN[0].plan)
    result = cli("plan", cwd=files.root)
    assert result.code == 2
    assert "plans/p.yaml:6:13: agents[0].prompt: 'ticket' has no attribute 'goals'" in result.err
    assert "Traceback" not in result.err
    assert cli("plan", "--detailed-exitcode", cwd=files.root).code == 1
