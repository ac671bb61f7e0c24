"""Where agents run: the policy's `runtime.backend`, a plan agent's `runtime:`, and what the steps record."""

from __future__ import annotations

from pathlib import Path

from tests.plan.conftest import Files

PLAN = """\
name: p
tickets: [ABC-1]
agents:
  - name: impl
    profile: shell
    run: echo hi
  - name: docs
    profile: shell
    run: echo docs
    runtime: local
"""


def fields(graph: object, step_id: str) -> dict[str, object]:
    return next(s.fields for s in graph.steps if s.id == step_id)  # type: ignore[attr-defined]


def test_local_steps_record_no_backend_so_their_hashes_stay_as_before(files: Files) -> None:
    graph = files.render(PLAN)
    for step in ("session:ABC-1:impl", "agent:ABC-1:impl", "session:ABC-1:docs"):
        assert "backend" not in fields(graph, step) and "mounts" not in fields(graph, step)


def test_the_policy_backend_applies_to_every_agent_but_one_that_names_its_own(files: Files, repo: Path) -> None:
    files.policy("runtime:\n  backend: docker\n")
    graph = files.render(PLAN)
    session, agent = fields(graph, "session:ABC-1:impl"), fields(graph, "agent:ABC-1:impl")
    assert session["backend"] == agent["backend"] == "docker"
    worktree = str(repo / ".metawsm" / "workspaces" / "ABC-1")
    # the worktree and the main repository (whose .git the worktree points into) at their own paths
    assert session["mounts"] == agent["mounts"] == sorted({str(repo), worktree})
    assert "backend" not in fields(graph, "session:ABC-1:docs")  # runtime: local in the plan


def test_changing_an_agents_backend_changes_its_steps(files: Files) -> None:
    before = {s.id: s.definition_hash for s in files.render(PLAN).steps}
    files.plan(PLAN.replace("    runtime: local\n", "    runtime: docker\n"))
    after = {s.id: s.definition_hash for s in files.render().steps}
    changed = sorted(k for k in before if before[k] != after[k])
    assert changed == ["agent:ABC-1:docs", "session:ABC-1:docs"]
