"""The newcomer test: follow README.md literally in a fresh virtualenv, a fresh temp repository, a
private tmux server and a private HOME — and check that nothing is written anywhere else."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def readme_commands() -> tuple[str, str, str]:
    """(set up, main job, tests): the README's three sh blocks, in that order."""
    blocks = [b.strip() for b in SH_BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))]
    assert len(blocks) >= 3, "README.md must give three sh blocks: set up, main job, tests"
    setup, main_job, tests = blocks[:3]
    assert setup == "pip install -e '.[test]'", setup
    assert "metawsm init --demo" in main_job and "metawsm apply plans/demo.yaml --wait" in main_job, main_job
    assert "metawsm hooks install" in main_job, main_job
    assert tests == "pytest", tests
    return setup, main_job, tests


def new_files() -> set[str]:
    """Untracked and ignored files of the checkout (what running the README could leave behind)."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=ROOT,
                         capture_output=True, text=True).stdout
    return {line[3:] for line in out.splitlines() if line[:2] in ("??", "!!") and "__pycache__" not in line
            and not line[3:].startswith((".pytest_cache", ".hypothesis", ".ruff_cache", ".mypy_cache"))}


def test_readme_has_the_expected_shape() -> None:
    readme_commands()


@pytest.mark.e2e
@pytest.mark.slow
def test_newcomer_follows_the_readme(tmp_path: Path) -> None:
    setup, main_job, _ = readme_commands()
    venv, tmpdir, tmux_dir = tmp_path / "venv", tmp_path / "tmp", tmp_path / "tmux"
    tmpdir.mkdir()
    tmux_dir.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METAWSM_", "PYTHON", "VIRTUAL_ENV", "TMUX"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin", VIRTUAL_ENV=str(venv),
               TMPDIR=str(tmpdir), TMUX_TMPDIR=str(tmux_dir), PIP_CACHE_DIR=str(tmp_path / "pip-cache"),
               PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    checkout_before = new_files()
    default_socket = Path(f"/tmp/tmux-{os.getuid()}/metawsm")
    socket_existed = default_socket.exists()
    try:
        proc = subprocess.run(["bash", "-c", setup], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert (venv / "bin" / "metawsm").exists()
        proc = subprocess.run(["bash", "-c", main_job], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        (demo,) = [p.parent for p in tmpdir.glob("*/.metawsm")]
        status = subprocess.run(["metawsm", "status", "--json"], cwd=demo, env=env, capture_output=True, text=True)
        assert status.returncode == 0, status.stderr
        (run,) = json.loads(status.stdout)["runs"]
        assert run["status"] in ("complete", "closing", "closed")
        gates = {g["ticket"]: g["state"] for g in run["gates"]}
        assert set(gates) == {"DEMO-1", "DEMO-2"} and all(s in ("passed", "closed") for s in gates.values()), gates
        hooks = subprocess.run(["metawsm", "hooks", "status", "--json"], cwd=demo, env=env, capture_output=True,
                               text=True)
        assert hooks.returncode == 0, hooks.stdout + hooks.stderr  # exit 1 unless both are installed, current
        report = json.loads(hooks.stdout)
        assert report["ok"] and {h["name"] for h in report["hooks"] if h["ours"] and h["up_to_date"]} == {"pre-commit", "pre-push"}
        # nothing outside the temp folders: the checkout is untouched, the default tmux socket unused
        assert new_files() - checkout_before == set()
        assert default_socket.exists() == socket_existed
    finally:  # the default socket is metawsm-<repo id>, in this test's own TMUX_TMPDIR: end every server there
        for socket in tmux_dir.glob("tmux-*/*"):
            subprocess.run(["tmux", "-L", socket.name, "kill-server"], env=env, capture_output=True)
