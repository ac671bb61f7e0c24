"""`metawsm import-go` on a small Go-shaped store: an SQLite database with the Go metawsm's tables
(written here from the column facts of its `internal/store/sqlite.go`, not copied), filled as the Go
metawsm fills them — then every thread, post and event is found again, sequences preserved."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

GO_DDL = """
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
CREATE TABLE runs (run_id TEXT PRIMARY KEY, status TEXT NOT NULL, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL, spec_json TEXT NOT NULL, policy_json TEXT NOT NULL, error_text TEXT NOT NULL DEFAULT '');
CREATE TABLE run_tickets (run_id TEXT NOT NULL, ticket TEXT NOT NULL, PRIMARY KEY (run_id, ticket));
CREATE TABLE run_briefs (run_id TEXT PRIMARY KEY, ticket TEXT NOT NULL, goal TEXT NOT NULL, scope TEXT NOT NULL,
  done_criteria TEXT NOT NULL, constraints_text TEXT NOT NULL, merge_intent TEXT NOT NULL, qa_json TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE forum_threads (thread_id TEXT PRIMARY KEY, ticket TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '',
  agent_name TEXT NOT NULL DEFAULT '', title TEXT NOT NULL, state TEXT NOT NULL, priority TEXT NOT NULL,
  assignee_type TEXT NOT NULL DEFAULT '', assignee_name TEXT NOT NULL DEFAULT '', opened_by_type TEXT NOT NULL,
  opened_by_name TEXT NOT NULL DEFAULT '', opened_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  closed_at TEXT NOT NULL DEFAULT '');
CREATE TABLE forum_posts (post_id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, event_id TEXT NOT NULL UNIQUE,
  author_type TEXT NOT NULL, author_name TEXT NOT NULL DEFAULT '', body_text TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE forum_events (sequence INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,
  event_type TEXT NOT NULL, event_version INTEGER NOT NULL, occurred_at TEXT NOT NULL, thread_id TEXT NOT NULL,
  run_id TEXT NOT NULL DEFAULT '', ticket TEXT NOT NULL, agent_name TEXT NOT NULL DEFAULT '',
  actor_type TEXT NOT NULL, actor_name TEXT NOT NULL DEFAULT '', correlation_id TEXT NOT NULL DEFAULT '',
  causation_id TEXT NOT NULL DEFAULT '', payload_json TEXT NOT NULL DEFAULT '');
CREATE TABLE forum_thread_reads (thread_id TEXT NOT NULL, viewer_type TEXT NOT NULL, viewer_id TEXT NOT NULL,
  last_seen_event_sequence INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL,
  PRIMARY KEY (thread_id, viewer_type, viewer_id));
CREATE TABLE forum_control_threads (run_id TEXT NOT NULL, agent_name TEXT NOT NULL, ticket TEXT NOT NULL,
  thread_id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (run_id, agent_name));
"""

RUN = "run-20260207-090419"


class GoStore:
    """Writes rows the way the Go store does: one forum_events row per command, a forum_posts row for
    each post-bearing event (body_text = the post body; a control post's body is the control JSON)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.executescript(GO_DDL)
        self.n = 0

    def event(self, etype: str, thread: str, payload: dict[str, Any], *, actor: tuple[str, str],
              ticket: str = "METAWSM-001", run_id: str = "", agent: str = "", post: str | None = None,
              sequence: int | None = None) -> str:
        self.n += 1
        eid = f"fevt-17000000000000{self.n:05d}"
        at = f"2026-02-07T09:{self.n // 60:02d}:{self.n % 60:02d}Z"
        self.conn.execute("INSERT INTO forum_events (sequence, event_id, event_type, event_version, occurred_at, "
                          "thread_id, run_id, ticket, agent_name, actor_type, actor_name, correlation_id, "
                          "causation_id, payload_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          (sequence, eid, etype, 1, at, thread, run_id, ticket, agent, actor[0], actor[1], eid, "",
                           json.dumps(payload)))
        if post is not None:
            self.conn.execute("INSERT INTO forum_posts VALUES (?,?,?,?,?,?,?)",
                              (f"{eid}.post", thread, eid, actor[0], actor[1], post, at))
        return eid


def build_store(path: Path) -> GoStore:
    g = GoStore(path)
    c = g.conn
    c.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?)", (RUN, "completed", "2026-02-07T09:04:19Z",
                                                           "2026-02-07T10:00:00Z", "{}", "{}", ""))
    c.execute("INSERT INTO run_tickets VALUES (?,?)", (RUN, "METAWSM-001"))
    c.execute("INSERT INTO run_tickets VALUES (?,?)", (RUN, "IMPROVE_FORUM"))
    c.execute("INSERT INTO run_briefs VALUES (?,?,?,?,?,?,?,?,?,?)",
              (RUN, "METAWSM-001", "Build the orchestrator", "cmd/", "go test passes\ndocs updated", "", "default",
               "[]", "2026-02-07T09:04:19Z", "2026-02-07T09:04:19Z"))
    human, agent, system = ("human", "manuel"), ("agent", "agent"), ("system", "metawsm")
    t1 = "fthr-1770455059000000001"
    g.event("forum.thread.opened", t1, {"title": "Which database?", "body": "postgres or sqlite", "priority": "high"},
            actor=agent, run_id=RUN, agent="agent", post="postgres or sqlite")
    g.event("forum.post.added", t1, {"body": "sqlite, it is local"}, actor=human, post="sqlite, it is local")
    g.event("forum.assigned", t1, {"from_assignee_type": "", "from_assignee_name": "", "to_assignee_type": "human",
                                   "to_assignee_name": "manuel", "note": "db expert"}, actor=human)
    g.event("forum.state.changed", t1, {"from_state": "new", "to_state": "answered"}, actor=human)
    g.event("forum.priority.changed", t1, {"from_priority": "high", "to_priority": "low"}, actor=human)
    g.event("forum.thread.closed", t1, {"from_state": "answered", "to_state": "closed"}, actor=human)
    g.event("forum.integration.docs_sync.requested", t1, {"trigger": "closed", "thread_id": t1, "title":
            "Which database?", "state": "closed", "priority": "low", "posts_count": 2, "updated_at":
            "2026-02-07T09:00:06Z", "assignee_type": "human", "assignee_name": "manuel"}, actor=system)
    ctl = "fctrl-run-20260207-090419-agent"
    g.event("forum.thread.opened", ctl, {"title": f"Control thread for agent in {RUN}", "body":
            "System-managed control thread for forum-first run lifecycle signals.", "priority": "normal"},
            actor=system, run_id=RUN, agent="agent",
            post="System-managed control thread for forum-first run lifecycle signals.", sequence=20)  # a gap
    c.execute("INSERT INTO forum_control_threads VALUES (?,?,?,?,?,?)", (RUN, "agent", "METAWSM-001", ctl,
                                                                       "2026-02-07T09:00:08Z", "2026-02-07T09:00:08Z"))
    for control in ({"schema_version": 1, "control_type": "guidance_request", "run_id": RUN, "agent_name": "agent",
                     "question": "Which port?"},
                    {"schema_version": 1, "control_type": "guidance_answer", "run_id": RUN, "agent_name": "agent",
                     "answer": "3001"},
                    {"schema_version": 1, "control_type": "completion", "run_id": RUN, "agent_name": "agent",
                     "summary": "done"},
                    {"schema_version": 1, "control_type": "validation", "run_id": RUN, "agent_name": "agent",
                     "status": "passed", "done_criteria": "go test passes"}):
        body = json.dumps(control)
        g.event("forum.control.signal", ctl, {"body": body}, actor=agent, run_id=RUN, agent="agent", post=body)
    t3 = "fthr-1770455059000000003"
    g.event("forum.thread.opened", t3, {"title": "UI crash on missing fields", "body": "TypeError .trim",
                                        "priority": "normal"}, actor=human, ticket="IMPROVE_FORUM", post="TypeError .trim")
    c.execute("INSERT INTO forum_thread_reads VALUES (?,?,?,?,?)", (t1, "human", "human:operator", 3,
                                                                   "2026-02-07T09:30:00Z"))
    c.commit()
    return g


