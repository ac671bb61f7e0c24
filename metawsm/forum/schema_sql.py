"""DDL of the forum index (`forum.db`). The index is a cache of the log: a schema change bumps
VERSION and the next read rebuilds the index from the log."""

from __future__ import annotations

VERSION = 5  # 2: posts are a view over events (is_post), search without column sizes; 3: only an
#            agent's questions (not its completion or validation) leave a thread unanswered; 4: the
#            full-text table indexes the `search_text` view (external content) instead of a copy; 5: a
#            null title in the log is '' in that view (as in the threads table)

THREAD_COLS = (
    "thread_id", "ticket", "run_id", "agent_name", "title", "state", "priority", "prio_rank",
    "assignee_type", "assignee_name", "opened_by_type", "opened_by_name", "posts_count",
    "last_post_at", "last_post_by_type", "last_post_by_name", "last_event_sequence", "last_actor_type",
    "last_non_system_actor_type", "last_human_or_operator_sequence", "last_agent_sequence",
    "opened_at", "updated_at", "closed_at", "is_control",
)

# Base tables (a rebuild loads them first, then adds INDEXES_DDL and fills SEARCH_DDL in bulk).
TABLES_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  sequence INTEGER PRIMARY KEY, event_id TEXT NOT NULL, event_type TEXT NOT NULL,
  event_version INTEGER NOT NULL, occurred_at TEXT NOT NULL, thread_id TEXT NOT NULL,
  ticket TEXT NOT NULL, run_id TEXT, agent_name TEXT, actor_type TEXT NOT NULL, actor_name TEXT,
  correlation_id TEXT, causation_id TEXT, idempotency_key TEXT, payload_json TEXT NOT NULL,
  is_post INTEGER NOT NULL);
