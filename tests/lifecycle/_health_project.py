"""Helpers for the status / watch / attach / health tests: a demo project with small health thresholds and
plans whose shell agents sleep, print or ask (all on the test's private tmux socket)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.engine.conftest import commit_all, write_plan


def set_health(root: Path, socket: str, *, idle: int = 60, activity: int = 120, progress: int = 300) -> None:
    (root / ".metawsm" / "policy.yaml").write_text(
        f"tmux:\n  socket_name: {socket}\n"
        "execution:\n  backoff: {initial_seconds: 0, max_seconds: 0}\n"
        f"health:\n  idle_seconds: {idle}\n  activity_stalled_seconds: {activity}\n"
        f"  progress_stalled_seconds: {progress}\n",
        encoding="utf-8",
    )
    commit_all(root, "health thresholds")


def agents_plan(root: Path, name: str, agents: dict[str, str], tickets: tuple[str, ...] = ("DEMO-1",)) -> Path:
    body = f"tickets: [{', '.join(tickets)}]\nagents:\n"
    for agent, command in agents.items():
        body += f"  - name: {agent}\n    profile: shell\n    run: {json.dumps(command)}\n"
    return write_plan(root, name, body)


def start(cli: Any, root: Path, plan: Path) -> str:
    """apply (returns once the agents have started); the run id."""
    result = cli("apply", str(plan), "--json", cwd=root)
    assert result.code == 0, result.out + result.err
    (run,) = json.loads(result.out)["runs"]
    return str(run["run_id"])


def status(cli: Any, root: Path, *args: str) -> dict[str, Any]:
    result = cli("status", "--json", *args, cwd=root)
    assert result.code == 0, result.out + result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


def agents_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["key"]: a for snap in data["runs"] for a in snap["agents"]}
