"""metawsm tui driven with Textual's pilot against a real repository: agents in tmux on the test's socket,
real git, the real forum. Navigation, the live preview, answer, message, restart, stop, close."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metawsm.forum.ids import control_thread_id
from tests.conftest import git
from tests.engine.conftest import project  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, set_health, start
from tests.tui.conftest import ECHO, app_for, drive, text_of, until

pytestmark = [pytest.mark.tmux, pytest.mark.slow]


def test_navigation_filter_preview_and_message(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "n", {"echo": ECHO}, tickets=("DEMO-1", "DEMO-2")))
    app = app_for(project)

    async def script(pilot):  # type: ignore[no-untyped-def]
        await until(pilot, lambda: len(app.board.rows) == 2, "both agents")
        assert app.selected is not None and app.selected.key == "DEMO-1/echo"
        await until(pilot, lambda: "ready" in text_of(app, "#preview"), "DEMO-1's screen")
        await pilot.press("down")
        await until(pilot, lambda: "DEMO-2/echo" in text_of(app, "#detail"), "the detail of DEMO-2")
        await pilot.press("m", *"hello tui", "enter")
        await until(pilot, lambda: "got: hello tui" in text_of(app, "#preview"), "the message echoed in the pane")
        await pilot.press("up")
        await until(pilot, lambda: "got: hello" not in text_of(app, "#preview"), "DEMO-1's screen again")
        app.tabs.active = "tab-transcript"
        await until(pilot, lambda: "got: hello" not in text_of(app, "#text-transcript")
                    and "ready" in text_of(app, "#text-transcript"), "DEMO-1's transcript")
        assert "attempt 1" in text_of(app, "#text-transcript")
        app.tabs.active = "tab-screen"
        await pilot.press("slash", *"DEMO-2", "enter")
        await until(pilot, lambda: [r.ticket for r in app.visible_rows()] == ["DEMO-2"], "the filter")
        assert app.query_one("#agents").row_count == 1 and "filter: DEMO-2" in app.title

    drive(app, script)
    thread = cli("forum", "thread", control_thread_id(run_id, "DEMO-2/echo"), cwd=project)
    assert thread.code == 0 and "message typed into DEMO-2/echo's session (attempt 1):\nhello tui" in thread.out


def test_answer_the_pending_question(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    start(cli, project, agents_plan(project, "q", {"asker": "metawsm ask 'Which DB?' --timeout 120; sleep 300"}))
    app = app_for(project)

    async def script(pilot):  # type: ignore[no-untyped-def]
        await until(pilot, lambda: app.board.rows and app.board.rows[0].question == "Which DB?", "the question")
        assert "? asks: Which DB?" in text_of(app, "#detail") and "1 waiting for an answer" in app.title
        await pilot.press("a")
        await until(pilot, lambda: "? Which DB?" in _dialog(app), "the question in the answer dialog")
        await pilot.press(*"postgres", "enter")
        await until(pilot, lambda: "postgres" in text_of(app, "#preview"), "the answer printed by `metawsm ask`")
        await until(pilot, lambda: app.board.rows[0].question is None, "the question answered")
        await pilot.press("a")  # nothing pending any more: a warning, no dialog
        assert app.screen is app.screen_stack[0]
        tabs = app.query_one("#right")
        tabs.active = "tab-thread"
        await until(pilot, lambda: "answer: postgres" in text_of(app, "#text-thread"), "the thread tab")
        assert "asks (attempt 1): Which DB?" in text_of(app, "#text-thread")

    drive(app, script)


def test_restart_then_stop_after_confirming(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    start(cli, project, agents_plan(project, "r", {"echo": 'echo "attempt $METAWSM_ATTEMPT"; sleep 300'}))
    app = app_for(project)

    async def script(pilot):  # type: ignore[no-untyped-def]
        await until(pilot, lambda: "attempt 1" in text_of(app, "#preview"), "attempt 1 on screen")
        await pilot.press("r")
        await until(pilot, lambda: "attempt 2" in text_of(app, "#preview"), "attempt 2 on screen")
        await until(pilot, lambda: app.board.rows[0].attempt == 2, "the table's attempt column")
        await pilot.press("s")
        await pilot.press("n")  # not confirmed: still running
        assert app.board.rows[0].status != "stopped"
        await pilot.press("s", "y")
        await until(pilot, lambda: app.board.rows[0].status == "stopped", "the agent stopped")
        await until(pilot, lambda: "is not running" in text_of(app, "#preview"), "the preview saying so")

    drive(app, script)


def test_close_shows_the_dry_run_and_merges_only_when_confirmed(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    before = git(project, "rev-parse", "main")
    app = app_for(project)

    async def script(pilot):  # type: ignore[no-untyped-def]
        await until(pilot, lambda: len(app.board.rows) == 2, "the demo's agents")
        tabs = app.query_one("#right")
        await pilot.click("#--content-tab-tab-diff")  # a click on the tab shows it
        await until(pilot, lambda: "demo/DEMO-1.txt" in text_of(app, "#text-diff"), "the diff tab")
        tabs.active = "tab-checks"
        await until(pilot, lambda: "PASS" in text_of(app, "#text-checks"), "the gate in the checks tab")
        await pilot.press("c")
        await until(pilot, lambda: "[dry run]" in _dialog(app), "the dry run")
        await pilot.press("n")
        assert git(project, "rev-parse", "main") == before
        await pilot.press("c")
        await until(pilot, lambda: "[dry run]" in _dialog(app), "the dry run again")
        await pilot.press("y")
        await until(pilot, lambda: app.board.rows[0].ticket_status == "merged", "DEMO-1 merged")

    drive(app, script)
    assert git(project, "rev-parse", "main") != before
    assert "DEMO-1" in git(project, "log", "-1", "--format=%s", "main")
    data = json.loads(cli("status", "--all", "--json", cwd=project).out)
    states = {t["ticket"]: t["status"] for t in data["runs"][0]["ticket_states"]}
    assert states == {"DEMO-1": "merged", "DEMO-2": "ready"}


def _dialog(app) -> str:  # type: ignore[no-untyped-def]
    from rich.text import Text

    parts = []
    for widget in app.screen.query("Static"):
        content = widget.render()
        parts.append(content.plain if isinstance(content, Text) else str(content))
    return "\n".join(parts)


def test_iterate_restarts_the_ticket_with_the_feedback(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    start(cli, project, agents_plan(project, "i", {"w": 'echo "feedback=[$METAWSM_FEEDBACK]"; sleep 300'}))
    app = app_for(project)

    async def script(pilot):  # type: ignore[no-untyped-def]
        await until(pilot, lambda: "feedback=[]" in text_of(app, "#preview"), "attempt 1 on screen")
        await pilot.press("i")
        await until(pilot, lambda: len(app.screen_stack) == 2, "the feedback prompt")
        await pilot.press("escape")  # cancelled: nothing happens
        await until(pilot, lambda: len(app.screen_stack) == 1, "the prompt closed")
        assert app.board.rows[0].attempt == 1
        await pilot.press("i", *"tighten the tests", "enter")
        await until(pilot, lambda: "feedback=[tighten the tests" in text_of(app, "#preview"), "round 2")
        await until(pilot, lambda: app.board.rows[0].attempt == 2, "attempt 2 in the table")

    drive(app, script)