-- threads: the ThreadView projection plus the queue data (last actor / sequence columns)
CREATE TABLE IF NOT EXISTS threads (
  thread_id TEXT PRIMARY KEY, ticket TEXT NOT NULL, run_id TEXT, agent_name TEXT, title TEXT NOT NULL,
  state TEXT NOT NULL, priority TEXT NOT NULL, prio_rank INTEGER NOT NULL,
  assignee_type TEXT, assignee_name TEXT, opened_by_type TEXT NOT NULL, opened_by_name TEXT NOT NULL,
  posts_count INTEGER NOT NULL, last_post_at TEXT, last_post_by_type TEXT, last_post_by_name TEXT,
  last_event_sequence INTEGER NOT NULL, last_actor_type TEXT, last_non_system_actor_type TEXT,
  last_human_or_operator_sequence INTEGER NOT NULL, last_agent_sequence INTEGER NOT NULL,
  opened_at TEXT NOT NULL, updated_at TEXT NOT NULL, closed_at TEXT, is_control INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS assignments (
  sequence INTEGER PRIMARY KEY, event_id TEXT NOT NULL, thread_id TEXT NOT NULL,
  from_assignee_type TEXT, from_assignee_name TEXT, to_assignee_type TEXT, to_assignee_name TEXT,
  note TEXT, changed_by_type TEXT, changed_by_name TEXT, changed_at TEXT);
CREATE TABLE IF NOT EXISTS transitions (
  sequence INTEGER PRIMARY KEY, event_id TEXT NOT NULL, thread_id TEXT NOT NULL, from_state TEXT,
  to_state TEXT NOT NULL, changed_by_type TEXT, changed_by_name TEXT, changed_at TEXT);
CREATE TABLE IF NOT EXISTS stats (
  ticket TEXT NOT NULL, run_id TEXT NOT NULL, state TEXT NOT NULL, priority TEXT NOT NULL,
  thread_count INTEGER NOT NULL, PRIMARY KEY (ticket, run_id, state, priority)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reads (
  thread_id TEXT NOT NULL, viewer_type TEXT NOT NULL, viewer_id TEXT NOT NULL,
  last_seen_event_sequence INTEGER NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (thread_id, viewer_type, viewer_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS control_threads (
  run_id TEXT NOT NULL, agent_name TEXT NOT NULL, ticket TEXT NOT NULL, thread_id TEXT NOT NULL UNIQUE,
  PRIMARY KEY (run_id, agent_name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signals (
  sequence INTEGER PRIMARY KEY, thread_id TEXT NOT NULL, run_id TEXT NOT NULL, agent_name TEXT NOT NULL,
  attempt INTEGER NOT NULL, control_type TEXT NOT NULL, payload_json TEXT NOT NULL);
"""

INDEXES_DDL = """
CREATE INDEX IF NOT EXISTS events_ticket ON events (ticket, sequence);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, sequence) WHERE run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_thread ON events (thread_id, sequence);
CREATE INDEX IF NOT EXISTS events_idem ON events (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS threads_order ON threads (prio_rank, last_event_sequence DESC);
CREATE INDEX IF NOT EXISTS threads_ticket ON threads (ticket, state, priority);
CREATE INDEX IF NOT EXISTS threads_run ON threads (run_id, state);
CREATE INDEX IF NOT EXISTS signals_agent ON signals (run_id, agent_name, attempt, sequence);
"""

# A post is an event (opened, post added, control signal) that the projector marked `is_post`: the
# body is stored once, in the event's payload.
POSTS_DDL = """
CREATE VIEW IF NOT EXISTS posts (post_id, thread_id, event_id, sequence, author_type, author_name, body,
  created_at) AS SELECT event_id || '.post', thread_id, event_id, sequence, actor_type, actor_name,
  CASE WHEN event_type = 'forum.control.signal' THEN payload_json
       ELSE coalesce(json_extract(payload_json, '$.body'), '') END, occurred_at
  FROM events WHERE is_post = 1;
"""

# The text search finds: every thread's title and every post's body. They are stored once, in the
# events' payloads: `search_text` derives them (a post's row is keyed by its event's sequence, a title's
# by minus the sequence of the thread's opening event), and the full-text table `search` indexes that
# view without a copy of its text (FTS5 external content). Rows are only ever added to it: by the
# projector as events arrive, by a rebuild in bulk. Queries read the index's rowids only (a lookup of
# the view by rowid would scan it) and scan `search_text` itself for substrings.
# (a missing key reads as '' and a JSON null as NULL, as the projector's `p.get("body", "")` does)
SEARCH_TEXT_TITLE = "coalesce(json_extract(payload_json, '$.title'), '')"  # projector._text: a null title is empty
SEARCH_TEXT_BODY = ("CASE WHEN event_type = 'forum.control.signal' THEN payload_json "
                    "ELSE coalesce(json_extract(payload_json, '$.body'), "
                    "CASE WHEN json_type(payload_json, '$.body') IS NULL THEN '' END) END")
SEARCH_DDL = f"""
CREATE VIEW IF NOT EXISTS search_text (fts_rowid, thread_id, kind, text) AS
  SELECT -sequence, thread_id, 'title', {SEARCH_TEXT_TITLE} FROM events
  WHERE is_post = 1 AND event_type = 'forum.thread.opened'
  UNION ALL SELECT sequence, thread_id, 'post', {SEARCH_TEXT_BODY} FROM events WHERE is_post = 1;
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5 (
  thread_id UNINDEXED, kind UNINDEXED, text, content = 'search_text', content_rowid = 'fts_rowid',
  tokenize = 'unicode61 remove_diacritics 2', columnsize = 0);
"""

SCHEMA = TABLES_DDL + POSTS_DDL + INDEXES_DDL + SEARCH_DDL

# Tables compared by the rebuild == incremental test and dumped by `forum reindex --dump`.
TABLES = ("meta", "events", "threads", "posts", "assignments", "transitions", "stats", "reads",
          "control_threads", "signals", "search")
