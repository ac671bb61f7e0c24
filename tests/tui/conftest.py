"""Helpers for the `metawsm tui` tests: drive the app with Textual's pilot against a real repository whose
agents run in tmux on the test's private socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from metawsm.cli.tui.actions import TuiApp
from metawsm.cli.tui.local import LocalSource
from metawsm.config.project import Project

ECHO = 'echo ready; while read l; do echo "got: $l"; done; sleep 300'


def app_for(root: Path, **kwargs: Any) -> TuiApp:
    return TuiApp(LocalSource(Project(root), **kwargs), interval=0.5, preview_interval=0.2)


def drive(app: TuiApp, script: Callable[[Pilot[None]], Awaitable[None]], size: tuple[int, int] = (160, 48)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await script(pilot)

    asyncio.run(main())


async def until(pilot: Pilot[None], predicate: Callable[[], object], what: str, timeout: float = 20) -> None:
    """Wait (letting the app run) until ``predicate()`` holds; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.1)
    shown = "\n".join(n.message for n in pilot.app._notifications)
    raise AssertionError(f"timed out waiting for {what}; notifications:\n{shown}")


def text_of(app: TuiApp, selector: str) -> str:
    """What a Static shows, as plain text."""
    from rich.text import Text

    content = app.query_one(selector).render()
    return content.plain if isinstance(content, Text) else str(content)
