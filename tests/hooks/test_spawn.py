"""The hooks' fast path: git through `os.posix_spawnp` (hookrun._spawn), not the subprocess module — both
pipes drained together, the exit status and stderr come back, stdin is empty, failures name the command;
the policy cache read with marshal and `*` patterns matched by hand, so that nothing-to-check imports
neither re, json nor subprocess; and the hand matcher agrees with fnmatch."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_nothing_to_check_imports_no_re_json_or_subprocess(tmp_path: Path) -> None:
    # the fast path's budget is about one interpreter start: re (with enum), json and subprocess each cost
    # a good part of one, so none may be imported when a non-metawsm file is staged and the cache is warm
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".metawsm" / "state").mkdir(parents=True)
    (tmp_path / ".metawsm" / "policy.yaml").write_text("close:\n  forbidden_file_patterns: ['*.bin', 'x*y*z']\n",
                                                       encoding="utf-8")
    (tmp_path / "a.txt").write_text("a\n", encoding="utf-8")
    subprocess.run(["git", "add", "a.txt"], cwd=tmp_path, check=True)
    # only what the hook adds counts: a site customisation may import some of these before any hook runs
    code = ("import sys; before = set(sys.modules); from metawsm.gate.hookrun import main; rc = main(['pre-commit']); "
            "print(rc, sorted(m for m in ('re', 'json', 'subprocess', 'fnmatch', 'pathlib', 'yaml') "
            "if m in sys.modules and m not in before))")
    runs = [subprocess.run([sys.executable, "-P", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                           timeout=60, check=True).stdout.split("\n")[0] for _ in range(2)]
    assert runs[0].startswith("0 ") and "yaml" in runs[0]  # a cold cache loads the policy once
    assert runs[1] == "0 []"
    # a staged file matching a pattern is still refused from the warm cache, still without re
    (tmp_path / "k.bin").write_text("k\n", encoding="utf-8")
    subprocess.run(["git", "add", "k.bin"], cwd=tmp_path, check=True)
    out = subprocess.run([sys.executable, "-P", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, check=True).stdout.split("\n")[0]
    assert out == "1 []"


@pytest.mark.parametrize("pattern", ["", "*", "a", "*.key", ".env*", "id_*", "a*b", "*a*", "a*b*c", "**", "a**b",
                                     "*.tar.gz", "x*y*z*", "[ab]c", "a?c", ".aws/credentials"])
def test_star_patterns_match_exactly_as_fnmatch(pattern: str) -> None:
    import fnmatch
    import itertools

    from metawsm.gate.patterns import fnmatchcase

    names = ["".join(p) for n in range(5) for p in itertools.product("abc.*/", repeat=n)]
    names += ["id_rsa", ".env.local", "x.key", "a.tar.gz", ".aws/credentials", "xyz", "xay", "xyyz", "axbxc"]
    assert [n for n in names if fnmatchcase(n, pattern)] == [n for n in names if fnmatch.fnmatchcase(n, pattern)]
