"""The SQL of a rebuild in bulk (bulk.py): each statement derives, from the events of one chunk of the
log (`sequence BETWEEN ?1 AND ?2`) or from all of them, the rows `projector.apply` writes one event at
a time. Each names the projector rule it mirrors; `tests/forum/test_rebuild_bulk.py` holds them equal."""

from __future__ import annotations

from metawsm.forum.schema_sql import SEARCH_TEXT_BODY, SEARCH_TEXT_TITLE

INSERT_EVENT = "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"

_CHUNK = "FROM events WHERE sequence BETWEEN ?1 AND ?2 AND is_post = 1"
_OPENED_IN = _CHUNK + " AND event_type = 'forum.thread.opened'"
# a JSON value of the payload as Python's truth sees it: null, false, 0, 0.0 and '' are false
_TRUTHY = "CASE WHEN {0} NOT IN (0, '') THEN {0} END"

# projector._open, _post and _touch: the row of a thread just opened, with its opening post
INSERT_THREADS = (
    "INSERT INTO threads SELECT thread_id, ticket, run_id, agent_name, title, 'new', prio, "
    "CASE prio WHEN 'urgent' THEN 1 WHEN 'high' THEN 2 WHEN 'normal' THEN 3 WHEN 'low' THEN 4 ELSE 5 END, "
    "NULL, NULL, actor_type, actor_name, 1, occurred_at, actor_type, actor_name, sequence, actor_type, "
    "nullif(actor_type, 'system'), CASE WHEN actor_type IN ('human', 'operator') THEN sequence ELSE 0 END, "
    "CASE WHEN actor_type = 'agent' THEN sequence ELSE 0 END, "
    "occurred_at, occurred_at, NULL, substr(thread_id, 1, 6) = 'fctrl-' FROM (SELECT *, " + SEARCH_TEXT_TITLE
    + " AS title, coalesce(nullif(json_extract(payload_json, '$.priority'), ''), 'normal') AS prio "
    + _OPENED_IN + " ORDER BY sequence)")

# projector._open: a control thread opened with a run and an agent (the first for them counts)
INSERT_CONTROLS = ("INSERT OR IGNORE INTO control_threads SELECT run_id, agent_name, ticket, thread_id "
                   + _OPENED_IN + " AND substr(thread_id, 1, 6) = 'fctrl-' AND run_id != '' AND agent_name != '' "
                   "ORDER BY sequence")

# projector._other, forum.control.signal on an open thread (is_post): its signals row
INSERT_SIGNALS = (
    "INSERT INTO signals SELECT sequence, thread_id, "
    "coalesce(" + _TRUTHY.format("pr") + ", nullif(run_id, ''), ''), "
    "coalesce(" + _TRUTHY.format("pa") + ", nullif(agent_name, ''), ''), "
    "max(coalesce(json_extract(payload_json, '$.attempt'), 1), 1), "
    "coalesce(json_extract(payload_json, '$.control_type'), ''), payload_json "
    "FROM (SELECT *, json_extract(payload_json, '$.run_id') AS pr, json_extract(payload_json, '$.agent_name') AS pa "
    + _CHUNK + " AND event_type = 'forum.control.signal' ORDER BY sequence)")

# projector._post and _touch over one chunk: the posts of a thread but its opening one, and the other
# events that touched it (the non-post events bulk.py put in temp.touched), merged into the row the
# chunks before left (a thread with nothing after its opening keeps the row INSERT_THREADS made)
ACTIVITY = (
    "WITH a AS (SELECT thread_id, count(*) FILTER (WHERE is_post = 1) AS n, "
    "max(sequence) FILTER (WHERE is_post = 1) AS lp, max(sequence) AS le, "
    "max(sequence) FILTER (WHERE actor_type != 'system') AS ns, "
    "max(sequence) FILTER (WHERE actor_type IN ('human', 'operator')) AS ho, "
    "max(sequence) FILTER (WHERE actor_type = 'agent' AND (event_type != 'forum.control.signal' "
    "OR json_extract(payload_json, '$.control_type') = 'guidance_request')) AS ag "
    "FROM events WHERE sequence BETWEEN ?1 AND ?2 "
    "AND (is_post = 1 AND event_type != 'forum.thread.opened'{touched}) GROUP BY thread_id) "
    "UPDATE threads SET posts_count = posts_count + a.n, last_post_at = coalesce(p.occurred_at, last_post_at), "
    "last_post_by_type = coalesce(p.actor_type, last_post_by_type), "
    "last_post_by_name = coalesce(p.actor_name, last_post_by_name), last_event_sequence = a.le, "
    "updated_at = l.occurred_at, last_actor_type = l.actor_type, "
    "last_non_system_actor_type = coalesce(s.actor_type, last_non_system_actor_type), "
    "last_human_or_operator_sequence = coalesce(a.ho, last_human_or_operator_sequence), "
    "last_agent_sequence = coalesce(a.ag, last_agent_sequence) "
    "FROM a JOIN events l ON l.sequence = a.le LEFT JOIN events p ON p.sequence = a.lp "
    "LEFT JOIN events s ON s.sequence = a.ns WHERE threads.thread_id = a.thread_id")
ACTIVITY_POSTS = ACTIVITY.format(touched="")
ACTIVITY_ALL = ACTIVITY.format(touched=" OR sequence IN temp.touched")

# projector._Batch.flush: one row per (ticket, run, state, priority) with its thread count
STATS = ("INSERT INTO stats SELECT ticket, coalesce(run_id, ''), state, priority, count(*) FROM threads "
         "GROUP BY 1, 2, 3, 4")

# the rows of `search_text`, titles by descending sequence then posts by ascending sequence: the full-text
# rowids ascend throughout, so its pending terms are never flushed out of order
SEARCH = (
    "INSERT INTO search (rowid, thread_id, kind, text) SELECT -sequence, thread_id, 'title', "
    + SEARCH_TEXT_TITLE + " FROM events WHERE is_post = 1 AND event_type = 'forum.thread.opened' "
    "ORDER BY sequence DESC",
    "INSERT INTO search (rowid, thread_id, kind, text) SELECT sequence, thread_id, 'post', "
    + SEARCH_TEXT_BODY + " FROM events WHERE is_post = 1 ORDER BY sequence",
)
