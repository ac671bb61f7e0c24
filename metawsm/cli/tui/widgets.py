"""The widgets of `metawsm tui`: the agent table (run → ticket → agent), the live screen preview and the text
tabs. They only draw records from tui/model.py and tui/source.py; they never fetch anything."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from metawsm.cli.status import STATE_STYLE
from metawsm.cli.tui.model import AgentRow, age
from metawsm.cli.tui.source import ThreadLine
from metawsm.runtime.base import Screen

COLUMNS = (("run", 30), ("ticket", 12), ("agent", 14), ("status", 8), ("health", 8), ("try", 3),
           ("activity", 9), ("ticket state", 12), ("usage", 16))
THREAD_STYLE = {"question": "bold black on yellow", "answer": "bold green", "post": "", "signal": "cyan",
                "state": "dim"}


def _word(value: str | None) -> Text:
    word = value or "-"
    return Text(word, style=STATE_STYLE.get(word, ""))


def cells(row: AgentRow) -> tuple[Any, ...]:
    agent = Text(row.agent + (" ?" if row.question else ""), style="bold yellow" if row.question else "")
    return (Text(row.run_id, overflow="ellipsis"), row.ticket, agent, _word(row.status), _word(row.health),
            str(row.attempt), age(row.activity_age), _word(row.ticket_status), row.usage)


class AgentTable(DataTable[Any]):
    """One row per agent; the rows are rewritten only where they changed, and the cursor stays on its agent."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "attach")]

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label, width in COLUMNS:
            self.add_column(label, width=width, key=label)
        self._shown: list[str] = []
        self._cells: dict[str, tuple[Any, ...]] = {}

    def show(self, rows: list[AgentRow]) -> None:
        idents = [r.ident for r in rows]
        if idents != self._shown:
            keep = self.selected_ident()
            self.clear()
            self._cells = {}
            for r in rows:
                self._cells[r.ident] = cells(r)
                self.add_row(*self._cells[r.ident], key=r.ident)
            self._shown = idents
            if keep in idents:
                self.move_cursor(row=idents.index(keep))
            return
        for r in rows:
            new = cells(r)
            old = self._cells.get(r.ident)
            if old == new:
                continue
            for (label, _), value, before in zip(COLUMNS, new, old or (None,) * len(new), strict=True):
                if value != before:
                    self.update_cell(r.ident, label, value)
            self._cells[r.ident] = new

    def selected_ident(self) -> str | None:
        if not self._shown or self.cursor_row < 0 or self.cursor_row >= len(self._shown):
            return None
        return self._shown[self.cursor_row]


class Preview(Static):
    """The selected agent's screen as the session shows it (colours kept); redrawn only when it changed."""

    def on_mount(self) -> None:
        self._last: tuple[str | None, str] | None = None

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
        self.update(body)
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
