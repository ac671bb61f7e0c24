"""`metawsm tui`: the Textual application's layout, refresh loops and tabs (`Dashboard`). The keys' actions
are in tui/actions.py (`TuiApp`), the data in tui/local.py or tui/remote.py (called on one data thread, never
on the UI's).

Refresh is bounded: the board every ``interval`` seconds; the preview of the ONE selected agent every
``preview_interval`` seconds, only while the screen tab is showing, redrawn only when the pane changed; the
other tabs load when shown or when the selection changes under them. A refresh still running is never
started twice."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from textual.app import App, ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Header, Input, Static, TabbedContent, TabPane

from metawsm.cli.tui.model import AgentRow, Board, matching
from metawsm.cli.tui.source import Source
from metawsm.cli.tui.table import AgentTable, header
from metawsm.cli.tui.widgets import Preview, ansi_text, thread_text
from metawsm.errors import MetawsmError
from metawsm.output import age

log = logging.getLogger(__name__)
T = TypeVar("T")
TABS = ("screen", "diff", "thread", "checks", "transcript")

CSS = """
#top { height: 2fr; min-height: 8; }
#agents { height: 1fr; }
#columns { height: 1; background: $boost; }
#detail { height: auto; max-height: 4; color: $text-muted; }
#filter { display: none; }
#filter.shown { display: block; }
#right { height: 3fr; }
.pane-text { width: auto; }
#preview { width: auto; height: auto; }
"""


class Dashboard(App[None]):
    TITLE = "metawsm tui"
    ENABLE_COMMAND_PALETTE = False  # the footer has room for every key instead
    CSS = CSS

    def __init__(self, source: Source, *, interval: float = 2.0, preview_interval: float = 0.5) -> None:
        super().__init__()
        self.source = source
        self.interval, self.preview_interval = interval, preview_interval
        self.board = Board()
        self.filter_text = ""
        self.refreshes = 0  # board refreshes done (tests and the bench wait on it)
        self.previews = 0  # preview redraws done
        self._data = ThreadPoolExecutor(1, thread_name_prefix="metawsm-tui-data")
        self._busy: set[str] = set()
        self._loaded: dict[str, str | None] = {}  # tab -> the row ident it shows
        self._detail_text = ""

    # -- layout -------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="top"):
            yield Input(placeholder="filter: words that must all match", id="filter")
            yield Static(header(), id="columns")
            yield AgentTable(id="agents")
            yield Static(id="detail")
        with TabbedContent(id="right"):
            for tab in TABS:
                with TabPane(tab, id=f"tab-{tab}"), VerticalScroll():
                    yield Preview(id="preview") if tab == "screen" else Static(id=f"text-{tab}", classes="pane-text")
        yield Footer()

    async def on_mount(self) -> None:
        # the widgets, found once: later queries would search whichever screen is on top (a dialog)
        self.table, self.preview = self.query_one(AgentTable), self.query_one(Preview)
        self.detail, self.tabs = self.query_one("#detail", Static), self.query_one(TabbedContent)
        self.texts = {tab: self.query_one(f"#text-{tab}", Static) for tab in TABS[1:]}
        self.sub_title = self.source.where
        self.table.focus()
        await self.refresh_board()
        self.set_interval(self.interval, self.refresh_board)
        self.set_interval(self.preview_interval, self.refresh_preview)

    async def on_unmount(self) -> None:
        self._data.submit(self.source.shutdown)
        self._data.shutdown(wait=False, cancel_futures=False)

    # -- data ---------------------------------------------------------------------------------------------
    async def fetch(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the data thread (the Source's SQLite connections live there)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._data, functools.partial(fn, *args, **kwargs))

    async def guarded(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``fetch``, with a failure shown as a notification instead of ending the TUI."""
        try:
            return await self.fetch(fn, *args, **kwargs)
        except MetawsmError as exc:
            self.notify(exc.message + (f"\n{exc.hint}" if exc.hint else ""), title=what, severity="error",
                        timeout=8)
        except Exception as exc:
            log.exception("metawsm tui: %s failed", what)
            self.notify(f"{type(exc).__name__}: {exc}", title=f"{what} failed", severity="error", timeout=8)
        return None

    @property
    def selected(self) -> AgentRow | None:
        return self.board.find(self.table.selected_ident())

    def visible_rows(self) -> list[AgentRow]:
        return matching(self.board.rows, self.filter_text) if self.filter_text else self.board.rows

    async def refresh_board(self) -> None:
        if "board" in self._busy:
            return
        self._busy.add("board")
        try:
            board = await self.guarded("refresh", self.source.board)
            if board is not None:
                self.board = board
                self.show_board()
                self.refreshes += 1
        finally:
            self._busy.discard("board")

    def show_board(self) -> None:
        rows = self.visible_rows()
        self.table.show(rows)
        waiting = sum(1 for r in self.board.rows if r.question)
        self.title = (f"metawsm tui · {self.board.runs} run{'s' if self.board.runs != 1 else ''} · "
                      f"{len(self.board.rows)} agents" + (f" · {waiting} waiting for an answer" if waiting else "")
                      + (f" · filter: {self.filter_text}" if self.filter_text else ""))
        self.show_detail()

    def show_detail(self) -> None:
        row = self.selected
        detail = self.detail
        if row is None:
            detail.update("no agents" + (" match the filter" if self.filter_text and self.board.rows else ""))
            self._detail_text = ""
            return
        lines = [f"{row.key} · run {row.run_id} ({row.plan}, {row.run_status}) · session {row.session}",
                 f"{row.status} · health {row.health or '-'}: {row.health_reason} · last output {age(row.activity_age)}"
                 f" · gate {row.gate} · usage {row.usage}"]
        if row.question:
            lines.append(f"? asks: {row.question}  (a answers)")
        text = "\n".join(lines)
        if text != self._detail_text:  # unchanged text: no repaint, and a layout pass only for a new line count
            detail.update(text, layout=text.count("\n") != self._detail_text.count("\n"))
            self._detail_text = text

    async def refresh_preview(self, *, force: bool = False) -> None:
        if "preview" in self._busy or self.tabs.active != "tab-screen":
            return
        self._busy.add("preview")
        try:
            row = self.selected
            screen = None if row is None else await self.guarded("screen", self.source.screen, row)
            if (row is self.selected or force) and self.preview.show(row, screen):
                self.previews += 1
        finally:
            self._busy.discard("preview")

    async def load_tab(self, tab: str) -> None:
        """Fill ``tab`` (diff, thread, checks, transcript) for the selected agent."""
        row = self.selected
        widget = self.texts[tab]
        if row is None:
            widget.update("")
            return
        self._loaded[tab] = row.ident
        widget.update(f"loading the {tab} of {row.key}…")
        fn = {"diff": self.source.diff, "thread": self.source.thread, "checks": self.source.checks,
              "transcript": self.source.transcript}[tab]
        value: Any = await self.guarded(tab, fn, row)
        if value is None or self._loaded.get(tab) != row.ident:
            return
        if tab == "thread":
            widget.update(thread_text(value))
        elif tab == "checks":
            widget.update("\n".join(value))
        else:
            widget.update(ansi_text(value))

    async def refresh_tabs(self) -> None:
        active = self.tabs.active.removeprefix("tab-")
        if active == "screen":
            await self.refresh_preview(force=True)
        elif self._loaded.get(active) != (self.selected.ident if self.selected else None):
            await self.load_tab(active)

    # -- events -------------------------------------------------------------------------------------------
    async def on_agent_table_highlighted(self, event: AgentTable.Highlighted) -> None:
        self.show_detail()
        await self.refresh_tabs()

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        await self.refresh_tabs()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value.strip()
            self.show_board()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value.strip():
                event.input.remove_class("shown")
            self.table.focus()
