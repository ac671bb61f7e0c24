"""metawsm tui --server: the dashboard over a real `metawsm serve` app (uvicorn on a real socket) of a repository
with live agents — the board, answering a question, a restart, and the refusals that name the local command."""

from __future__ import annotations

from pathlib import Path

import pytest

from metawsm.cli.tui.actions import TuiApp
from metawsm.cli.tui.remote import RemoteSource
from metawsm.config.loader import load_policy
from metawsm.config.project import Project
from metawsm.forum.ids import control_thread_id
from metawsm.server.app import create_app
from tests.engine.conftest import project  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, set_health, start
from tests.server.conftest import LiveServer
from tests.tui.conftest import drive, until

pytestmark = [pytest.mark.tmux, pytest.mark.slow]


def notes(app: TuiApp) -> str:
    return "\n".join(n.message for n in app._notifications)


def test_dashboard_over_a_daemon(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "d", {"asker": "metawsm ask 'Which DB?' --timeout 120; sleep 300"},
                                    tickets=("DEMO-1", "DEMO-2")))
    proj = Project(project)
    with LiveServer(create_app(proj, load_policy(proj), worker=False)) as server:
        app = TuiApp(RemoteSource(server.url), interval=0.5, preview_interval=0.2)

        async def script(pilot):  # type: ignore[no-untyped-def]
            await until(pilot, lambda: len([r for r in app.board.rows if r.question]) == 2, "both questions")
            assert app.sub_title == server.url
            await pilot.press("a", *"sqlite", "enter")
            await until(pilot, lambda: app.board.rows[0].question is None, "DEMO-1's question answered")
            assert app.board.rows[1].question == "Which DB?"
            await pilot.press("down", "r")
            await until(pilot, lambda: app.board.rows[1].attempt == 2, "DEMO-2's agent restarted")
            await pilot.press("s", "y")
            await until(pilot, lambda: "stopping one agent is not available over --server" in notes(app), "refusal")
            assert "metawsm stop --agent DEMO-2/asker" in notes(app)
            app.tabs.active = "tab-diff"
            await until(pilot, lambda: "the diff is not available over --server" in notes(app), "the diff refusal")

        drive(app, script)
    answered = cli("forum", "thread", control_thread_id(run_id, "DEMO-1/asker"), cwd=project)
    assert answered.code == 0 and "sqlite" in answered.out
