"""`Forum`: the one entry point to the forum for the CLI, the engine and the server.

Every write runs under the log lock against the caught-up index: validate, build envelopes, append
(one write, one fsync), index what was written. Reads catch the index up first."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metawsm.errors import AlreadyExists, NotFoundError, UsageError
from metawsm.forum import control, ids, queries, reads
from metawsm.forum import models as m
from metawsm.forum import threads as rules
from metawsm.forum.bounds import MAX_LIMIT, check_int, check_name, check_thread_id
from metawsm.forum.index import Index
from metawsm.forum.log import EventLog
from metawsm.forum.models import Escalation, Event, Post, Seen, StatRow, Thread
from metawsm.forum.signals import SignalsMixin

Builder = Callable[[Any], list[dict[str, Any]]]
HEAL_ATTEMPTS = 3  # a database deleted under concurrent writers may need more than one rebuild


class Forum(SignalsMixin):
    def __init__(self, forum_dir: Path, *, fsync: str = "always", max_body_bytes: int = 65536,
                 sla_minutes: int = 30, docs_sync: bool = True) -> None:
        self.dir = Path(forum_dir)
        self.log = EventLog(self.dir / "events.jsonl", fsync=fsync)
        self.index = Index(self.dir.parent / "forum.db", self.log)
        self.max_body_bytes = max_body_bytes
        self.sla_minutes = sla_minutes
        self.docs_sync = docs_sync
        self._mutex = threading.RLock()

    @classmethod
    def for_project(cls, project: Any, policy: Any = None) -> Forum:
        if policy is None:
            return cls(project.forum_dir)
        f = policy.forum
        return cls(project.forum_dir, fsync=f.fsync, max_body_bytes=f.max_body_bytes,
                   sla_minutes=f.sla.escalation_minutes, docs_sync=f.docs_sync.enabled)

    def shutdown(self) -> None:
        """Release the log descriptor and the database connection."""
        self.log.close()
        self.index.close()

    # -- plumbing ---------------------------------------------------------------------------
    def _commit(self, build: Builder) -> list[Event]:
        return self._write(build)[0]

    def _commit_thread(self, build: Builder, thread_id: str | None = None) -> Thread:
        """Commit and return the thread as it is afterwards (read in the same transaction)."""
        def then(conn: Any, events: list[Event]) -> Thread | None:
            return queries.get_thread(conn, thread_id or events[0].thread_id)

        thread = self._write(build, then)[1]
        assert thread is not None
        return thread  # type: ignore[no-any-return]

    def _write(self, build: Builder, then: Callable[[Any, list[Event]], Any] | None = None, *,
               sync: bool | None = None) -> tuple[list[Event], Any]:
        """Under the log lock, in ONE index transaction: catch up, run `build` (checks + envelopes),
        append what it returns (one write, one fsync), project it, run `then(conn, events)`, commit.
        The log is written before the index commits; an index that fails after that is rebuilt."""
        with self._mutex, self.log.locked() as writer:
            for attempt in range(HEAL_ATTEMPTS):
                try:
                    conn = self.index.begin_write(writer.size)
                    try:
                        envelopes = build(conn)
                    except sqlite3.DatabaseError:
                        raise
                    except BaseException:
                        self.index.commit()  # a refused command: keep the catch-up
                        raise
                    break
                except sqlite3.DatabaseError:  # broken index: rebuild it from the log
                    self.index.rollback()
                    if attempt == HEAL_ATTEMPTS - 1:
                        raise
                    self.index.rebuild(only_if_ino=self.index._ino)
            if envelopes and isinstance(envelopes[0], Event):  # idempotent replay
                events: list[Event] = envelopes  # type: ignore[assignment]
                written: list[dict[str, Any]] = []
            else:
                written = writer.write(envelopes, sync=sync)
                events = [Event.from_dict(e) for e in written]
            try:
                if written:
                    self.index.apply_written(written, writer.size)
                result = then(conn, events) if then else None
                self.index.commit()
            except sqlite3.DatabaseError:  # the index broke under us: the log has the events
                self.index.rollback()
                self.index.rebuild(only_if_ino=self.index._ino)
                result = self._with_index(lambda c: then(c, events)) if then else None
            return events, result

    def _with_index(self, fn: Callable[[Any], Any]) -> Any:
        """Run fn(conn) on the caught-up index; a database found broken midway is rebuilt once."""
        with self._mutex:
            try:
                return fn(self.index.catch_up())
            except sqlite3.DatabaseError:
                self.index.rebuild(only_if_ino=self.index._ino)
                return fn(self.index.catch_up())

    def read(self, fn: Callable[[Any], Any]) -> Any:
        """Run a read-only `fn(conn)` (e.g. a `queries` function) on the caught-up index."""
        return self._with_index(fn)

    def append_batch(self, envelopes: list[dict[str, Any]]) -> list[Event]:
        """Append prepared envelopes (see threads.envelope) under one lock with one fsync."""
        return self._write(lambda conn: envelopes, sync=True)[0]

    def sync(self) -> None:
        """fsync the log (with `fsync: batch`, single appends are not synced one by one)."""
        self.log.sync()

    def _replay(self, conn: Any, key: str | None) -> list[Event] | None:
        if key:
            found = queries.event_by_key(conn, key)
            if found:
                return found
        return None

    # -- threads ----------------------------------------------------------------------------
    def open_thread(self, ticket: str, title: str, body: str, *, priority: str = "normal",
                    run_id: str | None = None, agent_name: str | None = None, actor_type: str,
                    actor_name: str, thread_id: str | None = None,
                    idempotency_key: str | None = None) -> Thread:
        actor = rules.check_actor(actor_type)
        prio = rules.check_priority(priority)
        if not (ticket or "").strip():
            raise UsageError("a thread needs a ticket")
        if not (title or "").strip():
            raise UsageError("a thread needs a title")
        rules.check_body(title, self.max_body_bytes, what="title")
        rules.check_body(body, self.max_body_bytes)
        tid = check_thread_id(thread_id) if thread_id is not None else ids.new_thread_id()

        def build(conn: Any) -> list[Any]:
            replay = self._replay(conn, idempotency_key)
            if replay:
                return replay
            if queries.raw_thread(conn, tid) is not None:
                raise AlreadyExists(f"forum thread {tid!r} already exists")
            head = {"thread_id": tid, "ticket": ticket, "run_id": run_id, "agent_name": agent_name}
            return [rules.envelope(m.OPENED, head, {"title": title, "body": body, "priority": prio},
                                   actor_type=actor, actor_name=actor_name, idempotency_key=idempotency_key)]

        return self._commit_thread(build)

    def post(self, thread_id: str, body: str, *, actor_type: str, actor_name: str,
             idempotency_key: str | None = None) -> Thread:
        actor = rules.check_actor(actor_type)
        rules.check_body(body, self.max_body_bytes)

        def build(conn: Any) -> list[Any]:
            replay = self._replay(conn, idempotency_key)
            if replay:
                return replay
            t = rules.require(queries.raw_thread(conn, thread_id), thread_id)
            rules.require_open(t, "post")
            return [rules.envelope(m.POSTED, t, {"body": body}, actor_type=actor, actor_name=actor_name,
                                   idempotency_key=idempotency_key)]

        return self._commit_thread(build, thread_id)

    def answer(self, thread_id: str, body: str, *, actor_type: str, actor_name: str) -> Thread:
        """Post `body` and move the thread to answered; on a control thread also record a
        guidance_answer for the agent's current attempt."""
        actor = rules.check_actor(actor_type)
        rules.check_body(body, self.max_body_bytes)

        def build(conn: Any) -> list[dict[str, Any]]:
            t = rules.require(queries.raw_thread(conn, thread_id), thread_id)
            rules.require_open(t, "answer")
            rules.check_transition(t, "answered")
            who = {"actor_type": actor, "actor_name": actor_name}
            first = rules.envelope(m.POSTED, t, {"body": body}, **who)
            out = [first]
            if t["is_control"] and t["run_id"] and t["agent_name"]:
                attempt = queries.latest_attempt(conn, t["run_id"], t["agent_name"]) or 1
                payload = control.build("guidance_answer", t["run_id"], t["agent_name"], attempt, answer=body)
                out.append(rules.chain(first, m.CONTROL, t, payload, **who))
            if t["state"] != "answered":
                out.append(rules.chain(first, m.STATE_CHANGED, t,
                                       {"from_state": t["state"], "to_state": "answered"}, **who))
            if self.docs_sync:
                posts_added = 2 if len(out) > 1 and out[1]["event_type"] == m.CONTROL else 1
                out.append(rules.docs_sync(first, t, "answered", "answered", posts_added, first["occurred_at"]))
            return out

        return self._commit_thread(build, thread_id)

    def assign(self, thread_id: str, assignee_type: str, assignee_name: str, *, note: str = "",
               actor_type: str, actor_name: str) -> Thread:
        actor = rules.check_actor(actor_type)
        kind = rules.check_actor(assignee_type)
        if not (assignee_name or "").strip():
            raise UsageError("an assignment needs an assignee name")

        def build(conn: Any) -> list[dict[str, Any]]:
            t = rules.require(queries.raw_thread(conn, thread_id), thread_id)
            rules.require_open(t, "assign it")
            payload = {"from_assignee_type": t["assignee_type"] or "", "from_assignee_name":
                       t["assignee_name"] or "", "to_assignee_type": kind, "to_assignee_name": assignee_name,
                       "note": note}
            return [rules.envelope(m.ASSIGNED, t, payload, actor_type=actor, actor_name=actor_name)]

        return self._commit_thread(build, thread_id)

    def set_state(self, thread_id: str, state: str, *, actor_type: str, actor_name: str) -> Thread:
        to = rules.check_state(state)
        if to == "closed":
            return self.close(thread_id, actor_type=actor_type, actor_name=actor_name)
        actor = rules.check_actor(actor_type)

        def build(conn: Any) -> list[dict[str, Any]]:
            t = rules.require(queries.raw_thread(conn, thread_id), thread_id)
            rules.check_transition(t, to)
            if t["state"] == to:
                return []
            return [rules.envelope(m.STATE_CHANGED, t, {"from_state": t["state"], "to_state": to},
                                   actor_type=actor, actor_name=actor_name)]

        return self._commit_thread(build, thread_id)

    def set_priority(self, thread_id: str, priority: str, *, actor_type: str, actor_name: str) -> Thread:
        prio = rules.check_priority(priority)
        actor = rules.check_actor(actor_type)

        def build(conn: Any) -> list[dict[str, Any]]:
            t = rules.require(queries.raw_thread(conn, thread_id), thread_id)
            rules.require_open(t, "change its priority")
            if t["priority"] == prio:
                return []
            return [rules.envelope(m.PRIORITY_CHANGED, t, {"from_priority": t["priority"], "to_priority": prio},
                                   actor_type=actor, actor_name=actor_name)]

        return self._commit_thread(build, thread_id)

    def close(self, thread_id: str, *, actor_type: str, actor_name: str) -> Thread:
        actor = rules.check_actor(actor_type)

        def build(conn: Any) -> list[dict[str, Any]]:
            t = rules.require(queries.raw_thread(conn, thread_id), thread_id)
            if t["state"] == "closed":
                return []  # closing a closed thread is a no-op
            first = rules.envelope(m.CLOSED, t, {"from_state": t["state"], "to_state": "closed"},
                                   actor_type=actor, actor_name=actor_name)
            out = [first]
            if self.docs_sync:
                out.append(rules.docs_sync(first, t, "closed", "closed", 0, first["occurred_at"]))
            return out

        return self._commit_thread(build, thread_id)

    def mark_seen(self, thread_id: str, viewer_type: str, viewer_id: str, sequence: int = 0) -> Seen:
        """Raise the viewer's read mark (never lowers it); sequence <= 0 means the latest event."""
        kind = (viewer_type or "").strip().lower()
        if kind not in m.VIEWER_TYPES:
            raise UsageError(f"viewer type {viewer_type!r} is not one of {', '.join(m.VIEWER_TYPES)}")
        if not (viewer_id or "").strip():
            raise UsageError("a viewer id is required")
        check_name(viewer_id, "viewer_id")
        check_int(sequence, "last_seen_event_sequence")

        def target(conn: Any) -> int:
            t = rules.require(queries.raw_thread(conn, thread_id), thread_id)
            return sequence if sequence > 0 else int(t["last_event_sequence"])

        mark = reads.mark(reads.path_for(self.index.path), thread_id, kind, viewer_id,
                          self._with_index(target), ids.now())
        return Seen(thread_id, kind, viewer_id, mark[0], mark[1])

    # -- reads ------------------------------------------------------------------------------
    def get_thread(self, thread_id: str) -> tuple[Thread, list[Post], list[Event]]:
        def read(conn: Any) -> tuple[Thread | None, list[Post], list[Event]]:
            t = queries.get_thread(conn, thread_id)
            if t is None:
                return None, [], []
            return t, queries.posts(conn, thread_id), queries.thread_events(conn, thread_id)

        t, posts, events = self._with_index(read)
        if t is None:
            raise NotFoundError(f"forum thread {thread_id!r} not found",
                                hint="list threads with `metawsm forum list`")
        return t, posts, events

    @staticmethod
    def _viewer(viewer_type: str | None, viewer_id: str | None) -> tuple[str, str] | None:
        if bool(viewer_type) != bool(viewer_id):
            raise UsageError("give both a viewer type and a viewer id (KIND:NAME)")
        return (viewer_type.lower(), viewer_id) if viewer_type and viewer_id else None  # type: ignore[union-attr]

    def _filters(self, ticket: str | None, run_id: str | None, state: str | None, priority: str | None,
                 assignee: str | None, include_control: bool = True, cursor: int = 0) -> queries.Filters:
        check_int(cursor, "cursor")
        return queries.Filters(ticket=ticket, run_id=run_id, state=rules.check_state(state) if state else None,
                               priority=rules.check_priority(priority) if priority else None,
                               assignee=assignee, include_control=include_control, cursor=cursor)

    def list_threads(self, *, ticket: str | None = None, run_id: str | None = None, state: str | None = None,
                     priority: str | None = None, assignee: str | None = None, limit: int = 100,
                     viewer_type: str | None = None, viewer_id: str | None = None, cursor: int = 0) -> list[Thread]:
        f = self._filters(ticket, run_id, state, priority, assignee, cursor=cursor)
        return self._with_index(lambda c: queries.list_threads(c, f, limit=_limit(limit),
                                    viewer=self._viewer(viewer_type, viewer_id)))

    def search(self, query: str, *, ticket: str | None = None, run_id: str | None = None,
               state: str | None = None, priority: str | None = None, assignee: str | None = None,
               limit: int = 50, viewer_type: str | None = None, viewer_id: str | None = None,
               cursor: int = 0) -> list[Thread]:
        f = self._filters(ticket, run_id, state, priority, assignee, cursor=cursor)
        return self._with_index(lambda c: queries.search(c, query, f, limit=_limit(limit),
                              viewer=self._viewer(viewer_type, viewer_id)))

    def queue(self, kind: str, *, viewer_type: str | None = None, viewer_id: str | None = None,
              ticket: str | None = None, run_id: str | None = None, state: str | None = None,
              priority: str | None = None, assignee: str | None = None, limit: int = 100,
              cursor: int = 0) -> list[Thread]:
        if kind not in m.QUEUES:
            raise UsageError(f"queue {kind!r} is not one of {', '.join(m.QUEUES)}")
        viewer = self._viewer(viewer_type, viewer_id)
        if kind == "unseen" and viewer is None:
            raise UsageError("the unseen queue needs a viewer (--viewer KIND:NAME)")
        f = self._filters(ticket, run_id, state, priority, assignee, cursor=cursor)
        return self._with_index(lambda c: queries.queue(c, kind, f, limit=_limit(limit), viewer=viewer))

    def stats(self, *, ticket: str | None = None, run_id: str | None = None) -> list[StatRow]:
        return self._with_index(lambda c: queries.stats(c, ticket, run_id))

    def events(self, cursor: int = 0, limit: int = 100, ticket: str | None = None,
               run_id: str | None = None) -> tuple[list[Event], int]:
        check_int(cursor, "cursor")
        found = self._with_index(lambda c: queries.events(c, cursor, _limit(limit), ticket, run_id))
        return found, (found[-1].sequence if found else cursor)

    def escalations(self, run_id: str | None = None, ticket: str | None = None,
                    now: datetime | None = None) -> list[Escalation]:
        """Non-control threads in new/waiting_human that are high/urgent or waited past the SLA."""
        now = now or datetime.now(UTC)
        f = self._filters(ticket, run_id, None, None, None, include_control=False)
        out = []
        for t in self._with_index(lambda c: queries.list_threads(c, f, limit=10_000,
                                      extra=("t.state IN ('new', 'waiting_human')",))):
            waited = (now - ids.parse_time(t.updated_at)).total_seconds() / 60
            if t.priority in ("urgent", "high"):
                out.append(Escalation(t, "priority", waited))
            elif waited >= self.sla_minutes:
                out.append(Escalation(t, "sla", waited))
        return out

    def reindex(self) -> int:
        """Rebuild the index from the whole log (validating every line); returns the event count."""
        with self._mutex, self.log.locked():
            return self.index.rebuild()


def _limit(limit: int) -> int:
    return min(check_int(limit, "limit", lo=1), MAX_LIMIT)
