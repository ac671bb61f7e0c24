"""The `metawsm forum …` sub-commands: parse → one Forum call → present."""

from __future__ import annotations

import argparse
import time
from typing import Any

from metawsm.cli.forum_common import (
    actor,
    body,
    event_line,
    filters,
    kind_name,
    open_forum,
    post_lines,
    print_lines,
    thread_line,
)
from metawsm.errors import UsageError


def _thread_result(args: argparse.Namespace, thread: Any, verb: str) -> int:
    args.out.result({"thread": thread})
    args.out.text(f"{verb} {thread.thread_id} ({thread.state}, {thread.posts_count} posts)")
    return 0


def ask(args: argparse.Namespace) -> int:
    forum = open_forum(args)
    t = forum.open_thread(args.ticket, args.title, body(args), priority=args.priority, run_id=args.run_id,
                          agent_name=args.agent_name, thread_id=args.thread_id,
                          idempotency_key=args.idempotency_key, **actor(args))
    return _thread_result(args, t, "opened")


def answer(args: argparse.Namespace) -> int:
    return _thread_result(args, open_forum(args).answer(args.thread_id, body(args), **actor(args)), "answered")


def post(args: argparse.Namespace) -> int:
    return _thread_result(args, open_forum(args).post(args.thread_id, body(args), **actor(args)), "posted to")


def assign(args: argparse.Namespace) -> int:
    kind, name = kind_name(args.to, "--to")
    t = open_forum(args).assign(args.thread_id, kind, name, note=args.note, **actor(args))
    return _thread_result(args, t, f"assigned to {kind}:{name}:")


def state(args: argparse.Namespace) -> int:
    return _thread_result(args, open_forum(args).set_state(args.thread_id, args.state, **actor(args)), "moved")


def priority(args: argparse.Namespace) -> int:
    t = open_forum(args).set_priority(args.thread_id, args.priority, **actor(args))
    return _thread_result(args, t, f"priority {t.priority}:")


def close(args: argparse.Namespace) -> int:
    return _thread_result(args, open_forum(args).close(args.thread_id, **actor(args)), "closed")


def seen(args: argparse.Namespace) -> int:
    kind, name = kind_name(args.viewer, "--viewer")
    mark = open_forum(args).mark_seen(args.thread_id, kind, name, args.sequence)
    args.out.result({"seen": mark})
    args.out.text(f"{mark.thread_id} seen by {kind}:{name} up to #{mark.last_seen_event_sequence}")
    return 0


def _threads(args: argparse.Namespace, threads: list[Any], empty: str) -> int:
    args.out.result({"threads": threads})
    print_lines(args.out, [thread_line(t) for t in threads], empty)
    return 0


def list_(args: argparse.Namespace) -> int:
    return _threads(args, open_forum(args).list_threads(**filters(args)), "no threads")


def search(args: argparse.Namespace) -> int:
    return _threads(args, open_forum(args).search(args.query, **filters(args)), "no matches")


def queue(args: argparse.Namespace) -> int:
    if args.kind and args.queue_type and args.kind != args.queue_type:
        raise UsageError(f"queue {args.kind} or --type {args.queue_type}? give one")
    kind = args.kind or args.queue_type
    if not kind:
        raise UsageError("which queue? KIND is unseen or unanswered",
                         hint="metawsm forum queue unanswered   (or --type unseen --viewer human:NAME)")
    return _threads(args, open_forum(args).queue(kind, **filters(args)), f"{kind} queue is empty")


def thread(args: argparse.Namespace) -> int:
    t, posts, events = open_forum(args).get_thread(args.thread_id)
    args.out.result({"thread": t, "posts": posts, "events": events})
    lines = [thread_line(t), ""]
    for p in posts:
        lines += post_lines(p)
    print_lines(args.out, lines, "")
    return 0


def stats(args: argparse.Namespace) -> int:
    rows = open_forum(args).stats(ticket=args.ticket, run_id=args.run_id)
    args.out.result({"stats": rows})
    print_lines(args.out, [f"{r.ticket} {r.run_id or '-'} {r.state} {r.priority}: {r.thread_count}"
                           for r in rows], "no threads")
    return 0


def watch(args: argparse.Namespace) -> int:
    if args.interval <= 0:
        raise UsageError("--interval must be > 0")
    forum = open_forum(args)
    cursor = args.cursor
    limit = getattr(args, "limit", None)
    if limit is not None and limit < 1:
        raise UsageError("--limit must be >= 1")
    while True:
        events, cursor = forum.events(cursor, limit or 500, ticket=args.ticket, run_id=args.run_id)
        for e in events:
            if args.out.json_mode:
                args.out.ndjson(e)
            else:
                args.out.text(event_line(e))
        if limit is not None:  # the Go metawsm's one-shot page
            return 0
        if len(events) == 500:
            continue
        if args.once:
            return 0
        time.sleep(args.interval)


def reindex(args: argparse.Namespace) -> int:
    forum = open_forum(args)
    count = forum.reindex()
    from metawsm.forum.index import skipped_lines

    skipped = skipped_lines(forum.index.conn)
    args.out.result({"events": count, "index": str(forum.index.path),
                     "skipped": [{"line": line, "offset": off} for line, off in skipped]})
    args.out.text(f"reindexed {count} events into {forum.index.path}")
    for line, off in skipped:
        args.out.text(f"  skipped {forum.log.path}:{line} (byte {off}): not a valid event; "
                      "see `metawsm forum doctor`")
    return 0


def doctor(args: argparse.Namespace) -> int:
    from metawsm.forum import doctor as doc

    forum = open_forum(args)
    if not hasattr(forum, "log"):
        raise UsageError("forum doctor reads the log file itself: run it without --server")
    d = doc.quarantine(forum) if args.quarantine else doc.diagnose(forum)
    args.out.result(d.to_json())
    for p in d.problems:
        where = f"{d.log}:{p.line}" if p.line else str(d.log)
        args.out.text(f"{where} (byte {p.offset}): {p.why}")
    if d.quarantined:
        args.out.text(f"moved {len(d.problems)} line(s) to {d.quarantined} (full copy: {d.backup}); "
                      f"index rebuilt with {d.index_events} events")
    elif d.healthy:
        args.out.text(f"{d.log}: {d.events} events, no problem")
    else:
        args.out.text(f"{len(d.problems)} problem(s); `metawsm forum doctor --quarantine` moves them out")
    return 0 if d.healthy or d.quarantined else 1
