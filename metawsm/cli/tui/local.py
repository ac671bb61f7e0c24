"""`metawsm tui` on the local repository: the same core calls as `status`, `diff`, `gate`, `logs`, `forum
answer`, `restart`, `stop`, `iterate` and `close`, through one Engine. Every method runs on the TUI's one data
thread (SQLite connections stay on the thread that opened them)."""

from __future__ import annotations

import contextlib
import getpass
import os
from typing import Any

from metawsm.cli.tui.model import AgentRow, Board, board_of
from metawsm.cli.tui.source import ThreadLine, check_text, gate_lines, thread_lines
from metawsm.runtime.base import Screen


def _me() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "human"


class LocalSource:
    def __init__(self, project: Any, *, run_id: str | None = None, ticket: str | None = None) -> None:
        from metawsm.engine.context import Engine

        self.eng = Engine.open(project)
        self.where = str(project.root)
        self.run_id, self.ticket = run_id, ticket
        self.actor = {"actor_type": "human", "actor_name": _me()}
        # Ask the Runtime once now, before the dashboard starts: its tmux library reads sys.stdout.encoding when
        # first imported, and Textual replaces sys.stdout with an object that has none.
        from metawsm.errors import ExternalError

        with contextlib.suppress(ExternalError):  # tmux missing or failing: the first refresh reports it
            self.eng.runtime.sessions()

    # -- reading ------------------------------------------------------------------------------------------
    def board(self) -> Board:
        from metawsm.engine.selection import select_runs
        from metawsm.engine.snapshot import build_snapshots

        if not self.eng.has_state():
            return Board()
        runs = select_runs(self.eng, run_id=self.run_id, ticket=self.ticket)
        return board_of((s.to_json() for s in build_snapshots(self.eng, runs)), ticket=self.ticket)

    def screen(self, row: AgentRow) -> Screen | None:
        from metawsm.errors import ExternalError

        try:
            return self.eng.runtime.screen(row.session)
        except ExternalError:
            return None  # the session is gone (stopped, closed): the preview says so

    def _run(self, row: AgentRow) -> Any:
        return self.eng.store.get_run(row.run_id)

    def diff(self, row: AgentRow) -> str:
        from metawsm.cli.diff import colourize, render
        from metawsm.engine.ticketdiff import ticket_diff
        from metawsm.output import escape_controls

        return colourize(escape_controls(render([ticket_diff(self.eng.store, self._run(row), row.ticket)],
                                                stat_only=False)))

    def thread(self, row: AgentRow) -> list[ThreadLine]:
        from metawsm.errors import NotFoundError
        from metawsm.forum.ids import control_thread_id

        try:
            _, _, events = self.eng.forum.get_thread(control_thread_id(row.run_id, row.key))
        except NotFoundError:
            return []
        return thread_lines(events)

    def checks(self, row: AgentRow) -> list[str]:
        from metawsm.engine.kinds.check import log_path_for
        from metawsm.gate.evaluate import evaluate

        run = self._run(row)
        gate = None if row.ticket in self.eng.store.closed_tickets(run.run_id) else \
            evaluate(self.eng, run, row.ticket).to_json()
        log = log_path_for(self.eng.project.logs_dir, run.run_id, row.ticket)
        return gate_lines(gate, log.read_text(encoding="utf-8", errors="replace") if log.is_file() else "")

    def transcript(self, row: AgentRow) -> str:
        from metawsm.agents.transcripts import attempts, plain, transcript_path
        from metawsm.engine.remotelogs import sync_transcripts

        sync_transcripts(self.eng, row.run_id, ticket=row.ticket, agent=row.agent)  # an ssh agent's, from its host
        logs = self.eng.project.logs_dir
        known = attempts(logs, row.run_id, row.ticket, row.agent)
        if not known:
            return f"no transcript of {row.key} yet"
        parts = []
        for attempt in known[-3:]:
            path = transcript_path(logs, row.run_id, row.ticket, row.agent, attempt)
            text = plain(path.read_text(encoding="utf-8", errors="replace"))
            parts.append(f"── attempt {attempt} ({path}) ──\n" + "\n".join(text.splitlines()[-400:]))
        return "\n\n".join(parts)

    def attach_command(self, row: AgentRow) -> list[str]:
        return self.eng.runtime.attach_command(row.session)

    # -- acting -------------------------------------------------------------------------------------------
    def answer(self, row: AgentRow, text: str) -> str:
        from metawsm.errors import UsageError

        if not row.question_thread:
            raise UsageError(f"{row.key} waits on no question")
        t = self.eng.forum.answer(row.question_thread, check_text(text, "answer"), **self.actor)
        return f"answered {t.thread_id}"

    def message(self, row: AgentRow, text: str) -> str:
        from metawsm.engine.screens import find_agent, send_message

        agent = find_agent(self.eng, row.run_id, row.ticket, row.agent)
        sent = send_message(self.eng, agent, check_text(text, "message"), **self.actor)
        return f"sent to {sent.agent} and posted in {sent.thread_id}"

    def restart(self, row: AgentRow) -> str:
        from metawsm.engine.lifecycle import restart_agents

        result = restart_agents(self.eng, self._run(row), agent=row.key)
        return "; ".join(result.actions) or f"{row.key}: nothing to restart"

    def stop(self, row: AgentRow) -> str:
        from metawsm.engine.lifecycle import stop_run

        result = stop_run(self.eng, self._run(row), agent=row.key)
        return "; ".join(result.actions) or f"{row.key}: nothing was running"

    def iterate(self, row: AgentRow, feedback: str) -> str:
        from metawsm.engine.iterate import check_feedback, iterate

        res = iterate(self.eng, self._run(row), row.ticket, check_feedback(feedback))
        return f"{row.ticket}: started review round {res.round} for {', '.join(res.agents)}"

    def close_ticket(self, row: AgentRow, *, dry_run: bool) -> str:
        from metawsm.engine.close import close_ticket

        c = close_ticket(self.eng, self._run(row), row.ticket, dry_run=dry_run)
        lines = [f"{c.ticket} ({c.run_id})" + (" [dry run]" if c.dry_run else "")
                 + (f": merged at {c.merged_sha[:12]}" if c.merged_sha else "")]
        lines += [f"  commit {line}" for line in c.commits] + [f"  {d}" for d in c.diffstat]
        lines += [f"  {a}" for a in c.actions] + [f"  warning: {w}" for w in c.warnings]
        return "\n".join(lines)

    def shutdown(self) -> None:
        self.eng.close()
