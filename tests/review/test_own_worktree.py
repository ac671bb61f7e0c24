"""Plan `worktree: own`: an agent works on its own branch in its own worktree (cut from the ticket branch) and is
merged back into the ticket branch when it completes; a merge-back conflict fails the agent naming the files and
leaves the ticket's worktree as it was — on real git and real tmux."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.engine.conftest import engine, project, write_plan  # noqa: F401 - fixture

OWN = """tickets: [DEMO-1]
agents:
  - name: impl
    profile: shell
    worktree: own
    run: >-
      pwd > ../impl-cwd.txt && git branch --show-current >> ../impl-cwd.txt
      && echo implemented > impl.txt && git add impl.txt && git commit -q -m "impl on its own branch"
      && metawsm signal completion --summary implemented
  - name: review
    profile: shell
    needs: [impl]
    run: >-
      test -s impl.txt && metawsm signal completion --summary "impl.txt is here"
checks: ['test -s impl.txt']
"""

CONFLICT = """tickets: [DEMO-1]
agents:
  - name: left
    profile: shell
    worktree: own
    run: >-
      echo left > same.txt && git add same.txt && git commit -q -m left && metawsm signal completion
  - name: right
    profile: shell
    worktree: own
    run: >-
      echo right > same.txt && git add same.txt && git commit -q -m right && metawsm signal completion
checks: ['true']
"""


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def test_own_worktree_is_merged_back_before_the_next_agent(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "own", OWN)
    r = cli("apply", "plans/own.yaml", "--wait", "--timeout", "90", cwd=project)
    assert r.code == 0, r.out + r.err
    workspaces = project / ".metawsm/workspaces"
    cwd, branch = (workspaces / "impl-cwd.txt").read_text().split()
    assert Path(cwd).resolve() == (workspaces / "DEMO-1--impl").resolve() and branch == "metawsm/DEMO-1--impl"
    ticket = workspaces / "DEMO-1"
    assert (ticket / "impl.txt").read_text() == "implemented\n"
    assert _git(ticket, "log", "-1", "--format=%s") == "Merge metawsm/DEMO-1--impl (DEMO-1/impl) into metawsm/DEMO-1"
    assert not (workspaces / "DEMO-1--impl").exists()  # merged back: its worktree and branch are gone
    assert _git(project, "branch", "--list", "metawsm/DEMO-1--impl") == ""
    eng = engine(project)
    assert eng.store.get_ticket("DEMO-1").status == "ready"
    eng.close()
    assert cli("close", "--ticket", "DEMO-1", cwd=project).code == 0
    assert _git(project, "show", "main:impl.txt") == "implemented"


def test_a_merge_back_conflict_fails_the_agent_and_leaves_the_ticket_worktree_alone(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    policy = project / ".metawsm/policy.yaml"
    policy.write_text(policy.read_text().replace("execution:\n", "execution:\n  step_retries: 0\n"))
    write_plan(project, "clash", CONFLICT)
    r = cli("apply", "plans/clash.yaml", "--wait", "--timeout", "90", cwd=project)
    assert r.code != 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    steps = {a: eng.store.get_step(run.run_id, f"agent:DEMO-1:{a}") for a in ("left", "right")}
    eng.close()
    (failed,) = [a for a, s in steps.items() if s.status == "failed"]
    (merged,) = [a for a, s in steps.items() if s.status == "done"]
    error = steps[failed].last_error or ""
    assert (f"merging metawsm/DEMO-1--{failed} back into metawsm/DEMO-1 conflicts in: same.txt; nothing was "
            f"merged") in error
    assert f"metawsm restart --agent DEMO-1/{failed}" in error
    ticket = project / ".metawsm/workspaces/DEMO-1"
    assert (ticket / "same.txt").read_text() == f"{merged}\n"
    assert _git(ticket, "status", "--porcelain") == ""
    assert subprocess.run(["git", "rev-parse", "-q", "--verify", "MERGE_HEAD"], cwd=ticket).returncode != 0
    own = project / f".metawsm/workspaces/DEMO-1--{failed}"
    assert (own / "same.txt").read_text() == f"{failed}\n"  # kept for the person to resolve
