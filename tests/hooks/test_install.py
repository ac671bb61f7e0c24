"""metawsm hooks install / uninstall / status: common git dir, foreign hooks chained, core.hooksPath."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from metawsm.gate.hooks import HOOKS, MARKER, missing_hooks, render
from tests.hooks.helpers import commit, sh, write

FOREIGN = "#!/bin/sh\necho foreign-{name}-ran >&2\nexit ${{FOREIGN_EXIT:-0}}\n"


def _foreign(folder: Path, name: str) -> Path:
    path = write(folder / name, FOREIGN.format(name=name))
    path.chmod(0o755)
    return path


def test_install_writes_both_hooks_with_marker_and_interpreter(repo: Path, cli) -> None:
    assert missing_hooks(repo) == list(HOOKS)
    r = cli("hooks", "install", cwd=repo)
    assert r.code == 0, r.err
    for name in HOOKS:
        hook = repo / ".git" / "hooks" / name
        text = hook.read_text()
        assert text.splitlines()[1].startswith(f"{MARKER}{name} v")
        assert f"python={sys.executable}" in text
        assert hook.stat().st_mode & stat.S_IXUSR
        assert text == render(name)
    assert missing_hooks(repo) == []
    again = cli("hooks", "install", cwd=repo)
    assert again.code == 0 and "already installed and up to date" in again.out


def test_status_json_and_exit_code(repo: Path, cli) -> None:
    r = cli("hooks", "status", "--json", cwd=repo)
    assert r.code == 1
    data = json.loads(r.out)
    assert [h["installed"] for h in data["hooks"]] == [False, False]
    cli("hooks", "install", cwd=repo)
    data = json.loads(cli("hooks", "status", "--json", cwd=repo).out)
    assert data["ok"] is True
    assert all(h["ours"] and h["up_to_date"] and not h["legacy_chained"] for h in data["hooks"])
    # an edited hook is still ours but no longer up to date
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text(hook.read_text() + "# local edit\n")
    r = cli("hooks", "status", cwd=repo)
    assert r.code == 1 and "install or update them" in r.out
    assert missing_hooks(repo) == ["pre-push"]


def test_foreign_hook_is_chained_runs_first_and_is_restored(repo: Path, cli) -> None:
    hooks = repo / ".git" / "hooks"
    original = _foreign(hooks, "pre-commit").read_text()
    r = cli("hooks", "install", cwd=repo)
    assert r.code == 0 and "pre-commit.legacy" in r.out
    assert (hooks / "pre-commit.legacy").read_text() == original
    status = json.loads(cli("hooks", "status", "--json", cwd=repo).out)
    assert status["hooks"][0]["legacy_chained"] is True

    write(repo / "a.txt", "a\n")
    ok = commit(repo, "a.txt")
    assert ok.returncode == 0, ok.stderr
    assert "foreign-pre-commit-ran" in ok.stderr  # the foreign hook ran, then ours passed

    write(repo / ".env", "SECRET=1\n")  # ours refuses this one: both ran, ours decided
    refused = commit(repo, ".env")
    assert refused.returncode == 1
    assert "foreign-pre-commit-ran" in refused.stderr and "forbidden_file_patterns" in refused.stderr
    sh(repo, "rm", "-q", "--cached", ".env")

    write(repo / "b.txt", "b\n")  # the foreign hook's failure fails the commit
    sh(repo, "add", "b.txt")
    failed = subprocess.run(["git", "commit", "-q", "-m", "b"], cwd=repo, capture_output=True, text=True,
                            env={**os.environ, "FOREIGN_EXIT": "3"})
    assert failed.returncode == 1 and failed.stderr == "foreign-pre-commit-ran\n"  # ours never started

    r = cli("hooks", "uninstall", cwd=repo)
    assert r.code == 0 and "restored" in r.out
    assert (hooks / "pre-commit").read_text() == original
    assert not (hooks / "pre-commit.legacy").exists()
    assert not (hooks / "pre-push").exists()


def test_foreign_pre_push_gets_stdin_too(repo: Path, cli, tmp_path: Path) -> None:
    hooks = repo / ".git" / "hooks"
    write(hooks / "pre-push", "#!/bin/sh\nwhile read l; do echo \"legacy saw: $l\" >&2; done\n").chmod(0o755)
    assert cli("hooks", "install", cwd=repo).code == 0
    remote = tmp_path / "remote.git"
    sh(tmp_path, "init", "-q", "--bare", str(remote))
    sh(repo, "remote", "add", "origin", str(remote))
    pushed = sh(repo, "push", "origin", "main")
    assert pushed.returncode == 0, pushed.stderr
    assert "legacy saw: refs/heads/main" in pushed.stderr


def test_install_refuses_when_foreign_hook_and_legacy_both_exist(repo: Path, cli) -> None:
    hooks = repo / ".git" / "hooks"
    _foreign(hooks, "pre-push")
    _foreign(hooks, "pre-push.legacy")
    r = cli("hooks", "install", cwd=repo)
    assert r.code == 1 and "pre-push.legacy already exists" in r.err
    assert not (hooks / "pre-commit").exists()  # nothing half-installed


def test_uninstall_leaves_foreign_hooks_alone(repo: Path, cli) -> None:
    hooks = repo / ".git" / "hooks"
    original = _foreign(hooks, "pre-commit").read_text()
    r = cli("hooks", "uninstall", cwd=repo)
    assert r.code == 0 and "not metawsm's" in r.out
    assert (hooks / "pre-commit").read_text() == original


def test_core_hooks_path_inside_repository(repo: Path, cli) -> None:
    folder = repo / ".githooks"
    sh(repo, "config", "core.hooksPath", str(folder))
    r = cli("hooks", "install", cwd=repo)
    assert r.code == 0 and "core.hooksPath is set" in r.out
    assert (folder / "pre-commit").exists() and not (repo / ".git" / "hooks" / "pre-commit").exists()
    write(repo / ".env", "x\n")
    assert commit(repo, ".env").returncode == 1  # git runs it from there
    assert missing_hooks(repo) == []


def test_core_hooks_path_relative_is_installed_with_a_note(repo: Path, cli) -> None:
    sh(repo, "config", "core.hooksPath", "githooks")
    r = cli("hooks", "install", cwd=repo)
    assert r.code == 0 and "core.hooksPath is relative" in r.out
    assert (repo / "githooks" / "pre-push").exists()


def test_core_hooks_path_outside_repository_needs_force(repo: Path, cli, tmp_path: Path) -> None:
    outside = tmp_path / "global-hooks"
    sh(repo, "config", "core.hooksPath", str(outside))
    r = cli("hooks", "install", cwd=repo)
    assert r.code == 1 and "outside this repository" in r.err and "--force" in r.err
    assert not outside.exists()
    forced = cli("hooks", "install", "--force", cwd=repo)
    assert forced.code == 0 and (outside / "pre-commit").exists()
    assert "other repositories" in forced.out


def test_message_when_metawsm_is_gone(repo: Path, tmp_path: Path) -> None:
    from metawsm.gate.hooks import install

    install(repo)
    hook = repo / ".git" / "hooks" / "pre-commit"
    # an interpreter without metawsm: a bare venv's python, simulated with python -S (no site-packages)
    fake = write(tmp_path / "bin" / "python", f"#!/bin/sh\nexec {shutil.which('python3') or sys.executable} -S -I \"$@\"\n")
    fake.chmod(0o755)
    hook.write_text(hook.read_text().replace(f"python={sys.executable}", f"python={fake}"))
    write(repo / "c.txt", "c\n")
    r = commit(repo, "c.txt")
    assert r.returncode == 1
    assert "metawsm is no longer installed" in r.stderr and "rm " in r.stderr
    hook.write_text(hook.read_text().replace(f"python={fake}", "python=/nonexistent/python"))
    r = commit(repo)
    assert r.returncode == 1 and "interpreter that installed it is gone" in r.stderr
