"""What `metawsm mcp` offers an agent, without MCP: report completion, validation or a review verdict, ask a
person and wait, post to the forum, read the ticket's context. Every call carries the run, ticket, agent and
attempt of the session it runs in (METAWSM_* variables), so a stale attempt still cannot complete a newer one."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metawsm.errors import UsageError

_CONTEXT = ("METAWSM_HOME", "METAWSM_RUN", "METAWSM_TICKET", "METAWSM_AGENT", "METAWSM_ATTEMPT")


@dataclass(frozen=True)
class AgentSession:
    home: Path
    run: str
    ticket: str
    agent: str  # the agent's name in the plan
    attempt: int
    cwd: Path
    server: str | None = None  # METAWSM_SERVER: report through this daemon instead of the repository's files
    token: str | None = field(default=None, repr=False)  # METAWSM_TOKEN (never shown)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> AgentSession:
        env = os.environ if env is None else env
        server = (env.get("METAWSM_SERVER") or "").strip() or None
        needed = _CONTEXT[1:] if server else _CONTEXT  # through a daemon, the repository may be elsewhere
        missing = [name for name in needed if not (env.get(name) or "").strip()]
        if missing:
            raise UsageError(f"{', '.join(missing)} not set: `metawsm mcp` serves an agent session metawsm started",
                             hint="metawsm configures it for the agents it starts; it is not for manual use")
        try:
            attempt = int(env["METAWSM_ATTEMPT"])
        except ValueError as exc:
            raise UsageError(f"METAWSM_ATTEMPT {env['METAWSM_ATTEMPT'][:40]!r} is not a number") from exc
        return cls(Path(env.get("METAWSM_HOME") or "."), env["METAWSM_RUN"], env["METAWSM_TICKET"],
                   env["METAWSM_AGENT"], attempt, cwd or Path.cwd(), server, env.get("METAWSM_TOKEN") or None)

    @property
    def key(self) -> str:
        from metawsm.forum.ids import agent_key

        return agent_key(self.ticket, self.agent)


class AgentTools:
    def __init__(self, session: AgentSession) -> None:
        self.session = session
        self.forum: Any
        if session.server:  # the agent does not share the repository's files: everything goes to the daemon
            from metawsm.forum.remote import RemoteForum

            self.forum = RemoteForum(session.server, token=session.token)
        else:
            from metawsm.config.project import Project
            from metawsm.forum import Forum

            self.forum = Forum(Project(session.home).forum_dir)

    def _signal(self, control_type: str, **fields: Any) -> Any:
        s = self.session
        event = self.forum.signal(s.run, s.ticket, s.key, s.attempt, control_type, actor_type="agent",
                                  actor_name=s.key, **fields)
        from metawsm.kick import kick_reconcile

        kick_reconcile(s.run)
        return event

    def completion(self, summary: str) -> str:
        event = self._signal("completion", summary=summary or None)
        return f"completion recorded for attempt {self.session.attempt} (#{event.sequence} in {event.thread_id})"

    def validation(self, status: str, done_criteria: str, sha: str | None = None) -> str:
        sha = (sha or self._git("rev-parse", "HEAD")).strip().lower()
        event = self._signal("validation", status=status.strip().lower(), done_criteria=done_criteria, sha=sha)
        return f"validation {status} recorded for {sha[:12]} (#{event.sequence})"

    def review(self, status: str, note: str = "", sha: str | None = None) -> str:
        """A reviewer's verdict (approved | changes_requested, with a note saying what to change) on `sha`
        (default: HEAD); it also completes this attempt."""
        from metawsm.forum.control import VERDICTS

        verdict = VERDICTS.get(status.strip().lower())
        if verdict is None:
            raise UsageError(f"status {status[:40]!r}: must be approved or changes_requested")
        if verdict == "changes_requested" and not note.strip():
            raise UsageError("changes_requested needs a note saying what to change")
        sha = (sha or self._git("rev-parse", "HEAD")).strip().lower()
        event = self._signal("review", status=verdict, sha=sha, note=note.strip() or None)
        return f"review {verdict} recorded for {sha[:12]} (#{event.sequence})"

    def ask(self, question: str, context: str | None = None) -> int:
        """Post the question; its sequence number (answers after it count)."""
        return int(self._signal("guidance_request", question=question, context=context).sequence)

    def answer_after(self, sequence: int) -> str | None:
        s = self.session
        state = self.forum.control_state(s.run, s.key, s.attempt)
        if state.last_answer and state.last_answer[1] > sequence:
            return str(state.last_answer[0])
        return None

    def post(self, title: str, body: str, priority: str = "normal") -> str:
        s = self.session
        thread = self.forum.open_thread(s.ticket, title, body, priority=priority, run_id=s.run, agent_name=s.key,
                                        actor_type="agent", actor_name=s.key)
        return f"posted thread {thread.thread_id}"

    def ticket_context(self) -> dict[str, Any]:
        s = self.session
        info: dict[str, Any] = {"run": s.run, "ticket": s.ticket, "agent": s.agent, "attempt": s.attempt,
                                "workspace": str(s.cwd), "branch": self._git("branch", "--show-current").strip(),
                                "head": self._git("rev-parse", "HEAD").strip()}
        root = s.home if not s.server else Path(self._git("rev-parse", "--show-toplevel").strip() or s.cwd)
        path = root / "tickets" / f"{s.ticket}.yaml"  # through a daemon: the ticket as committed in the worktree
        if path.is_file():
            import yaml

            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if isinstance(data, dict):
                info.update({k: data[k] for k in ("title", "goal", "done_criteria") if k in data})
        state = self.forum.control_state(s.run, s.key, s.attempt)
        info["pending_question"] = state.pending_question
        info["last_answer"] = state.last_answer[0] if state.last_answer else None
        info["completed"] = state.completion is not None
        return info

    def _git(self, *args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=self.session.cwd, capture_output=True, text=True, timeout=30)
        return proc.stdout if proc.returncode == 0 else ""
