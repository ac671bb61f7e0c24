"""A demo project with an operator policy on the test's private tmux socket, and helpers to tick the
operator in-process or as a separate process (`metawsm operator --once --json`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from metawsm.operator import Decision, Operator
from tests.conftest import run_metawsm
from tests.engine.conftest import commit_all, engine

FAKE_LLM = """\
import json, os, sys, time
from pathlib import Path
here = Path(__file__).parent
situation = json.load(sys.stdin)
with open(here / "situations.jsonl", "a") as fh:
    fh.write(json.dumps({**situation, "env_model": os.environ.get("METAWSM_LLM_MODEL"),
                         "env_max_tokens": os.environ.get("METAWSM_LLM_MAX_TOKENS")}) + "\\n")
behaviour = (here / "behaviour.txt").read_text().strip()
if behaviour == "hang":
    time.sleep(30)
elif behaviour == "garbage":
    print("I think you should probably restart it, but who knows")
elif behaviour == "exit1":
    print('{"intent": "restart"}')
    sys.exit(1)
elif behaviour == "unknown":
    print('{"intent": "reboot_the_world", "reason": "why not", "confidence": 1}')
else:
    print("Here is my decision:\\n```json\\n" + behaviour + "\\n```")
"""


def configure(root: Path, socket: str, *, confirmations: int = 2, budget: int = 2, cooldown: int = 0,
              stale: int = 3600, llm: str | None = None, extra: str = "") -> None:
    """Write the policy (no engine retries: the operator is what restarts agents) and commit it."""
    text = (f"tmux:\n  socket_name: {socket}\n"
            "execution:\n  step_retries: 0\n  backoff: {initial_seconds: 0, max_seconds: 0}\n"
            f"operator:\n  unhealthy_confirmations: {confirmations}\n  restart_budget: {budget}\n"
            f"  restart_cooldown_seconds: {cooldown}\n  stale_run_age_seconds: {stale}\n")
    if llm:
        text += f"  llm:\n{llm}"
    (root / ".metawsm" / "policy.yaml").write_text(text + extra, encoding="utf-8")
    commit_all(root, "operator policy")


def fake_llm(tmp: Path, behaviour: str) -> tuple[Path, str]:
    """A fake LLM command (a Python script) whose answer is the content of behaviour.txt beside it."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "llm.py").write_text(FAKE_LLM, encoding="utf-8")
    (tmp / "behaviour.txt").write_text(behaviour, encoding="utf-8")
    return tmp, f"{sys.executable} {tmp / 'llm.py'}"


def llm_block(command: str, mode: str, *, timeout: int = 10, min_confidence: float = 0.7) -> str:
    return (f"    mode: {mode}\n    command: {json.dumps(command)}\n    model: fake-1\n    max_tokens: 123\n"
            f"    timeout_seconds: {timeout}\n    min_confidence: {min_confidence}\n")


def situations(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "situations.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def tick(root: Path, **kwargs: Any) -> list[Decision]:
    """One in-process tick with a fresh Engine (as a new operator process would start)."""
    eng = engine(root)
    try:
        return Operator(eng, **kwargs).tick()
    finally:
        eng.close()


def tick_process(root: Path, *args: str) -> list[dict[str, Any]]:
    """One tick by a separate `metawsm operator --once --json` process."""
    r = run_metawsm("operator", "--once", "--json", *args, cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def kill(socket: str, session: str) -> None:
    """Kill one session this test's run created (by exact name, on the test's own socket)."""
    subprocess.run(["tmux", "-L", socket, "kill-session", "-t", f"={session}"], check=True)


def sessions(socket: str) -> list[str]:
    out = subprocess.run(["tmux", "-L", socket, "ls", "-F", "#{session_name}"], capture_output=True, text=True)
    return sorted(out.stdout.split())


def only(decisions: list[Decision], **want: Any) -> Decision:
    (d,) = decisions
    for k, v in want.items():
        assert getattr(d, k) == v, (k, d)
    return d
