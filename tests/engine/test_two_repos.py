"""Sessions belong to their repository: two repositories with the same plan, tickets and agents, applied at the
same time on the same TMUX_TMPDIR, both complete and neither touches the other's sessions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from metawsm.runtime.scope import repo_id
from tests.conftest import git
from tests.engine.conftest import commit_all

pytestmark = [pytest.mark.tmux, pytest.mark.slow]


@pytest.fixture
def tmux_dir(tmp_path: Path) -> Iterator[Path]:
    """A private TMUX_TMPDIR; every server started in it is ended afterwards."""
    folder = tmp_path / "tmux"
    folder.mkdir()
    yield folder
    for socket in folder.glob("tmux-*/*"):
        subprocess.run(["tmux", "-L", socket.name, "kill-server"], capture_output=True,
                       env={**os.environ, "TMUX_TMPDIR": str(folder)})


def demo_repo(root: Path, policy: str = "") -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "metawsm", "-C", str(root), "init", "--demo"], check=True,
                   capture_output=True)
    if policy:
        (root / ".metawsm" / "policy.yaml").write_text(policy, encoding="utf-8")
    commit_all(root, "scaffold")
    return root


def metawsm(root: Path, tmux_dir: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "metawsm", "-C", str(root), *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TMUX_TMPDIR": str(tmux_dir)})


def tmux(tmux_dir: Path, socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True,
                          env={**os.environ, "TMUX_TMPDIR": str(tmux_dir)}).stdout


def test_two_repositories_with_the_same_names_run_side_by_side(tmp_path: Path, tmux_dir: Path) -> None:
    one, two = demo_repo(tmp_path / "one"), demo_repo(tmp_path / "two")  # default policy: metawsm-{repo}
    procs = [metawsm(root, tmux_dir, "apply", "plans/demo.yaml", "--wait", "--timeout", "120", "--json")
             for root in (one, two)]
    results = [p.communicate(timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, out + err
        summary = json.loads(out.splitlines()[-1])  # --wait --json: one line per event, then the summary
        assert summary["type"] == "summary" and summary["runs"][0]["status"] == "complete", out
    for root in (one, two):
        socket = f"metawsm-{repo_id(root)}"
        listed = tmux(tmux_dir, socket, "list-sessions", "-F", "#{session_name} #{@metawsm_repo} #{@metawsm_home}")
        assert sorted(listed.split("\n")[:-1]) == [
            f"demo-DEMO-{n}-writer {repo_id(root)} {root}" for n in (1, 2)]
        for ticket in ("DEMO-1", "DEMO-2"):  # each agent wrote into its own repository's worktree
            wt = root / ".metawsm" / "workspaces" / ticket
            assert git(wt, "log", "-1", "--format=%s").startswith(f"{ticket}: ")
            assert git(wt, "status", "--porcelain") == ""
    assert repo_id(one) != repo_id(two)


def test_a_shared_socket_never_adopts_the_other_repositorys_session(tmp_path: Path, tmux_dir: Path) -> None:
    policy = "tmux:\n  socket_name: shared\nexecution:\n  backoff: {initial_seconds: 0, max_seconds: 0}\n"
    one, two = demo_repo(tmp_path / "one", policy), demo_repo(tmp_path / "two", policy)
    plan = "name: demo\ntickets: [DEMO-1]\nagents:\n  - {name: writer, profile: shell, run: sleep 120}\n"
    for root in (one, two):
        (root / "plans" / "demo.yaml").write_text(plan, encoding="utf-8")
        commit_all(root, "sleeping agent")
    first = metawsm(one, tmux_dir, "apply", "plans/demo.yaml", "--json")
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    before = tmux(tmux_dir, "shared", "list-panes", "-a", "-F", "#{session_name} #{pane_pid} #{@metawsm_repo}")
    assert before.split()[2] == repo_id(one)
    second = metawsm(two, tmux_dir, "apply", "plans/demo.yaml", "--json")
    out, err = second.communicate(timeout=60)
    data = json.loads(out)["runs"][0]
    assert data["status"] == "failed", out + err
    message = " ".join(e["message"] for e in data["events"])
    assert f"belongs to {one}, not to this repository" in message
    # the first repository's agent is untouched: same session, same process, still running
    assert tmux(tmux_dir, "shared", "list-panes", "-a", "-F",
                "#{session_name} #{pane_pid} #{@metawsm_repo}") == before
    status = subprocess.run([sys.executable, "-m", "metawsm", "-C", str(one), "status", "--json"], capture_output=True,
                            text=True, env={**os.environ, "TMUX_TMPDIR": str(tmux_dir)})
    (agent,) = json.loads(status.stdout)["runs"][0]["agents"]
    assert agent["status"] == "running" and agent["health"] == "healthy"
