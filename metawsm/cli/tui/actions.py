"""The keys of `metawsm tui`: attach, answer, message, restart, stop, iterate, close, filter, help. Each asks
what it needs in a dialog, calls the Source on the data thread, and reports the outcome as a notification."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType

from metawsm.cli.tui.app import Dashboard
from metawsm.cli.tui.modals import ConfirmScreen, HelpScreen, PromptScreen
from metawsm.cli.tui.table import AgentTable

if TYPE_CHECKING:
    from metawsm.cli.tui.model import AgentRow


class TuiApp(Dashboard):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "answer", "answer"), Binding("m", "message", "message"),
        Binding("r", "restart", "restart"), Binding("s", "stop", "stop"), Binding("i", "iterate", "iterate"),
        Binding("c", "close_ticket", "close"), Binding("slash", "filter", "filter"),
        Binding("question_mark", "help", "help"), Binding("q", "quit", "quit"),
    ]

    async def on_agent_table_selected(self, event: AgentTable.Selected) -> None:
        await self.action_attach()

    def _row(self) -> AgentRow | None:
        if len(self.screen_stack) > 1:  # a dialog is open: its keys are not the table's
            return None
        row = self.selected
        if row is None:
            self.notify("no agent selected", severity="warning")
        return row

    async def _done(self, what: str, message: str | None) -> None:
        if message is not None:
            self.notify(message, title=what, timeout=6)
            await self.refresh_board()
            self._loaded.clear()
            await self.refresh_tabs()

    async def action_attach(self) -> None:
        from textual.app import SuspendNotSupported

        row = self._row()
        if row is None:
            return
        command = await self.guarded("attach", self.source.attach_command, row)
        if command is None:
            return
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}  # attach from inside tmux
        try:
            with self.suspend():
                subprocess.run(command, env=env, check=False)
        except SuspendNotSupported:
            self.notify(f"this terminal cannot be handed over; run: {' '.join(command)}", severity="warning")
        await self.refresh_board()

    def action_answer(self) -> None:
        row = self._row()
        if row is None:
            return
        if not row.question:
            self.notify(f"{row.key} waits on no question", severity="warning")
            return

        async def send(text: str | None) -> None:
            if text:
                await self._done("answer", await self.guarded("answer", self.source.answer, row, text))

        self.push_screen(PromptScreen(f"answer {row.key}", f"? {row.question}", "your answer"), send)

    def action_message(self) -> None:
        row = self._row()
        if row is None:
            return

        async def send(text: str | None) -> None:
            if text:
                await self._done("message", await self.guarded("message", self.source.message, row, text))

        self.push_screen(PromptScreen(f"message {row.key}", "pasted into its session and posted in its thread",
                                      "your message"), send)

    async def action_restart(self) -> None:
        row = self._row()
        if row is not None:
            await self._done("restart", await self.guarded("restart", self.source.restart, row))

    def action_stop(self) -> None:
        row = self._row()
        if row is None:
            return

        async def decided(yes: bool | None) -> None:
            if yes:
                await self._done("stop", await self.guarded("stop", self.source.stop, row))

        self.push_screen(ConfirmScreen(f"stop {row.key}?", f"its session ({row.session}) is ended; the worktree "
                                       "stays. `metawsm resume --ticket " f"{row.ticket}` goes on."), decided)

    def action_iterate(self) -> None:
        row = self._row()
        if row is None:
            return

        async def send(text: str | None) -> None:
            if text:
                await self._done("iterate", await self.guarded("iterate", self.source.iterate, row, text))

        self.push_screen(PromptScreen(f"iterate {row.ticket}", "a new review round: every agent of the ticket "
                                      "restarts with this feedback", "review feedback"), send)

    async def action_close_ticket(self) -> None:
        row = self._row()
        if row is None:
            return
        preview = await self.guarded("close (dry run)", self.source.close_ticket, row, dry_run=True)
        if preview is None:
            return

        async def decided(yes: bool | None) -> None:
            if yes:
                await self._done("close", await self.guarded("close", self.source.close_ticket, row, dry_run=False))

        self.push_screen(ConfirmScreen(f"close {row.ticket}? (dry run below)", preview), decided)

    def action_filter(self) -> None:
        from textual.widgets import Input

        if len(self.screen_stack) > 1:
            return
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

