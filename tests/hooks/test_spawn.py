"""The hooks run git through `os.posix_spawnp` (hookrun._spawn), not the subprocess module: both pipes are
drained together, the exit status and stderr come back, stdin is empty, and failures name the command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from metawsm.gate.hookrun import HookError, _spawn, no_git_env, run_git


def test_large_stdout_and_stderr_at_once_do_not_deadlock() -> None:
    # 300 kB on each pipe, interleaved: a reader draining one pipe at a time would block forever
    script = "i=0; while [ $i -lt 300 ]; do head -c 1000 /dev/zero; head -c 1000 /dev/zero >&2; i=$((i+1)); done"
    code, out, err = _spawn(["sh", "-c", script], dict(os.environ))
    assert (code, len(out), len(err)) == (0, 300_000, 300_000)


def test_exit_status_stderr_environment_and_empty_stdin() -> None:
    code, out, err = _spawn(["sh", "-c", 'cat; printf "%s" "$HOOK_PROBE"; echo oops >&2; exit 3'],
                            {**os.environ, "HOOK_PROBE": "seen"})
    assert (code, out, err) == (3, b"seen", b"oops\n")


def test_a_missing_executable_is_a_hook_error() -> None:
    with pytest.raises(HookError, match="cannot run `no-such-tool-metawsm`"):
        _spawn(["no-such-tool-metawsm"], dict(os.environ))


def test_run_git_reads_the_given_worktree_and_names_a_failing_command(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.txt").write_text("a\n", encoding="utf-8")
    subprocess.run(["git", "add", "a.txt"], cwd=tmp_path, check=True)
    out = run_git(str(tmp_path), "diff", "--cached", "--name-only", "-z")
    assert out == b"a.txt\0"
    with pytest.raises(HookError, match=r"`git rev-parse --verify no-such-ref` failed \(exit 128\)"):
        run_git(str(tmp_path), "rev-parse", "--verify", "no-such-ref", env=no_git_env())