@pytest.fixture
def go_db(tmp_path: Path) -> Path:
    path = tmp_path / "go" / ".metawsm" / "metawsm.db"
    path.parent.mkdir(parents=True)
    build_store(path).conn.close()
    return path


@pytest.fixture
def proj(repo: Path, cli: Any) -> Path:
    assert cli("init", cwd=repo).code == 0
    return repo


def test_import_round_trips_every_thread_post_and_event(proj: Path, go_db: Path, cli: Any) -> None:
    from metawsm.forum import Forum

    r = cli("import-go", "--db", str(go_db), "--json", cwd=proj)
    assert r.code == 0, r.err
    result = json.loads(r.out)
    go = sqlite3.connect(go_db)
    go.row_factory = sqlite3.Row
    go_events = [dict(x) for x in go.execute("SELECT * FROM forum_events ORDER BY sequence")]
    assert result["events"] == len(go_events) and result["last_sequence"] == go_events[-1]["sequence"]
    assert result["tickets_written"] == ["METAWSM-001"] and result["tickets_invalid"] == ["IMPROVE_FORUM"]
    forum = Forum(proj / ".metawsm" / "state" / "forum")
    try:
        ours, _ = forum.events(0, 1000)
        assert [e.sequence for e in ours] == [e["sequence"] for e in go_events]  # preserved, gap included
        assert [(e.event_id, e.event_type, e.thread_id, e.ticket, e.actor_type, e.actor_name)
                for e in ours] == [(e["event_id"], e["event_type"], e["thread_id"], e["ticket"], e["actor_type"],
                                    e["actor_name"]) for e in go_events]
        for go_thread in {e["thread_id"] for e in go_events}:
            _, posts, _ = forum.get_thread(go_thread)
            go_posts = [dict(x) for x in go.execute("SELECT * FROM forum_posts WHERE thread_id = ? ORDER BY "
                                                    "created_at", (go_thread,))]
            assert [p.event_id for p in posts] == [p["event_id"] for p in go_posts]
            assert [(p.author_type, p.author_name) for p in posts] == [(p["author_type"], p["author_name"])
                                                                      for p in go_posts]
            for mine, theirs in zip(posts, go_posts, strict=True):
                if theirs["body_text"].startswith("{"):  # a control post: the same payload, plus attempt 1
                    assert json.loads(mine.body) == {**json.loads(theirs["body_text"]), "attempt": 1}
                else:
                    assert mine.body == theirs["body_text"]
        t1, _, _ = forum.get_thread("fthr-1770455059000000001")
        assert (t1.title, t1.state, t1.priority, t1.assignee_type, t1.assignee_name, t1.posts_count) == (
            "Which database?", "closed", "low", "human", "manuel", 2)
        assert forum.list_threads(viewer_type="human", viewer_id="human:operator", ticket="METAWSM-001",
                                  state="closed")[0].is_unseen is True  # read up to 3, events after it
        state = forum.control_state(RUN, "agent", 1)
        assert state.completion is not None and state.validation["status"] == "passed"
        assert state.pending_question is None  # asked, then answered
    finally:
        forum.shutdown()
    ticket = (proj / "tickets" / "METAWSM-001.yaml").read_text()
    assert "Build the orchestrator" in ticket and "go test passes" in ticket
    assert cli("validate", cwd=proj).code == 0


