"""Control-signal operations of the Forum (a mixin): one control thread per (run, agent), signals
carrying an attempt number, the reduced control state, and waiting for an answer (`metawsm ask`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from metawsm.errors import UsageError, WaitTimeout
from metawsm.forum import control, ids, queries
from metawsm.forum import models as m
from metawsm.forum import threads as rules
from metawsm.forum.models import ControlState, Event

if TYPE_CHECKING:
    from collections.abc import Callable

CONTROL_TITLE = "Control thread for {agent} in {run}"
CONTROL_BODY = "System-managed control thread for forum-first run lifecycle signals."


class SignalsMixin:
    if TYPE_CHECKING:  # provided by Forum
        max_body_bytes: int

        def _replay(self, conn: Any, key: str | None) -> list[Event] | None: ...
        def _commit(self, build: Callable[[Any], list[Any]]) -> list[Event]: ...
        def _with_index(self, fn: Callable[[Any], Any]) -> Any: ...

    @staticmethod
    def control_thread_id(run_id: str, agent_name: str) -> str:
        return ids.control_thread_id(run_id, agent_name)

    def signal(self, run_id: str, ticket: str, agent_name: str, attempt: int, control_type: str, *,
               question: str | None = None, context: str | None = None, answer: str | None = None,
               summary: str | None = None, status: str | None = None, done_criteria: str | None = None,
               sha: str | None = None, output_tail: str | None = None, note: str | None = None,
               actor_type: str = "agent",
               actor_name: str | None = None, idempotency_key: str | None = None) -> Event:
        """Record a control signal in the (run, agent) control thread, opening it if needed."""
        payload = control.build(control_type, run_id, agent_name, attempt, question=question,
                                context=context, answer=answer, summary=summary, status=status,
                                done_criteria=done_criteria, sha=sha, output_tail=output_tail, note=note)
        for name in ("question", "context", "answer", "summary", "output_tail", "note"):
            if payload.get(name):  # question and answer are checked non-blank by control.validate
                rules.check_body(payload[name], self.max_body_bytes, what=name, required=False)
        actor = rules.check_actor(actor_type)
        who = {"actor_type": actor, "actor_name": actor_name or agent_name}
        tid = ids.control_thread_id(run_id, agent_name)

        def build(conn: Any) -> list[Any]:
            replay = self._replay(conn, idempotency_key)
            if replay:
                return replay
            t = queries.raw_thread(conn, tid)
            out = []
            if t is None:
                if not (ticket or "").strip():
                    raise UsageError("a ticket is required to open the control thread of "
                                     f"{agent_name} in {run_id} (METAWSM_TICKET or --ticket)")
                t = {"thread_id": tid, "ticket": ticket, "run_id": run_id, "agent_name": agent_name,
                     "state": "new"}
                body = {"title": CONTROL_TITLE.format(agent=agent_name, run=run_id), "body": CONTROL_BODY,
                        "priority": "normal"}
                out.append(rules.envelope(m.OPENED, t, body, actor_type="system", actor_name="metawsm"))
            sig = rules.envelope(m.CONTROL, t, payload, idempotency_key=idempotency_key, **who)
            out.append(sig)
            if control_type == "guidance_request" and t["state"] not in ("waiting_human", "closed"):
                out.append(rules.chain(sig, m.STATE_CHANGED, t,
                                       {"from_state": t["state"], "to_state": "waiting_human"}, **who))
            return out

        events = self._commit(build)
        return next(e for e in events if e.event_type == m.CONTROL)

    def control_state(self, run_id: str, agent_name: str, attempt: int) -> ControlState:
        """Pending question, completion and last validation of exactly this attempt."""
        return self._with_index(lambda c: queries.control_state(c, run_id, agent_name, attempt))

    def latest_attempt(self, run_id: str, agent_name: str) -> int | None:
        return self._with_index(lambda c: queries.latest_attempt(c, run_id, agent_name))

    def wait_for_answer(self, run_id: str, agent_name: str, attempt: int, after_sequence: int, *,
                        timeout: float | None = None, poll: float = 0.2) -> tuple[str, int]:
        """Block until a guidance_answer newer than `after_sequence` arrives for this attempt."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self.control_state(run_id, agent_name, attempt)
            if state.last_answer and state.last_answer[1] > after_sequence:
                return state.last_answer
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"no answer for {agent_name} in {run_id} (attempt {attempt}) "
                                  f"within {timeout:g}s",
                                  hint=f"answer it with `metawsm forum answer "
                                       f"{ids.control_thread_id(run_id, agent_name)} --body ...`")
            time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))
