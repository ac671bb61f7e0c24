"""A committed demo project on a private tmux socket, and helpers to write plans and wait on state."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from metawsm.cli.main import main
from metawsm.config.project import Project
from metawsm.engine.context import Engine
from tests.conftest import git


def commit_all(root: Path, message: str = "update") -> None:
    git(root, "add", "-A")
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=root, capture_output=True)


@pytest.fixture
def project(repo: Path, tmux_socket: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """`metawsm init --demo`, a policy on the test's tmux socket with fast retries, all committed."""
    assert main(["-C", str(repo), "init", "--demo"]) == 0
    capsys.readouterr()
    (repo / ".metawsm" / "policy.yaml").write_text(
        f"tmux:\n  socket_name: {tmux_socket}\n"
        "execution:\n  backoff: {initial_seconds: 0, max_seconds: 0}\n",
        encoding="utf-8",
    )
    commit_all(repo, "metawsm scaffold")
    return repo


def write_plan(root: Path, name: str, body: str) -> Path:
    path = root / "plans" / f"{name}.yaml"
    path.write_text(f"name: {name}\n{body}", encoding="utf-8")
    commit_all(root, f"plan {name}")
    return path


def engine(root: Path) -> Engine:
    return Engine.open(Project(root))


def wait_for(predicate: Callable[[], object], timeout: float = 30, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
