"""The subprocess wrapper: output, errors with command/exit code/tails, timeouts killing the group."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from metawsm.errors import ExternalError
from metawsm.runtime import proc
from metawsm.state.lease import pid_alive


def test_run_captures_output(tmp_path: Path) -> None:
    result = proc.run([sys.executable, "-c", "import os,sys; print(os.getcwd()); print('e', file=sys.stderr)"],
                      cwd=tmp_path)
    assert result.ok and result.code == 0
    assert result.stdout.strip() == str(tmp_path) and result.stderr.strip() == "e"
    assert result.argv[0] == sys.executable


def test_run_input_and_env(tmp_path: Path) -> None:
    result = proc.run([sys.executable, "-c", "import os,sys; print(sys.stdin.read() + os.environ['X'])"],
                      env={**os.environ, "X": "!"}, input="hi")
    assert result.stdout.strip() == "hi!"


def test_failure_message_names_command_code_and_tails(tmp_path: Path) -> None:
    script = "import sys; [print('out', i) for i in range(100)]; print('bad thing', file=sys.stderr); sys.exit(3)"
    with pytest.raises(proc.CommandFailed) as info:
        proc.run([sys.executable, "-c", script, "arg with space"], cwd=tmp_path)
    err = info.value
    assert isinstance(err, ExternalError)
    assert err.exit_status == 3 and err.code == "external_error" and "'arg with space'" in err.message
    assert "exit code 3" in err.message and "bad thing" in err.message
    assert "out 99" in err.message and "out 10\n" not in err.message  # a tail, not everything
    assert len(err.stdout.splitlines()) == 100


def test_check_false_returns_code() -> None:
    assert proc.run(["false"], check=False).code == 1


def test_missing_program() -> None:
    with pytest.raises(ExternalError, match="not found"):
        proc.run(["definitely-not-a-program-xyz"])


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    started = time.monotonic()
    with pytest.raises(proc.CommandFailed, match=r"timed out after 0\.5s") as info:
        proc.run_shell(f"sleep 30 & echo $! > {marker}; wait", timeout=0.5)
    assert time.monotonic() - started < 10
    assert info.value.timed_out
    pid = int(marker.read_text())
    for _ in range(50):
        if not pid_alive(pid):  # gone, or a zombie waiting for init to reap it
            break
        time.sleep(0.05)
    else:
        pytest.fail("grandchild survived the timeout")


def test_run_shell_uses_sh(tmp_path: Path) -> None:
    result = proc.run_shell("echo $0 && echo a | tr a b", cwd=tmp_path)
    assert result.stdout.split() == ["/bin/sh", "b"]
    with pytest.raises(proc.CommandFailed, match="exit code 7"):
        proc.run_shell("exit 7")


def test_which() -> None:
    assert proc.which("sh")
    assert proc.which("definitely-not-a-program-xyz") is None
    assert proc.tail("a\nb\nc\n", lines=2) == "b\nc"
