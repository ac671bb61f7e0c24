"""The agent table of `metawsm tui`: one line per agent, drawn with Textual's line API from strips cached per row,
so a refresh where one agent changed re-renders that one line (Textual's DataTable re-renders every visible
row on any cell update: ~1 ms a row, 50 ms a frame at 50 rows)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from metawsm.cli.status import STATE_STYLE
from metawsm.cli.tui.model import AgentRow, clock

COLUMNS = (("run", 30), ("ticket", 12), ("agent", 14), ("status", 8), ("health", 8), ("try", 3),
           ("last seen", 9), ("ticket state", 12), ("usage", 16))
CURSOR = Style(reverse=True, bold=True)


def _word(value: str | None) -> Text:
    word = value or "-"
    return Text(word, style=STATE_STYLE.get(word, ""))


def cells(row: AgentRow) -> tuple[Text, ...]:
    agent = Text(row.agent + (" ?" if row.question else ""), style="bold yellow" if row.question else "")
    return (Text(row.run_id), Text(row.ticket), agent, _word(row.status), _word(row.health), Text(str(row.attempt)),
            Text(clock(row.last_activity)), _word(row.ticket_status), Text(row.usage))


def line(values: tuple[Text, ...]) -> Text:
    out = Text(" ", no_wrap=True)
    for (_, width), value in zip(COLUMNS, values, strict=True):
        cell = value.copy()
        cell.truncate(width, overflow="ellipsis", pad=True)
        out.append_text(cell)
        out.append("  ")
    return out


def header() -> Text:
    return line(tuple(Text(label, style="bold") for label, _ in COLUMNS))


class AgentTable(ScrollView, can_focus=True):
    """The agents, a cursor on one; up/down/page/home/end move it, enter selects (attach), a click moves it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "attach"), Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False), Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False), Binding("home", "move(-1000000)", show=False),
        Binding("end", "move(1000000)", show=False),
    ]
    DEFAULT_CSS = "AgentTable { height: 1fr; }"

    class Highlighted(Message):
        """The cursor is on another agent."""

    class Selected(Message):
        """Enter on an agent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rows: list[AgentRow] = []
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._strips: dict[tuple[str, bool], Strip] = {}
        self.cursor = 0

    # -- data ---------------------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._rows)

    def selected_ident(self) -> str | None:
        return self._rows[self.cursor].ident if 0 <= self.cursor < len(self._rows) else None

    def show(self, rows: list[AgentRow]) -> None:
        """Show ``rows``; only the lines whose cells changed are redrawn; the cursor stays on its agent."""
        keep = self.selected_ident()
        same = [r.ident for r in rows] == [r.ident for r in self._rows]
        before = dict(zip((r.ident for r in self._rows), self._rows, strict=True))
        changed = []
        for index, row in enumerate(rows):
            if before.get(row.ident) == row:  # the same record: the same cells (no Text built)
                continue
            new = cells(row)
            if self._cells.get(row.ident) != new:
                self._cells[row.ident] = new
                self._strips.pop((row.ident, False), None)
                self._strips.pop((row.ident, True), None)
                changed.append(index)
        self._rows = rows
        if same:
            for index in changed:
                self.refresh_line(index)
            return
        idents = [r.ident for r in rows]
        self._cells = {k: v for k, v in self._cells.items() if k in set(idents)}
        self.virtual_size = Size(sum(w + 2 for _, w in COLUMNS) + 1, len(rows))
        self.cursor = idents.index(keep) if keep in idents else min(self.cursor, max(len(rows) - 1, 0))
        self.refresh()
        if self.selected_ident() != keep:
            self.post_message(self.Highlighted())

    # -- drawing ------------------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        index = y + self.scroll_offset.y
        width = self.size.width
        base = self.rich_style  # every segment gets a style: NO_COLOR's filter reads each one's colours
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, base)
        ident = self._rows[index].ident
        selected = index == self.cursor
        strip = self._strips.get((ident, selected))
        if strip is None:
            text = line(self._cells[ident])
            segments = [Segment(t, s or Style()) for t, s, _ in text.render(self.app.console)]
            if selected:
                segments = list(Segment.apply_style(segments, post_style=CURSOR if self.has_focus else Style(
                    reverse=True)))
            strip = Strip(segments)
            self._strips[(ident, selected)] = strip
        return strip.crop_extend(self.scroll_offset.x, self.scroll_offset.x + width, base)

    def on_focus(self) -> None:
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()

    # -- moving -------------------------------------------------------------------------------------------
    def _go(self, index: int) -> None:
        if not self._rows:
            return
        index = max(0, min(len(self._rows) - 1, index))
        if index == self.cursor:
            return
        old, self.cursor = self.cursor, index
        self.refresh_line(old)
        self.refresh_line(index)
        self.scroll_to_region(Region(0, index, 1, 1), animate=False, force=True)
        self.post_message(self.Highlighted())

    def action_move(self, delta: int) -> None:
        self._go(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._go(self.cursor + direction * max(1, self.size.height - 1))

    def action_select(self) -> None:
        if self._rows:
            self.post_message(self.Selected())

    def on_click(self, event: Click) -> None:
        self._go(event.y + self.scroll_offset.y)