def test_import_translates_the_go_policy(proj: Path, go_db: Path, cli: Any) -> None:
    policy = go_db.parent / "policy.json"
    policy.write_text(json.dumps({"workspace": {"base_branch": "main", "branch_prefix": "task"},
                                  "agent_profiles": [{"name": "default-shell", "runner": "shell",
                                                      "runner_options": {"command": "bash"}}],
                                  "agents": [{"name": "agent", "profile": "default-shell"}]}))
    r = cli("import-go", "--db", str(go_db), "--policy", str(policy), "--json", cwd=proj)
    assert r.code == 0, r.err
    assert json.loads(r.out)["policy"]["written"] is True
    assert "agent:" in (proj / ".metawsm" / "policy.yaml").read_text()


def test_unknown_schema_version_is_refused(proj: Path, go_db: Path, cli: Any) -> None:
    conn = sqlite3.connect(go_db)
    conn.execute("INSERT INTO schema_migrations VALUES (7, '2026-03-01T00:00:00Z')")
    conn.commit()
    conn.close()
    r = cli("import-go", "--db", str(go_db), cwd=proj)
    assert r.code == 2 and "unknown Go metawsm schema version 7" in r.err
    assert not (proj / ".metawsm" / "state" / "forum" / "events.jsonl").exists()


def test_a_store_missing_columns_is_refused(proj: Path, tmp_path: Path, cli: Any) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE runs (run_id TEXT, status TEXT, created_at TEXT);"
                       "CREATE TABLE run_tickets (run_id TEXT, ticket TEXT);"
                       "CREATE TABLE forum_events (sequence INTEGER, event_id TEXT);")
    conn.close()
    r = cli("import-go", "--db", str(path), cwd=proj)
    assert r.code == 2 and "forum_events lacks" in r.err


def test_import_refuses_a_forum_that_has_events(proj: Path, go_db: Path, cli: Any) -> None:
    assert cli("forum", "ask", "--ticket", "T-1", "--title", "t", "--body", "b", cwd=proj).code == 0
    r = cli("import-go", "--db", str(go_db), cwd=proj)
    assert r.code == 1 and "not empty" in r.err
