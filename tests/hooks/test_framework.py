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
