"""Prompts for every agent: the rendered prompt in a state file passed as $METAWSM_PROMPT_FILE; `metawsm plan`
shows a unified diff of every changed field and names the steps that run again. Real git, real tmux."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.conftest import engine, project, write_plan  # noqa: F401 - fixture

WT = Path(".metawsm/workspaces")
PLAN = """tickets: [DEMO-1]
agents:
  - name: impl
    profile: shell
    prompt: |
      Implement {{ ticket.id }} carefully.
      Keep the tests green.
    run: >-
      cp "$METAWSM_PROMPT_FILE" got-prompt.txt && git add -A && git commit -q -m p
      && metawsm signal completion --summary ok
checks: ['test -s got-prompt.txt']
"""


def test_shell_agent_gets_its_prompt_file(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "p", PLAN)
    assert cli("apply", "plans/p.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    path = project / ".metawsm/state/prompts" / run.run_id / "DEMO-1" / "impl.1.md"
    got = (project / WT / "DEMO-1" / "got-prompt.txt").read_text()
    assert got == path.read_text()
    assert got.startswith('You are agent "impl" working on ticket DEMO-1')
    assert got.endswith("\n\nImplement DEMO-1 carefully.\nKeep the tests green.\n")
    assert got == json.loads(eng.store.get_step(run.run_id, "agent:DEMO-1:impl").fields_json)["prompt"] + "\n"
    eng.close()


def test_plan_shows_field_diffs_and_steps_that_run_again(project: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    monkeypatch.setenv("COLUMNS", "250")
    write_plan(project, "p", PLAN)
    assert cli("apply", "plans/p.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    write_plan(project, "p", PLAN.replace("Keep the tests green.", "Keep the tests green and fast."))
    r = cli("plan", "plans/p.yaml", cwd=project)
    assert r.code == 0, r.err
    assert "~ agent:DEMO-1:impl  agent" in r.out and "changed: fields.prompt" in r.out
    assert "--- fields.prompt (recorded)\n" in r.out and "+++ fields.prompt (plan)\n" in r.out
    assert "-Keep the tests green.\n" in r.out and "+Keep the tests green and fast.\n" in r.out
    assert "= check:DEMO-1  check  needs agent:DEMO-1:impl  runs again (needs agent:DEMO-1:impl, which changes)" \
        in r.out
    assert "p: 0 to add, 1 to change, 0 to remove, 4 unchanged (2 of them run again: check:DEMO-1, gate:DEMO-1)." \
        in r.out
    data = json.loads(cli("plan", "plans/p.yaml", "--json", cwd=project).out)
    (plan,) = data["plans"]
    assert plan["reruns"] == {"check:DEMO-1": "agent:DEMO-1:impl", "gate:DEMO-1": "agent:DEMO-1:impl"}
    diff = plan["field_diffs"]["agent:DEMO-1:impl"]["fields.prompt"]
    assert "\n-Keep the tests green.\n+Keep the tests green and fast." in diff
    assert set(plan["field_diffs"]["agent:DEMO-1:impl"]) == {"fields.prompt"}
