"""The real pre-commit framework (from PyPI) runs .pre-commit-hooks.yaml's metawsm hooks.

`pre-commit try-repo <this checkout> --ref HEAD` clones the checkout at HEAD (commit first) and installs
metawsm into a hook environment. The pre-commit tool and its environments are cached under pytest's
cache folder, so only a new HEAD pays for the environment again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import metawsm
from tests.hooks.helpers import BAD_PLAN, GOOD_PLAN, TICKET, sh, write

pytestmark = pytest.mark.slow

CHECKOUT = Path(metawsm.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pre_commit(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(pre-commit executable, PRE_COMMIT_HOME): the one installed with the test extra, else pip into a
    temporary virtualenv."""
    if not (CHECKOUT / ".pre-commit-hooks.yaml").is_file() or not (CHECKOUT / ".git").exists():
        pytest.skip("not running from a metawsm git checkout")
    cache = tmp_path_factory.mktemp("metawsm-pre-commit")
    installed = Path(sys.executable).parent / "pre-commit"
    if installed.exists():
        return installed, cache / "home"
    venv, exe = cache / "venv", cache / "venv" / "bin" / "pre-commit"
    if not exe.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"cannot create a virtualenv: {made.stderr.strip()[-300:]}")
        pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "pre-commit"],
                             capture_output=True, text=True, timeout=600)
        if pip.returncode != 0 or not exe.exists():
            pytest.skip(f"pip cannot install pre-commit: {pip.stderr.strip()[-300:]}")
    return exe, cache / "home"


def try_repo(pre_commit: tuple[Path, Path], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe, home = pre_commit
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run([str(exe), "try-repo", str(CHECKOUT), *args, "--ref", "HEAD"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def test_metawsm_validate_under_pre_commit(pre_commit: tuple[Path, Path], repo: Path) -> None:
    write(repo / "tickets" / "T-1.yaml", TICKET)
    write(repo / "plans" / "p.yaml", BAD_PLAN.format(name="p"))
    sh(repo, "add", "-A")
    r = try_repo(pre_commit, repo, "metawsm-validate", "--all-files")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "plans/p.yaml:5:14: agents[0].profile: unknown profile 'shel'" in r.stdout

    write(repo / "plans" / "p.yaml", GOOD_PLAN.format(name="p"))
    sh(repo, "add", "-A")
    r = try_repo(pre_commit, repo, "metawsm-validate", "--all-files")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "metawsm validate (policy, tickets, plans)" in r.stdout and "Passed" in r.stdout


def test_metawsm_gate_under_pre_commit(pre_commit: tuple[Path, Path], repo: Path) -> None:
    sh(repo, "branch", "metawsm/NOPE-1")
    sha = sh(repo, "rev-parse", "HEAD").stdout.strip()
    common = ("metawsm-gate", "--hook-stage", "pre-push", "--remote-name", "origin", "--remote-url", "/dev/null",
              "--from-ref", sha, "--to-ref", sha)
    r = try_repo(pre_commit, repo, *common, "--local-branch", "refs/heads/metawsm/NOPE-1",
                 "--remote-branch", "refs/heads/metawsm/NOPE-1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "no metawsm run has ticket NOPE-1" in r.stdout
    r = try_repo(pre_commit, repo, *common, "--local-branch", "refs/heads/main", "--remote-branch", "refs/heads/main")
    assert r.returncode == 0, r.stdout + r.stderr


def test_hooks_install_in_a_pre_commit_repository_refuses_with_the_snippet_that_works(
        pre_commit: tuple[Path, Path], repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """Issue 15: `metawsm hooks install` in a repository managed by the pre-commit framework made every
    commit fail ("installed in migration mode"). It now refuses, printing the exact config to add; that
    config, installed by the real pre-commit, runs metawsm's checks and keeps pre-commit's own hooks."""
    exe, home = pre_commit
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    own = ("repos:\n  - repo: local\n    hooks:\n      - id: no-todo\n        name: no TODO\n"
           "        entry: '^TODO'\n        language: pygrep\n")
    write(repo / ".pre-commit-config.yaml", own)
    write(repo / "tickets" / "T-1.yaml", TICKET)
    sh(repo, "add", "-A")
    assert sh(repo, "commit", "-q", "-m", "config").returncode == 0
    assert subprocess.run([str(exe), "install"], cwd=repo, env=env, capture_output=True).returncode == 0
    hook = (repo / ".git" / "hooks" / "pre-commit").read_text(encoding="utf-8")
    r = cli("hooks", "install", cwd=repo)
    assert r.code == 1 and "uses the pre-commit framework" in r.err
    assert (repo / ".git" / "hooks" / "pre-commit").read_text(encoding="utf-8") == hook  # untouched
    assert not (repo / ".git" / "hooks" / "pre-commit.legacy").exists()
    start = r.err.index("# .pre-commit-config.yaml")
    snippet = r.err[start:r.err.index("\nthen run:")]
    # the user does what the message says: merge the snippet into their config, install both types
    import yaml

    config = yaml.safe_load(own)
    theirs = yaml.safe_load(snippet)
    config["default_install_hook_types"] = theirs["default_install_hook_types"]
    config["repos"] += theirs["repos"]
    write(repo / ".pre-commit-config.yaml", yaml.safe_dump(config, sort_keys=False))
    sh(repo, "add", ".pre-commit-config.yaml")
    installed = subprocess.run([str(exe), "install", "--hook-type", "pre-commit", "--hook-type", "pre-push"],
                               cwd=repo, env=env, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    ok = subprocess.run(["git", "commit", "-q", "-m", "use metawsm"], cwd=repo, env=env, capture_output=True,
                        text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr  # a commit works (it used to fail every time)
    write(repo / ".ENV", "TOKEN=x\n")
    write(repo / "plans" / "p.yaml", BAD_PLAN.format(name="p"))
    sh(repo, "add", "-A")
    r2 = subprocess.run(["git", "commit", "-q", "-m", "bad"], cwd=repo, env=env, capture_output=True, text=True)
    out = r2.stdout + r2.stderr
    assert r2.returncode != 0 and ".ENV" in out and "plans/p.yaml:5:14" in out
    write(repo / "notes.txt", "TODO later\n")  # pre-commit's own hook still runs beside metawsm's
    sh(repo, "rm", "-q", "--cached", ".ENV", "plans/p.yaml")
    sh(repo, "add", "notes.txt")
    r3 = subprocess.run(["git", "commit", "-q", "-m", "todo"], cwd=repo, env=env, capture_output=True, text=True)
    assert r3.returncode != 0 and "no TODO" in r3.stdout + r3.stderr
