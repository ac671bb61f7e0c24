"""`metawsm tui --server URL`: the same board from a `metawsm serve` daemon over HTTP (runs, forum threads,
answers, restarts, the gate, and agents' screens where the daemon serves them). What the API does not offer
(diffs, transcripts, per-agent stop, iterate, close, attach — they need the repository
and its tmux server) is refused with the local command to use instead."""

from __future__ import annotations

import urllib.parse
from typing import Any

from metawsm.cli.tui.model import AgentRow, Board, board_of
from metawsm.cli.tui.source import ThreadLine, check_text, gate_lines, thread_lines
from metawsm.errors import MetawsmError, NotFoundError, UsageError
from metawsm.forum.remote import RemoteForum
from metawsm.runtime.base import Screen


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


class RemoteSource:
    def __init__(self, url: str, *, run_id: str | None = None, ticket: str | None = None, actor: str = "human") -> None:
        self.api = RemoteForum(url)
        self.where = self.api.url
        self.run_id, self.ticket = run_id, ticket
        self.actor = {"actor_type": "human", "actor_name": actor}

    def _runs(self, method: str, path: str, body: dict[str, Any] | None = None,
              query: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.api._call(method, path, body, query, api="/api/v1")

    @staticmethod
    def _refuse(what: str, instead: str) -> MetawsmError:
        return UsageError(f"{what} is not available over --server", hint=f"next to the repository: {instead}")

    # -- reading ------------------------------------------------------------------------------------------
    def board(self) -> Board:
        if self.run_id:
            snaps = [self._runs("GET", f"/runs/{_q(self.run_id)}")["run"]]
        else:
            snaps = self._runs("GET", "/runs", query={"active": "1", "ticket": self.ticket})["runs"]
        return board_of(snaps, ticket=self.ticket)

    def screen(self, row: AgentRow) -> Screen | None:
        path = f"/runs/{_q(row.run_id)}/agents/{_q(row.ticket)}/{_q(row.agent)}/screen"
        try:
            data = self._runs("GET", path)
        except NotFoundError:
            return None
        s = data.get("screen", data)
        return Screen(row.session, str(s.get("text", "")), int(s.get("width") or 0), int(s.get("height") or 0),
                      int(s.get("cursor_x") or 0), int(s.get("cursor_y") or 0))

    def diff(self, row: AgentRow) -> str:
        raise self._refuse("the diff", f"metawsm diff {row.ticket}")

    def thread(self, row: AgentRow) -> list[ThreadLine]:
        from metawsm.forum.ids import control_thread_id

        try:
            _, _, events = self.api.get_thread(control_thread_id(row.run_id, row.key))
        except NotFoundError:
            return []
        return thread_lines(events)

    def checks(self, row: AgentRow) -> list[str]:
        gates = self._runs("GET", "/gate", query={"ticket": row.ticket, "run_id": row.run_id})["gates"]
        return gate_lines(gates[0] if gates else None)

    def transcript(self, row: AgentRow) -> str:
        raise self._refuse("the transcript", f"metawsm logs {row.key} --run {row.run_id}")

    def attach_command(self, row: AgentRow) -> list[str]:
        raise self._refuse("attaching", f"metawsm attach {row.key} --run {row.run_id}")

    # -- acting -------------------------------------------------------------------------------------------
    def answer(self, row: AgentRow, text: str) -> str:
        if not row.question_thread:
            raise UsageError(f"{row.key} waits on no question")
        t = self.api.answer(row.question_thread, check_text(text, "answer"), **self.actor)
        return f"answered {t.thread_id}"

    def message(self, row: AgentRow, text: str) -> str:
        path = f"/runs/{_q(row.run_id)}/agents/{_q(row.ticket)}/{_q(row.agent)}/message"
        sent = self._runs("POST", path, {"text": check_text(text, "message"), **self.actor})["message"]
        return f"sent to {sent['agent']} and posted in {sent['thread_id']}"

    def restart(self, row: AgentRow) -> str:
        data = self._runs("POST", f"/runs/{_q(row.run_id)}/restart", {"agent": row.key})
        return "; ".join(data["result"]["actions"]) or f"{row.key}: nothing to restart"

    def stop(self, row: AgentRow) -> str:
        raise self._refuse("stopping one agent", f"metawsm stop --agent {row.key} --run {row.run_id}")

    def iterate(self, row: AgentRow, feedback: str) -> str:
        raise self._refuse("iterate", f"metawsm iterate {row.ticket} --feedback …")

    def close_ticket(self, row: AgentRow, *, dry_run: bool) -> str:
        raise self._refuse("closing a ticket", f"metawsm close --ticket {row.ticket}")

    def shutdown(self) -> None:
        return None
