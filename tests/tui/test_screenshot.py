"""The screenshot in docs/tui.md: `metawsm tui` on a real repository (two tickets, an agent printing in colour
and one waiting on a question), exported with Textual's SVG export. REGEN_TUI_SCREENSHOT=1 writes it to
docs/tui.svg; without it the test checks the picture and that the committed one shows the same things."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.engine.conftest import project  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, set_health, start
from tests.tui.conftest import app_for, drive, text_of, until

pytestmark = [pytest.mark.tmux, pytest.mark.slow]
DOC = Path(__file__).resolve().parents[2] / "docs" / "tui.svg"
IMPL = ("printf '\\033[1mrunning tests\\033[0m\\n\\033[32m✓\\033[0m 42 passed\\n\\033[33m!\\033[0m 1 warning\\n'; "
        "echo 'editing src/app.py'; sleep 300")
SHOWN = ("DEMO-1", "DEMO-2", "impl", "asker", "42", "passed", "attach", "answer", "message", "restart")


def test_screenshot(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    start(cli, project, agents_plan(project, "feature", {"impl": IMPL, "asker": "metawsm ask 'Postgres or SQLite?'"},
                                    tickets=("DEMO-1", "DEMO-2")))
    app = app_for(project)
    svg: list[str] = []

    async def script(pilot):  # type: ignore[no-untyped-def]
        await until(pilot, lambda: sum(1 for r in app.board.rows if r.question) == 2, "both questions")
        await pilot.press("down")
        await until(pilot, lambda: "42 passed" in text_of(app, "#preview"), "impl's screen")
        shown = app.preview.render()
        assert any("green" in str(span.style) for span in shown.spans)  # the pane's colours are kept
        app.sub_title = "~/src/shop"  # not the test's temporary folder
        await pilot.pause()
        svg.append(app.export_screenshot(title="metawsm tui"))

    drive(app, script, size=(150, 36))
    picture = svg[0]
    for word in SHOWN:
        assert word in picture, word
    if os.environ.get("REGEN_TUI_SCREENSHOT") == "1":
        DOC.write_text(picture, encoding="utf-8")
    assert DOC.is_file(), "docs/tui.svg is missing: REGEN_TUI_SCREENSHOT=1 python -m pytest tests/tui/test_screenshot.py"
    committed = DOC.read_text(encoding="utf-8")
    assert all(word in committed for word in SHOWN)
