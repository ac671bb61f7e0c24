"""The widgets of `metawsm tui` beside the agent table (tui/table.py): the live screen preview and the text
tabs. They only draw records from tui/model.py and tui/source.py; they never fetch anything."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from metawsm.cli.tui.model import AgentRow
from metawsm.cli.tui.source import ThreadLine
from metawsm.runtime.base import Screen

THREAD_STYLE = {"question": "bold black on yellow", "answer": "bold green", "post": "", "signal": "cyan",
                "state": "dim"}


class Preview(Static):
    """The selected agent's screen as the session shows it (colours kept); redrawn only when it changed."""

    def on_mount(self) -> None:
        self._last: tuple[str | None, str] | None = None
        self._shape: tuple[int, int] | None = None

    def show(self, row: AgentRow | None, screen: Screen | None) -> bool:
        """Draw ``screen``; False when it is what is already drawn."""
        if row is None:
            key: tuple[str | None, str] = (None, "")
            body: Any = Text("no agent selected", style="dim")
        elif screen is None:
            key = (row.ident, "\0gone")
            body = Text(f"{row.key}: its session is not running (status {row.status}) — r restarts it",
                        style="dim")
        else:
            key = (row.ident, screen.text)
            body = Text.from_ansi(screen.text, no_wrap=True, overflow="crop")
        if key == self._last:
            return False
        self._last = key
        shape = (len(body.plain.splitlines()), max((len(line) for line in body.plain.splitlines()), default=0))
        # a layout pass (the whole screen) only when the picture changed size; else only this widget repaints
        self.update(body, layout=shape != self._shape)
        self._shape = shape
        return True


def thread_text(lines: list[ThreadLine]) -> Text:
    if not lines:
        return Text("no forum thread for this agent yet", style="dim")
    out = Text()
    for line in lines:
        out.append(f"{line.when} {line.who}\n", style="dim")
        out.append(line.text + "\n\n", style=THREAD_STYLE.get(line.kind, ""))
    return out


def ansi_text(text: str) -> Text:
    return Text.from_ansi(text, no_wrap=True)
