"""What the close gate judges, read as plain data: one ticket of one run from `state.db` and the forum's
index (`forum.db`), with plain `sqlite3` on read-only connections and bound parameters.

This is the gate's one reader: `metawsm close`, `gate`, `status`, the daemon and the pre-push hook all judge
the facts it returns (`gate/rules.py` holds the rules). It imports nothing but `sqlite3` — no state store, no
forum service, no dataclasses — because the pre-push hook runs it on every push of a ticket branch.

Read from (documented tables and columns only): state.db `runs` (run_id, status, created_at), `steps`
(run_id, step_id, kind, ticket, agent, fields_json), `agents` (run_id, ticket, name, attempt); forum.db
`meta` (offset), `signals` (sequence, run_id, agent_name, attempt, control_type, payload_json) and `events`
(sequence, actor_type, actor_name). The index is a cache of the log (DESIGN §6): when it is behind the log
(an agent's `metawsm signal` appends to the log only), or has another schema version, the caller's
`catch_up` (the forum service) brings it level first; an unmigrated state.db likewise goes through
`migrate` (the state store) first.
"""

# os.path, not pathlib: the pre-push hook's path avoids pathlib's imports.
# ruff: noqa: PTH110, PTH116, PTH118

from __future__ import annotations

import os
import sqlite3

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the hook's path
if TYPE_CHECKING:
    from collections.abc import Callable

CHECKS_AGENT = "checks"  # the pseudo-agent whose control thread records a ticket's check results
STATE_VERSION = 8  # metawsm.state.db.SCHEMA_VERSION (that package's import costs the store's records)
INDEX_VERSION = 5  # metawsm.forum.schema_sql.VERSION (likewise the forum service)
GATE_SIGNALS = ("completion", "validation", "review")


def agent_key(ticket: str, agent: str) -> str:
    """metawsm.forum.ids.agent_key (`DEMO-1/writer`), without importing the forum package."""
    return agent if "/" in agent else f"{ticket}/{agent}"


class FactsError(Exception):
    """The facts cannot be read (the ticket is not in the run, a database is unreadable)."""


class Signals:
    """The gate's part of one (run, agent, attempt)'s control state: completion, latest validation and
    review, folded as `metawsm.forum.control.reduce` folds them (a review also completes the attempt)."""

    __slots__ = ("completion", "review", "validation")

    def __init__(self) -> None:
        self.completion: int | None = None  # sequence of the completing signal
        self.validation: dict[str, object] | None = None  # {status, done_criteria, sha, sequence}
        self.review: dict[str, object] | None = None  # {status, note, sha, sequence}

    def fold(self, seq: int, ctype: str, status: object, sha: object, note: object, done: object) -> None:
        if ctype == "completion":
            self.completion = seq
        elif ctype == "validation":
            self.validation = {"status": status, "done_criteria": done, "sha": sha, "sequence": seq}
        elif ctype == "review":
            self.review = {"status": status, "note": "" if note is None else note, "sha": sha, "sequence": seq}
            self.completion = self.completion or seq


class TicketFacts:
    """One ticket of one run, as the gate's rules read it."""

    __slots__ = ("actors", "agents", "checks_attempt", "has_workspace", "repos", "roles", "run_id", "signals",
                 "ticket", "ws_branch", "ws_path")

    def __init__(self, run_id: str, ticket: str, ws_path: str, ws_branch: str,
                 repos: list[tuple[str, str, str, str]]) -> None:
        self.run_id, self.ticket, self.ws_path, self.ws_branch = run_id, ticket, ws_path, ws_branch
        self.has_workspace = True
        self.repos = sorted(repos)  # (name, path, repo_root, base_branch), by name
        self.agents: list[tuple[str, int]] = []  # (name, current attempt), in the order they were recorded
        self.roles: list[tuple[str, str]] = []  # (agent, role) of the ticket's agent steps, in plan order
        self.signals: dict[tuple[str, int], Signals] = {}  # (agent key, attempt) -> its gate signals
        self.checks_attempt: int | None = None  # the check step's latest attempt that signalled
        self.actors: dict[int, tuple[str, str | None]] = {}  # validation sequence -> (actor_type, actor_name)

    @property
    def primary(self) -> tuple[str, str, str, str]:
        """The worktree the checks and the gate judge: this repository's ("self"), else the first by name."""
        return sorted(self.repos, key=lambda r: (r[0] != "self", r[0]))[0]

    def key(self, agent: str) -> str:
        return agent_key(self.ticket, agent)

    def state(self, agent: str, attempt: int | None) -> Signals | None:
        return self.signals.get((self.key(agent), attempt or 0))


def connect_ro(path: str) -> sqlite3.Connection:
    """A read-only connection (a URI with the path's special characters escaped)."""
    escaped = path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return sqlite3.connect(f"file:{escaped}?mode=ro", uri=True, timeout=30)


