"""Hostile text in tickets (titles, goals, criteria) flows through templates, tmux and git as data:
nothing is executed, nothing is written outside the workspace. Hostile names and ids are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.conftest import commit_all, engine, project  # noqa: F401 - fixture

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

KNOWN = [
    "$(touch {canary})", "`touch {canary}`", "'; touch {canary}; '", "\"; touch {canary}; \"",
    "a\nb; touch {canary}", "${{IFS}}touch${{IFS}}{canary}", "x && touch {canary}", "| touch {canary}",
    "{{{{ 7*7 }}}} {{% raw %}}", "\\'\\\"\\\\", "#{{session_name}} #(touch {canary})", "; tmux kill-server",
    "-e X=1 -- touch {canary}", "x" * 3000, "ünïcødé ✓ — \t tab",
]

hostile = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
                  min_size=1, max_size=60).map(lambda s: s if s.strip() else s + "x")


def run_payloads(root: Path, cli, titles: list[str], canary: Path) -> None:  # type: ignore[no-untyped-def]
    ids, loaded = [], []
    for i, title in enumerate(titles):
        ticket = f"HOSTILE-{i}"
        ids.append(ticket)
        text = yaml.safe_dump({"id": ticket, "title": title[:200], "goal": title, "done_criteria": [title]},
                              allow_unicode=True)
        (root / "tickets" / f"{ticket}.yaml").write_text(text)
        loaded.append(yaml.safe_load(text))  # YAML itself folds some characters (e.g. U+0085 NEL)
    policy = root / ".metawsm/policy.yaml"
    policy.write_text(policy.read_text() + "agent_profiles:\n  echo:\n"
                      "    command: printf '%s' {{ prompt | shquote }} > prompt.txt && git add prompt.txt"
                      " && git commit -qm {{ ticket.title | shquote }} && metawsm signal completion\n")
    (root / "plans" / "hostile.yaml").write_text(yaml.safe_dump({
        "name": "hostile", "tickets": ids,
        "agents": [{"name": "a", "profile": "echo", "prompt": "Title: {{ ticket.title }}"}],
        "checks": ["test -s prompt.txt"],
    }))
    commit_all(root, "hostile tickets")
    result = cli("apply", "plans/hostile.yaml", "--wait", "--timeout", "120", "--max-parallel", "40", cwd=root)
    assert result.code == 0, result.out[-3000:] + result.err[-3000:]
    assert not canary.exists(), "a payload was executed"
    for ticket, doc in zip(ids, loaded, strict=True):
        prompt = (root / ".metawsm/workspaces" / ticket / "prompt.txt").read_text()
        assert f"Title: {doc['title']}" in prompt and doc["goal"] in prompt  # as the ticket file says, verbatim
    eng = engine(root)
    (run,) = [r for r in eng.store.list_runs() if r.plan_name == "hostile"]
    assert run.status == "complete"
    json.dumps([s.to_json() for s in eng.store.list_steps(run.run_id)])  # state stays serialisable


def test_known_payloads_are_inert(project: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    canary = tmp_path / "pwned"
    run_payloads(project, cli, [p.format(canary=canary) for p in KNOWN], canary)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(titles=st.lists(hostile, min_size=4, max_size=8))
def test_random_payloads_are_inert(titles: list[str], tmp_path_factory, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    from metawsm.cli.main import main

    root = tmp_path_factory.mktemp("hostile")
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    assert main(["-C", str(root), "init", "--demo"]) == 0
    # one socket per example (`{repo}`: this example's repository), so no example meets another's sessions
    (root / ".metawsm/policy.yaml").write_text(f"tmux:\n  socket_name: {tmux_socket}-{{repo}}\n")
    commit_all(root, "scaffold")
    from metawsm.runtime.scope import repo_id

    try:
        run_payloads(root, cli, titles, root.parent / "pwned")
    finally:
        subprocess.run(["tmux", "-L", f"{tmux_socket}-{repo_id(root)}", "kill-server"], capture_output=True)


@pytest.mark.parametrize("name", ["a;b", "$(x)", "a b", "a.b", "../x", "-x", "a\nb", "é"])
def test_hostile_agent_and_plan_names_are_refused(repo: Path, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    (repo / "tickets").mkdir()
    (repo / "tickets/ABC-1.yaml").write_text("id: ABC-1\ntitle: t\n")
    (repo / "plans").mkdir()
    (repo / "plans/p.yaml").write_text(yaml.safe_dump({"name": name, "tickets": ["ABC-1"],
                                                       "agents": [{"name": name, "profile": "codex"}]}))
    result = cli("validate", cwd=repo)
    assert result.code == 2 and "agents[0].name" in result.err and "name:" in result.err
