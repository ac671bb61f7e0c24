"""`--server URL` / METAWSM_SERVER: the forum commands, `signal`, `ask` and the MCP tools sent to a daemon over HTTP.

`RemoteForum` has the method names of `Forum` and returns the same records, so every command prints
exactly what it prints locally. Standard library only (urllib): `signal` runs inside agents and must
start fast. The token, when the daemon needs one, comes from METAWSM_TOKEN (the daemon's token, or the
agent's own token that metawsm gives an agent reporting through the daemon)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from metawsm.errors import ForumError, MetawsmError, NotFoundError, StateError, UsageError, WaitTimeout
from metawsm.forum.models import ControlState, Event, Post, Seen, StatRow, Thread

TIMEOUT = 15.0
ANSWER_POLL = 0.5  # seconds between two questions to the daemon while `ask` waits
ERRORS: dict[int, type[MetawsmError]] = {400: UsageError, 404: NotFoundError, 409: StateError, 504: WaitTimeout}
BY_CODE: dict[str, type[MetawsmError]] = {"not_found": NotFoundError, "illegal_transition": StateError,
                                          "forum_error": ForumError, "timeout": WaitTimeout}


class RemoteForum:
    def __init__(self, url: str, *, token: str | None = None, timeout: float = TIMEOUT) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--server {url!r}: expected an http:// or https:// URL")
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("METAWSM_TOKEN")
        self.timeout = timeout

    # -- transport ----------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              query: dict[str, Any] | None = None, *, api: str = "/api/v1/forum") -> dict[str, Any]:
        url = f"{self.url}{api}{path}"
        params = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            raise _decode_error(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise MetawsmError(f"cannot reach the metawsm server at {self.url}: {reason}",
                               hint="is `metawsm serve` running there? (--server / METAWSM_SERVER)") from exc

    def _thread(self, path: str, body: dict[str, Any]) -> Thread:
        return Thread(**self._call("POST", path, body)["thread"])

    @staticmethod
    def _actor(actor_type: str, actor_name: str) -> dict[str, str]:
        return {"actor_type": actor_type, "actor_name": actor_name}

    # -- writes -----------------------------------------------------------------------------
    def open_thread(self, ticket: str, title: str, body: str, *, priority: str = "normal",
                    run_id: str | None = None, agent_name: str | None = None, actor_type: str,
                    actor_name: str, thread_id: str | None = None, idempotency_key: str | None = None) -> Thread:
        return self._thread("/threads", {"ticket": ticket, "title": title, "body": body, "priority": priority,
                                         "run_id": run_id, "agent_name": agent_name, "thread_id": thread_id,
                                         "idempotency_key": idempotency_key, **self._actor(actor_type, actor_name)})

    def post(self, thread_id: str, body: str, *, actor_type: str, actor_name: str,
             idempotency_key: str | None = None) -> Thread:
        return self._thread(f"/threads/{_q(thread_id)}/posts", {"body": body, "idempotency_key": idempotency_key,
                                                                **self._actor(actor_type, actor_name)})

    def answer(self, thread_id: str, body: str, *, actor_type: str, actor_name: str) -> Thread:
        return self._thread(f"/threads/{_q(thread_id)}/answer", {"body": body, **self._actor(actor_type, actor_name)})

    def assign(self, thread_id: str, assignee_type: str, assignee_name: str, *, note: str = "",
               actor_type: str, actor_name: str) -> Thread:
        return self._thread(f"/threads/{_q(thread_id)}/assign", {
            "assignee_type": assignee_type, "assignee_name": assignee_name, "assignment_note": note,
            **self._actor(actor_type, actor_name)})

    def set_state(self, thread_id: str, state: str, *, actor_type: str, actor_name: str) -> Thread:
        return self._thread(f"/threads/{_q(thread_id)}/state", {"to_state": state,
                                                                **self._actor(actor_type, actor_name)})

    def set_priority(self, thread_id: str, priority: str, *, actor_type: str, actor_name: str) -> Thread:
        return self._thread(f"/threads/{_q(thread_id)}/priority", {"priority": priority,
                                                                   **self._actor(actor_type, actor_name)})

    def close(self, thread_id: str, *, actor_type: str, actor_name: str) -> Thread:
        return self._thread(f"/threads/{_q(thread_id)}/close", self._actor(actor_type, actor_name))

    def mark_seen(self, thread_id: str, viewer_type: str, viewer_id: str, sequence: int = 0) -> Seen:
        data = self._call("POST", f"/threads/{_q(thread_id)}/seen", {
            "viewer_type": viewer_type, "viewer_id": viewer_id, "last_seen_event_sequence": sequence})
        return Seen(**data["seen"])

    def signal(self, run_id: str, ticket: str, agent_name: str, attempt: int, control_type: str, *,
               actor_type: str = "agent", actor_name: str | None = None, idempotency_key: str | None = None,
               **fields: Any) -> Event:
        from metawsm.forum import control

        payload = control.build(control_type, run_id, agent_name, attempt, **fields)
        data = self._call("POST", "/control/signal", {
            "run_id": run_id, "ticket": ticket, "agent_name": agent_name, "actor_type": actor_type,
            "actor_name": actor_name, "idempotency_key": idempotency_key, "payload": payload})
        return Event.from_dict(data["event"])

    def control_state(self, run_id: str, agent_name: str, attempt: int) -> ControlState:
        data = self._call("GET", "/control/state", query={"run_id": run_id, "agent_name": agent_name,
                                                          "attempt": attempt})["control"]
        done, answer = data.get("completion"), data.get("last_answer")  # as ControlState.to_json writes them
        data["completion"] = (done["summary"], int(done["sequence"])) if done else None
        data["last_answer"] = (answer["answer"], int(answer["sequence"])) if answer else None
        return ControlState(**data)

    def wait_for_answer(self, run_id: str, agent_name: str, attempt: int, after_sequence: int, *,
                        timeout: float | None = None, poll: float = 0.2) -> tuple[str, int]:
        """As Forum.wait_for_answer, asking the daemon (at most every ANSWER_POLL seconds)."""
        import time

        from metawsm.forum.ids import control_thread_id

        deadline = None if timeout is None else time.monotonic() + timeout
        poll = max(poll, ANSWER_POLL)
        while True:
            answer = self.control_state(run_id, agent_name, attempt).last_answer
            if answer and answer[1] > after_sequence:
                return answer
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"no answer for {agent_name} in {run_id} (attempt {attempt}) within {timeout:g}s",
                                  hint=f"answer it with `metawsm forum answer "
                                       f"{control_thread_id(run_id, agent_name)} --body ...`")
            time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))

    # -- reads ------------------------------------------------------------------------------
    def get_thread(self, thread_id: str) -> tuple[Thread, list[Post], list[Event]]:
        data = self._call("GET", f"/threads/{_q(thread_id)}")
        return (Thread(**data["thread"]), [Post(**p) for p in data["posts"]],
                [Event.from_dict(e) for e in data["events"]])

    def _threads(self, path: str, query: dict[str, Any]) -> list[Thread]:
        return [Thread(**t) for t in self._call("GET", path, query=query)["threads"]]

    def list_threads(self, **filters: Any) -> list[Thread]:
        return self._threads("/threads", filters)

    def search(self, query: str, **filters: Any) -> list[Thread]:
        return self._threads("/search", {"query": query, **filters})

    def queue(self, kind: str, **filters: Any) -> list[Thread]:
        return self._threads("/queues", {"type": kind, **filters})

    def stats(self, *, ticket: str | None = None, run_id: str | None = None) -> list[StatRow]:
        return [StatRow(**r) for r in self._call("GET", "/stats", query={"ticket": ticket, "run_id": run_id})["stats"]]

    def events(self, cursor: int = 0, limit: int = 100, ticket: str | None = None,
               run_id: str | None = None) -> tuple[list[Event], int]:
        data = self._call("GET", "/events", query={"cursor": cursor, "limit": limit, "ticket": ticket,
                                                    "run_id": run_id})
        return [Event.from_dict(e) for e in data["events"]], int(data["next_cursor"])

    def __getattr__(self, name: str) -> Any:
        def unsupported(*args: Any, **kwargs: Any) -> Any:
            raise UsageError(f"{name.replace('_', ' ')} is not available over --server",
                             hint="run this command without --server / METAWSM_SERVER, next to the repository")

        return unsupported


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _decode_error(exc: urllib.error.HTTPError) -> MetawsmError:
    try:
        err = json.loads(exc.read() or b"{}").get("error") or {}
    except (ValueError, AttributeError):
        err = {}
    message = err.get("message") or f"HTTP {exc.code} from the metawsm server"
    cls = BY_CODE.get(err.get("code", ""), ERRORS.get(exc.code, MetawsmError))
    if exc.code == 401:
        return MetawsmError(message, hint="set METAWSM_TOKEN to the daemon's token (an agent's token ends with "
                                          "its run)")
    if exc.code == 403:
        return MetawsmError(message, hint=err.get("hint"))
    error = cls(message, hint=err.get("hint"))
    if err.get("code") and err["code"] != cls.code:
        error.code = err["code"]
    return error
