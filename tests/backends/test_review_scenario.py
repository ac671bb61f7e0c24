"""The review scenario (tests/review: an implementer, then a reviewer whose requested changes go back to it as a
new round by `review.auto_iterate`, then its approval makes the ticket ready) end to end on docker and on ssh:
the agents commit and signal from their containers / from the host (through the daemon), the verdicts reach the
gate, the second round sees the first round's note, and cleanup leaves no container or remote worktree behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metawsm.forum.ids import agent_key, control_thread_id
from tests.backends import sshd
from tests.backends.conftest import Dockerd
from tests.backends.test_docker import containers, use_docker
from tests.backends.test_ssh import _run_id, _setup
from tests.conftest import run_metawsm
from tests.engine.conftest import engine, project, write_plan  # noqa: F401 - fixture
from tests.review.test_verdicts import AUTO
from tests.server.test_serve import start, stop

pytestmark = [pytest.mark.backends, pytest.mark.slow, pytest.mark.tmux]

REVIEW = {"close": {"reviewers": ["reviewer"]}, "review": {"auto_iterate": True}}  # as tests/review's own
REVIEW_YAML = "close:\n  reviewers: [reviewer]\nreview:\n  auto_iterate: true\n"


def _reviewed(root: Path) -> None:
    """Round 1's note went back to the implementer as round 2, whose work the reviewer approved."""
    eng = engine(root)
    try:
        (run,) = eng.store.list_runs()
        assert eng.store.get_ticket("DEMO-1").status == "ready"
        events = eng.forum.get_thread(control_thread_id(run.run_id, agent_key("DEMO-1", "reviewer")))[2]
        verdicts = [e.payload["status"] for e in events if e.payload.get("control_type") == "review"]
        assert verdicts == ["changes_requested", "approved"], verdicts
    finally:
        eng.close()
    notes = (root / ".metawsm/workspaces/DEMO-1/notes.txt").read_text()  # the local worktree holds both rounds
    assert notes.startswith("first draft\nReviewer reviewer requested changes (at ") and "add a test please" in notes


def test_review_scenario_on_docker(dockerd: Dockerd, image: dict[str, object], project: Path, cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                   tmux_socket: str) -> None:
    use_docker(project, dockerd, tmux_socket, extra=REVIEW_YAML)
    write_plan(project, "auto", AUTO)
    try:
        result = cli("apply", "plans/auto.yaml", "--wait", "--timeout", "180", cwd=project)
        assert result.code == 0, result.out + result.err
        _reviewed(project)
        assert containers(dockerd, project)  # the ticket's container, while its sessions are kept
    finally:
        result = cli("cleanup", "--force", "--json", cwd=project)
    assert result.code == 0, result.out + result.err
    assert containers(dockerd, project) == {}


def test_review_scenario_on_ssh(repo: Path, server: sshd.Sshd, tmp_path: Path, control: Path,
                                tmux_socket: str) -> None:
    workdir, port = _setup(repo, server, tmp_path, control, tmux_socket, slots=2)
    policy = repo / ".metawsm" / "policy.yaml"
    policy.write_text(json.dumps({**json.loads(policy.read_text()), **REVIEW}, indent=1), encoding="utf-8")
    write_plan(repo, "auto", AUTO)
    daemon, _ = start(repo, port=port)
    try:
        applied = run_metawsm("apply", "plans/auto.yaml", "--wait", "--timeout", "180", cwd=repo, timeout=240)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        _reviewed(repo)
        run_id = _run_id(repo, "auto")
        cleaned = run_metawsm("cleanup", "--run", run_id, "--force", cwd=repo, timeout=120)
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    finally:
        code, err = stop(daemon)
    assert code == 0, err
    assert not any(workdir.iterdir()), list(workdir.rglob("*"))
