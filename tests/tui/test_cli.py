"""`metawsm tui` on the command line: the Go flags, --json, and the refusals (no terminal, unknown run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine.conftest import project  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, set_health, start


@pytest.mark.tmux
def test_json_rows_and_go_flags(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "j", {"w": "sleep 300"}, tickets=("DEMO-1", "DEMO-2")))
    result = cli("tui", "--json", "--run-id", run_id, "--ticket", "DEMO-2", "--interval", "2s", cwd=project)
    assert result.code == 0, result.err
    (row,) = json.loads(result.out)["agents"]
    assert (row["run_id"], row["key"], row["attempt"], row["session"]) == (run_id, "DEMO-2/w", 1, "j-DEMO-2-w")
    assert cli("tui", "--json", "--interval", "500ms", cwd=project).code == 0
    missing = cli("tui", "--json", "--run", "nope", cwd=project)
    assert missing.code == 1 and "nope" in missing.err


def test_refusals(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    no_tty = cli("tui", cwd=project)
    assert no_tty.code == 2 and "needs a terminal" in no_tty.err and "--json" in no_tty.err
    bad = cli("tui", "--json", "--interval", "soon", cwd=project)
    assert bad.code == 2 and "is not a duration" in bad.err
    assert cli("tui", "--json", "--interval", "0.01", cwd=project).code == 2
    assert json.loads(cli("tui", "--json", cwd=project).out) == {"agents": []}
    missing = cli("tui", "--json", "--run", "nope", cwd=project)
    assert missing.code == 1 and "run nope not found" in missing.err
