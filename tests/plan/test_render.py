"""Table-driven rendering: each case is a plan; the expected value of one field of one step."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from metawsm.plan import StepGraph


class Case(NamedTuple):
    id: str
    plan: str
    step: str
    field: str
    expected: Any


def shell_plan(run: str, *, extra: str = "") -> str:
    return (f"name: p\ntickets: [ABC-1, ABC-2]\nvars: {{greeting: hello}}\n"
            f"agents:\n  - name: impl\n    profile: shell\n    run: {run}\n{extra}\n")


CASES = [
    Case("shquote-filter", shell_plan("echo {{ ticket.title | shquote }}"), "agent:ABC-2:impl", "command",
         """echo 'Fix the "quotes" & $VARS'"""),
    Case("shquote-number", shell_plan("echo {{ 42 | shquote }}"), "agent:ABC-1:impl", "command", "echo 42"),
    Case("builtin-filters", shell_plan("echo {{ ticket.id | lower | replace('-', '_') }}"), "agent:ABC-1:impl",
         "command", "echo abc_1"),
    Case("join-list", shell_plan("echo {{ ticket.done_criteria | join(',') | shquote }}"), "agent:ABC-1:impl",
         "command", "echo 'tests pass,docs updated'"),
    Case("loop-over-plan-tickets", shell_plan("echo {% for t in plan.tickets %}{{ t }} {% endfor %}"),
         "agent:ABC-2:impl", "command", "echo ABC-1 ABC-2 "),
    Case("ticket-and-plan-vars", shell_plan("echo {{ plan.vars.greeting }} {{ ticket.vars.area | default('-') }}"),
         "agent:ABC-1:impl", "command", "echo hello forum"),
    Case("workspace-branch", shell_plan("echo {{ workspace.branch }} {{ workspace.base_branch }}"),
         "agent:ABC-1:impl", "command", "echo metawsm/ABC-1 main"),
    Case("run-placeholder", shell_plan("echo {{ run.id }}"), "agent:ABC-1:impl", "command", "echo <run>"),
    Case("agent-name-and-policy", shell_plan("echo {{ agent.name }} {{ policy.tmux.socket_name }}"),
         "agent:ABC-1:impl", "command", "echo impl metawsm-{repo}"),
    Case("conditional-in-template",
         shell_plan("echo {% if 'backend' in ticket.labels %}be{% else %}fe{% endif %}"),
         "agent:ABC-2:impl", "command", "echo fe"),
    Case("check-per-ticket", shell_plan("'true'", extra="checks: ['test -f {{ ticket.id }}.txt']"),
         "check:ABC-2", "commands", ["test -f ABC-2.txt"]),
    Case("agent-env-rendered", shell_plan("'true'").replace("run: 'true'", "run: 'true'\n    env: {T: '{{ ticket.id }}'}"),
         "agent:ABC-1:impl", "env", {"T": "ABC-1"}),
    Case("step-for-each-ticket",
         shell_plan("'true'", extra="steps:\n  - {id: 'lint:{{ ticket.id }}', run: 'ruff {{ ticket.id }}'}"),
         "lint:ABC-2", "run", "ruff ABC-2"),
    Case("step-for-each-none",
         shell_plan("'true'", extra="steps:\n  - {id: report, for_each: none, cwd: repo, "
                                   "run: 'echo {{ plan.tickets | length }}'}"),
         "report", "run", "echo 2"),
    Case("when-expression-kept",
         shell_plan("'true'", extra="steps:\n  - {id: 'be:{{ ticket.id }}', run: x, "
                                   "when: \"'backend' in ticket.labels\"}"),
         "be:ABC-1", "run", "x"),
    Case("session-name", shell_plan("'true'"), "session:ABC-1:impl", "name", "p-ABC-1-impl"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_render_case(case: Case, render: Callable[..., StepGraph]) -> None:
    graph = render(case.plan)
    assert graph.by_id[case.step].fields[case.field] == case.expected


class WhenCase(NamedTuple):
    id: str
    when: str
    kept: tuple[str, ...]


WHEN = [
    WhenCase("expression-true-for-one", "'backend' in ticket.labels", ("ABC-1",)),
    WhenCase("expression-false", "ticket.priority == 'urgent'", ()),
    WhenCase("empty-list-is-false", "ticket.done_criteria", ("ABC-1",)),
    WhenCase("template-false-string", "{{ 'false' }}", ()),
    WhenCase("template-no", "{{ 'no' if ticket.id == 'ABC-1' else 'yes' }}", ("ABC-2",)),
    WhenCase("template-zero", "{{ 0 }}", ()),
    WhenCase("template-empty", "{% if false %}x{% endif %}", ()),
    WhenCase("template-true", "{{ true }}", ("ABC-1", "ABC-2")),
]


@pytest.mark.parametrize("case", WHEN, ids=[c.id for c in WHEN])
def test_when(case: WhenCase, render: Callable[..., StepGraph]) -> None:
    plan = shell_plan("'true'", extra=f"steps:\n  - id: 'x:{{{{ ticket.id }}}}'\n    run: x\n    when: {case.when!r}\n")
    graph = render(plan)
    kept = tuple(s.ticket for s in graph.steps if s.kind == "shell")
    assert kept == case.kept


def test_full_prompt_is_base_then_plan_prompt(render: Callable[..., StepGraph]) -> None:
    graph = render("""\
    name: p
    tickets: [ABC-1]
    agents:
      - {name: impl, profile: codex, prompt: "Do {{ ticket.goal }}"}
    """)
    fields = graph.by_id["agent:ABC-1:impl"].fields
    prompt = fields["prompt"]
    assert prompt.startswith('You are agent "impl" working on ticket ABC-1: Add a forum')
    assert prompt.endswith("\n\nDo Build the forum.")
    for needle in ("- tests pass", "metawsm signal completion --summary", "metawsm ask",
                   "metawsm signal validation --status passed|failed --done-criteria", "metawsm/ABC-1"):
        assert needle in prompt
    assert fields["command"].startswith("codex -c allow_login_shell=false -c 'mcp_servers.metawsm.command=")
    assert " --sandbox workspace-write " in fields["command"]
    assert fields["command"].endswith(shlex.quote(prompt))
    assert fields["requires"] == ["codex"] and fields["cli"] == "codex" and fields["mode"] == "interactive"


def test_agent_mode_and_permissions_choose_the_cli_command_line(render: Callable[..., StepGraph]) -> None:
    graph = render("""\
    name: p
    tickets: [ABC-1]
    agents:
      - {name: a, profile: codex, mode: headless, prompt: x}
      - {name: b, profile: codex, mode: headless, permissions: bypass, prompt: x}
      - {name: c, profile: claude, mode: headless, prompt: x}
      - {name: d, profile: claude, permissions: bypass, prompt: x}
    """)
    fields = {a: graph.by_id[f"agent:ABC-1:{a}"].fields for a in "abcd"}
    a, b, c, d = (fields[x]["command"] for x in "abcd")
    state = fields["a"]["writable_dirs"][0]
    assert state.endswith("/.metawsm/state") and fields["a"]["writable_dirs"][1].endswith("/.git")
    assert a.startswith("codex exec --skip-git-repo-check -c allow_login_shell=false -c ")
    assert f" --sandbox workspace-write --add-dir {state} " in a
    assert "mcp_servers.metawsm.env_vars=" in a and "METAWSM_ATTEMPT" in a
    assert "--dangerously-bypass-approvals-and-sandbox" in b and "--sandbox" not in b and "--add-dir" not in b
    assert c.startswith("claude -p --output-format stream-json --verbose ${METAWSM_RESUME:+--continue} "
                        "--permission-mode acceptEdits --allowedTools=Bash,")
    assert f"--mcp-config={fields['c']['mcp_config']} " in c and fields["c"]["mcp_config"].endswith(".json")
    assert d.startswith("claude ${METAWSM_RESUME:+--continue} --dangerously-skip-permissions --mcp-config=") and fields["d"]["permissions"] == "bypass"
    assert fields["c"]["env"]["BASH_MAX_TIMEOUT_MS"] == "86400000"


def test_custom_base_prompt_and_profile_env(files: Any) -> None:
    files.policy("""\
    agent_profiles:
      mine:
        command: run-agent --ticket {{ ticket.id }} {{ prompt | shquote }}
        base_prompt: "Ticket {{ ticket.id }}."
        env: {MODEL: "m-{{ agent.name }}"}
    """)
    graph = files.render("""\
    name: p
    tickets: [ABC-1]
    agents:
      - {name: a, profile: mine, prompt: "Go.", env: {X: "1"}}
    """)
    fields = graph.by_id["agent:ABC-1:a"].fields
    assert fields["prompt"] == "Ticket ABC-1.\n\nGo."
    assert fields["command"] == "run-agent --ticket ABC-1 'Ticket ABC-1.\n\nGo.'"
    assert fields["env"] == {"MODEL": "m-a", "X": "1"}
