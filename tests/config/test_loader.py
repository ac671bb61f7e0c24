"""Loader behaviour on real files: models, defaults, cross-file checks, staged overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from metawsm.config import loader, yamlload
from metawsm.config.models import CloseCheck, Plan, Policy, Ticket
from metawsm.config.project import Project, find_root
from metawsm.errors import ConfigError


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_models_are_frozen_with_defaults(repo: Path) -> None:
    write(repo, "tickets/ABC-1.yaml", "id: ABC-1\ntitle: T\ndone_criteria: [a, b]\n")
    write(repo, "plans/p.yaml", "name: p\ntickets: [ABC-1]\nagents:\n  - {name: impl, profile: codex, prompt: hi}\n")
    write(repo, ".metawsm/policy.yaml", "close:\n  required_checks: [clean_tree, {name: lint, run: ruff}]\n")
    config = loader.load(Project(repo))
    assert isinstance(config.policy, Policy)
    ticket = config.tickets["ABC-1"]
    assert isinstance(ticket, Ticket)
    assert ticket.done_criteria == ("a", "b") and ticket.repos == ("self",) and ticket.priority == "normal"
    plan = config.plans["p"]
    assert isinstance(plan, Plan)
    assert plan.agents[0].prompt == "hi" and plan.steps == () and plan.auto_close is False
    assert plan.mark("agents[0].prompt") == (4, 42)
    assert config.policy.close.required_checks == (CloseCheck("clean_tree"), CloseCheck("lint", "ruff"))
    assert config.policy.workspace.branch_prefix == "metawsm/"
    with pytest.raises(AttributeError):
        ticket.title = "x"  # type: ignore[misc]


def test_user_profiles_extend_builtins(repo: Path) -> None:
    write(repo, ".metawsm/policy.yaml", "agent_profiles:\n  mine:\n    command: run {{ prompt | shquote }}\n")
    policy = loader.load_policy(Project(repo))
    assert set(policy.agent_profiles) == {"shell", "codex", "claude", "mine"}
    assert policy.agent_profiles["codex"].requires == ("codex",)


def test_no_files_is_valid_with_default_policy(repo: Path) -> None:
    config = loader.load(Project(repo))
    assert config.tickets == {} and config.plans == {}
    assert config.policy.tmux.socket_name == "metawsm-{repo}"


def test_cross_file_errors_all_reported(repo: Path) -> None:
    write(repo, "tickets/ABC-1.yaml", "id: ABC-1\ntitle: T\nrepos: [nope]\n")
    write(repo, "plans/p.yaml", "name: p\ntickets: [ABC-2]\nagents:\n  - {name: a, profile: shell}\n"
                                "  - {name: a, profile: zzz}\n")
    write(repo, "plans/q.yaml", "name: p\ntickets: [ABC-1]\nagents:\n  - {name: a, profile: codex}\n")
    with pytest.raises(ConfigError) as info:
        loader.load(Project(repo))
    messages = sorted(f"{d.file}:{d.keypath}" for d in info.value.diagnostics)
    assert messages == [
        "plans/p.yaml:agents[0]", "plans/p.yaml:agents[1].name", "plans/p.yaml:agents[1].profile",
        "plans/p.yaml:tickets[0]", "tickets/ABC-1.yaml:repos[0]",
    ]


def test_duplicate_plan_names(repo: Path) -> None:
    write(repo, "tickets/ABC-1.yaml", "id: ABC-1\ntitle: T\n")
    for name in ("a", "b"):
        write(repo, f"plans/{name}.yaml", "name: same\ntickets: [ABC-1]\nagents: [{name: x, profile: codex}]\n")
    with pytest.raises(ConfigError) as info:
        loader.load(Project(repo))
    assert "duplicate plan name 'same' (also in plans/a.yaml)" in info.value.render()


def test_overrides_replace_file_content(repo: Path) -> None:
    write(repo, "tickets/ABC-1.yaml", "id: ABC-1\ntitle: T\n")
    config, diags = loader.check(Project(repo), overrides={"tickets/ABC-1.yaml": b"id: ABC-1\n"})
    assert config is None and diags[0].message == "missing required key 'title'"


def test_unknown_location_kind_is_usage_error(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    write(repo, "misc/thing.yaml", "a: 1\n")
    result = cli("validate", "misc/thing.yaml", cwd=repo)
    assert result.code == 2 and "cannot tell whether this is a ticket, plan or policy" in result.err


def test_validate_given_paths_only_reports_those(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    write(repo, "tickets/ABC-1.yaml", "id: ABC-1\ntitle: T\n")
    write(repo, "tickets/ABC-2.yaml", "id: ABC-2\n")
    assert cli("validate", "tickets/ABC-1.yaml", cwd=repo).code == 0
    assert cli("validate", "tickets/ABC-2.yaml", cwd=repo).code == 2


def test_find_root_from_linked_worktree(repo: Path, tmp_path: Path) -> None:
    import subprocess

    wt = tmp_path / "wt"
    subprocess.run(["git", "worktree", "add", "-q", "-b", "b1", str(wt)], cwd=repo, check=True)
    (wt / "sub").mkdir()
    assert find_root(wt / "sub") == repo.resolve()
    assert find_root(repo / ".") == repo.resolve()


def test_marks_cover_nested_paths() -> None:
    marks = yamlload.marks("a:\n  b:\n    - x\n    - {c: 1}\n")
    assert marks["a.b[1].c"] == (4, 11)
    assert yamlload.format_keypath(["agents", 0, "env", "X"]) == "agents[0].env.X"


@pytest.mark.parametrize("spelled", ["off", '"off"', "Off", "no", "false"])
def test_operator_llm_mode_off_unquoted_is_off(repo: Path, cli, spelled: str) -> None:  # type: ignore[no-untyped-def]
    """YAML 1.1 reads a bare `off` (also Off, no, false) as the boolean false; the policy takes it as "off"."""
    (repo / ".metawsm").mkdir(exist_ok=True)
    (repo / ".metawsm" / "policy.yaml").write_text(f"operator:\n  llm:\n    mode: {spelled}\n", encoding="utf-8")
    result = cli("validate", cwd=repo)
    assert result.code == 0, result.out + result.err
    assert loader.load_policy(Project(repo)).operator.llm.mode == "off"


def test_operator_llm_mode_true_is_still_refused(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (repo / ".metawsm").mkdir(exist_ok=True)
    (repo / ".metawsm" / "policy.yaml").write_text("operator:\n  llm:\n    mode: on\n", encoding="utf-8")
    result = cli("validate", cwd=repo)
    assert result.code == 2 and "operator.llm.mode" in result.out + result.err