class Reader:
    """Reads facts from one project's state folder; `migrate` and `catch_up` are the state store's and the
    forum service's own (called only when a database is not as this reader expects)."""

    def __init__(self, state_dir: str, *, migrate: Callable[[], None], catch_up: Callable[[], None]) -> None:
        self.state_db = os.path.join(state_dir, "state.db")
        self.forum_db = os.path.join(state_dir, "forum.db")
        self.log = os.path.join(state_dir, "forum", "events.jsonl")
        self._migrate, self._catch_up = migrate, catch_up
        self._state: sqlite3.Connection | None = None
        self._forum: sqlite3.Connection | None = None

    def close(self) -> None:
        for conn in (self._state, self._forum):
            if conn is not None:
                conn.close()
        self._state = self._forum = None

    def has_state(self) -> bool:
        return os.path.exists(self.state_db)

    # -- state.db --------------------------------------------------------------------------------------
    def state(self) -> sqlite3.Connection:
        if self._state is None:
            try:
                conn = connect_ro(self.state_db)
                if conn.execute("PRAGMA user_version").fetchone()[0] != STATE_VERSION:
                    conn.close()
                    self._migrate()
                    conn = connect_ro(self.state_db)
            except sqlite3.Error as exc:
                raise FactsError(f"cannot read state database {self.state_db}: {exc}") from exc
            self._state = conn
        return self._state

    def runs_of(self, ticket: str) -> list[tuple[str, str]]:
        """(run_id, status) of the runs with a step or an agent of `ticket`, newest first."""
        return self._rows(self.state(), "SELECT run_id, status FROM runs WHERE run_id IN (SELECT run_id FROM steps "
                          "WHERE ticket = ?) OR run_id IN (SELECT run_id FROM agents WHERE ticket = ?) "
                          "ORDER BY created_at DESC, rowid DESC", (ticket, ticket))

    def ticket(self, run_id: str, ticket: str) -> TicketFacts:
        """The facts of `ticket` in `run_id` (`has_workspace` False: the run has no workspace step for it)."""
        conn = self.state()
        step = self._rows(conn, "SELECT json_extract(fields_json, '$.path'), json_extract(fields_json, '$.branch') "
                          "FROM steps WHERE run_id = ? AND step_id = ?", (run_id, f"workspace:{ticket}"))
        repos = self._rows(conn, "SELECT j.key, json_extract(j.value, '$.path'), json_extract(j.value, '$.repo_root'), "
                           "json_extract(j.value, '$.base_branch') FROM steps, json_each(steps.fields_json, "
                           "'$.repos') AS j WHERE steps.run_id = ? AND steps.step_id = ?",
                           (run_id, f"workspace:{ticket}"))
        facts = TicketFacts(run_id, ticket, str(step[0][0]) if step else "", str(step[0][1] or "") if step else "",
                            [(str(n), str(p), str(r), str(b)) for n, p, r, b in repos])
        facts.has_workspace = bool(step)
        facts.agents = [(str(n), int(a)) for n, a in self._rows(
            conn, "SELECT name, attempt FROM agents WHERE run_id = ? AND ticket = ? ORDER BY rowid", (run_id, ticket))]
        facts.roles = [(str(a), "reviewer" if r == "reviewer" else "worker") for a, r in self._rows(
            conn, "SELECT agent, json_extract(fields_json, '$.role') FROM steps WHERE run_id = ? AND kind = 'agent' "
            "AND ticket = ? AND agent IS NOT NULL AND agent != '' ORDER BY rowid", (run_id, ticket))]
        self._read_signals(facts)
        return facts

    # -- forum.db --------------------------------------------------------------------------------------
    def forum(self) -> sqlite3.Connection | None:
        """The index, level with the log (None: no log and no index, so no signal at all)."""
        if self._forum is None:
            if not self._current():
                self._catch_up()
            if not os.path.exists(self.forum_db):
                return None
            try:
                self._forum = connect_ro(self.forum_db)
            except sqlite3.Error as exc:
                raise FactsError(f"cannot read the forum index {self.forum_db}: {exc}") from exc
        return self._forum

    def _current(self) -> bool:
        """Whether forum.db exists with this schema and has indexed the whole log."""
        try:
            size = os.stat(self.log).st_size
        except OSError:
            size = 0
        if not os.path.exists(self.forum_db):
            return size == 0
        try:
            conn = connect_ro(self.forum_db)
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] != INDEX_VERSION:
                    return False
                row = conn.execute("SELECT value FROM meta WHERE key = 'offset'").fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return False
        return row is not None and row[0] == size

    def _read_signals(self, facts: TicketFacts) -> None:
        conn = self.forum()
        if conn is None:
            return
        checks = facts.key(CHECKS_AGENT)
        keys = [checks, *(facts.key(name) for name, _ in facts.agents)]
        marks = ", ".join("?" for _ in keys)
        rows = self._rows(conn, "SELECT sequence, agent_name, attempt, control_type, json_extract(payload_json, "
                          "'$.status'), json_extract(payload_json, '$.sha'), json_extract(payload_json, '$.note'), "
                          "json_extract(payload_json, '$.done_criteria') FROM signals WHERE run_id = ? AND "
                          f"agent_name IN ({marks}) ORDER BY sequence", (facts.run_id, *keys))
        for seq, key, attempt, ctype, status, sha, note, done in rows:
            if key == checks:
                facts.checks_attempt = int(attempt)  # the latest, rows being in sequence order
            if ctype in GATE_SIGNALS:
                facts.signals.setdefault((key, int(attempt)), Signals()).fold(int(seq), ctype, status, sha, note, done)
        wanted = [s.validation["sequence"] for s in facts.signals.values() if s.validation]
        if wanted:
            marks = ", ".join("?" for _ in wanted)
            facts.actors = {int(seq): (str(t), n) for seq, t, n in self._rows(
                conn, f"SELECT sequence, actor_type, actor_name FROM events WHERE sequence IN ({marks})", wanted)}

    @staticmethod
    def _rows(conn: sqlite3.Connection, sql: str, params: tuple[object, ...] | list[object]) -> list[tuple]:  # type: ignore[type-arg]
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise FactsError(f"cannot read metawsm's state: {exc}") from exc
