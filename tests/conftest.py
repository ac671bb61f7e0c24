"""Shared fixtures: pinned HOME and git identity, temp repositories, a private tmux socket, the CLI."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from metawsm.cli.main import main

# CI explores the same examples every run (a red build is reproducible) and keeps no example database;
# locally, hypothesis explores new random examples each run.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


_BASETEMPS: set[Path] = set()


def _tmux_sockets(base: Path) -> list[Path]:
    """The tmux sockets of this run: everything in its TMUX_TMPDIR, and the `tmux.sock` files tests made
    (remote hosts' tmux servers of the ssh backend tests)."""
    found = [p for p in (base / "tmux").rglob("*") if p.is_socket()] if (base / "tmux").is_dir() else []
    return found + [p for p in base.rglob("tmux.sock") if p.is_socket()]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Tests leave no tmux server behind: a test's teardown kills its own, but a reconcile kicked in the
    background by an agent's signal can start a session after that teardown (seen: servers left running for
    an hour). Sweep every socket of this run twice, a moment apart, with `tmux -S PATH kill-server`."""
    import time

    for sweep in range(2):
        for base in _BASETEMPS:
            for sock in _tmux_sockets(base):
                with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                    subprocess.run(["tmux", "-S", str(sock), "kill-server"], capture_output=True, timeout=5)
        if sweep == 0:
            time.sleep(1)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HOME, git identity and state folders; nothing leaks from the host."""
    return pin_env(tmp_path_factory, monkeypatch)


def pin_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new HOME (with a git identity), state folders, git and tmux settings of this run, set on
    ``monkeypatch``; also for module-scoped fixtures, which start before any test's own environment."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[user]\n\tname = Test\n\temail = test@example.com\n"
        "[commit]\n\tgpgsign = false\n[advice]\n\tdetachedHead = false\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.startswith("METAWSM_") or key in ("TMUX", "TMUX_PANE", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
            monkeypatch.delenv(key, raising=False)
    # tmux servers (private socket names, see `tmux_socket`) live in this run's own folder, never /tmp/tmux-UID
    tmux_dir = tmp_path_factory.getbasetemp() / "tmux"
    tmux_dir.mkdir(mode=0o700, exist_ok=True)
    _BASETEMPS.add(tmp_path_factory.getbasetemp())
    monkeypatch.setenv("TMUX_TMPDIR", str(tmux_dir))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    return home


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh git repository on branch main with one commit."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("test repo\n", encoding="utf-8")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "-m", "initial")
    return root


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run metawsm in-process as a user types it: cli("validate", cwd=repo)."""

    def run(*argv: str, cwd: Path | None = None) -> Result:
        args = (["-C", str(cwd)] if cwd is not None else []) + list(argv)
        capsys.readouterr()
        code = main(args)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_metawsm(*argv: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60,
                input: str | None = None) -> subprocess.CompletedProcess[str]:
    """metawsm as a separate process (real interpreter, not the pyenv shim)."""
    return subprocess.run([sys.executable, "-m", "metawsm", *argv], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, input=input)


@pytest.fixture
def tmux_socket() -> Iterator[str]:
    """A private tmux socket name; the server started on it (by the test) is killed afterwards."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    name = f"mwtest-{uuid.uuid4().hex[:10]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)
