"""Helpers shared by the `forum`, `signal` and `ask` commands: opening the forum, actors, bodies,
human rendering. Imports stay light: `signal` and `ask` run inside agents."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from metawsm.errors import UsageError


def server_url(args: Any) -> str | None:
    """--server, else METAWSM_SERVER (here, not in forum/remote.py: urllib costs ~25 ms to import, and
    `signal` and `ask` run in every agent)."""
    return getattr(args, "server", None) or os.environ.get("METAWSM_SERVER") or None


def open_forum(args: argparse.Namespace, *, policy: bool = True) -> Any:
    """The project's Forum. With policy=False (the `signal`/`ask` fast path) the policy file is not
    read: fsync is `always` and the body limit is the default 64 KiB."""
    url = server_url(args)
    if url:  # --server / METAWSM_SERVER: the same calls over HTTP (metawsm/forum/remote.py)
        from metawsm.forum.remote import RemoteForum

        return RemoteForum(url)
    from metawsm.config.project import Project
    from metawsm.forum import Forum

    proj = Project.discover(Path(args.cwd))
    if not proj.metawsm_dir.is_dir():  # never create a forum implicitly (only `metawsm init` does)
        from metawsm.errors import MetawsmError

        raise MetawsmError(f"no metawsm repository at {proj.root} (no .metawsm/ there or above {args.cwd})",
                           hint="run `metawsm init` in your repository, or talk to a daemon with --server URL "
                                "(or METAWSM_SERVER)")
    if not policy:
        return Forum(proj.forum_dir)
    from metawsm.config.loader import load_policy

    return Forum.for_project(proj, load_policy(proj))


def add_server(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", metavar="URL",
                   help="send the command to a `metawsm serve` daemon (default $METAWSM_SERVER)")


def add_actor(p: argparse.ArgumentParser, default_type: str = "human") -> None:
    p.add_argument("--actor-type", default=default_type, metavar="KIND",
                   help=f"who acts: agent, operator, human or system (default {default_type})")
    p.add_argument("--actor-name", metavar="NAME", help="the actor's name (default: $USER)")


def actor(args: argparse.Namespace) -> dict[str, str]:
    name = args.actor_name or os.environ.get("USER") or os.environ.get("LOGNAME") or args.actor_type
    return {"actor_type": args.actor_type, "actor_name": name}


def add_body(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_mutually_exclusive_group(required=required)
    g.add_argument("--body", "-m", help="the text")
    g.add_argument("--body-file", metavar="FILE", help="read the text from FILE ('-' for stdin)")


def body(args: argparse.Namespace) -> str:
    if getattr(args, "body_file", None):
        if args.body_file == "-":
            return sys.stdin.read()
        path = Path(args.body_file)
        if not path.is_absolute():
            path = Path(args.cwd) / path
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--body-file {args.body_file}: {exc}") from exc
    return str(args.body)


def kind_name(value: str | None, flag: str) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    kind, sep, name = value.partition(":")
    if not sep or not kind or not name:
        raise UsageError(f"{flag} {value!r}: expected KIND:NAME, e.g. human:alice")
    return kind.lower(), name


def add_filters(p: argparse.ArgumentParser, limit: int = 100) -> None:
    p.add_argument("--ticket", help="only this ticket")
    p.add_argument("--run", dest="run_id", metavar="RUN", help="only this run")
    p.add_argument("--state", help="only this state")
    p.add_argument("--priority", help="only this priority")
    p.add_argument("--assignee", metavar="[KIND:]NAME", help="only threads assigned to NAME")
    p.add_argument("--viewer", metavar="KIND:NAME", help="compute is_unseen for this viewer")
    from metawsm.forum.bounds import MAX_LIMIT, int_arg

    p.add_argument("--limit", type=int_arg(1, MAX_LIMIT), default=limit, help=f"at most N threads (default {limit})")


def filters(args: argparse.Namespace) -> dict[str, Any]:
    vt, vid = kind_name(getattr(args, "viewer", None), "--viewer")
    return {"ticket": args.ticket, "run_id": args.run_id, "state": args.state, "priority": args.priority,
            "assignee": args.assignee, "limit": args.limit, "viewer_type": vt, "viewer_id": vid}


def thread_line(t: Any) -> str:
    flags = "".join((" [unseen]" if t.is_unseen else "", " [unanswered]" if t.is_unanswered else ""))
    who = f" -> {t.assignee_type}:{t.assignee_name}" if t.assignee_name else ""
    return (f"{t.thread_id}  {t.state:<16} {t.priority:<6} {t.ticket}  {t.title}  "
            f"({t.posts_count} posts, seq {t.last_event_sequence}){who}{flags}")


def event_line(e: Any) -> str:
    p = e.payload
    detail = p.get("body") or p.get("title") or p.get("question") or p.get("answer") or p.get("summary") or ""
    if e.event_type in ("forum.state.changed", "forum.thread.closed"):
        detail = f"{p.get('from_state')} -> {p.get('to_state')}"
    elif e.event_type == "forum.control.signal":
        detail = f"{p.get('control_type')} attempt {p.get('attempt')}: " + str(
            p.get("question") or p.get("answer") or p.get("summary") or p.get("status") or "")
    first = str(detail).splitlines()[0] if detail else ""
    return f"#{e.sequence} {e.occurred_at} {e.event_type} {e.thread_id} {e.actor_type}:{e.actor_name} {first}"


def print_lines(out: Any, lines: list[str], empty: str) -> None:
    out.text("\n".join(lines) if lines else empty)


SIGNAL_VERB = {"guidance_request": "asks", "guidance_answer": "answered", "completion": "signalled completion",
               "validation": "validation"}


def signal_payload(text: str) -> dict[str, Any] | None:
    """The control payload a post carries (control threads record each signal as a post), else None."""
    if not text.startswith("{") or '"control_type"' not in text:
        return None
    import json

    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("control_type") not in SIGNAL_VERB:
        return None
    return value


def post_lines(p: Any) -> list[str]:
    """A post as text: a heading, then its body — a control signal as words, never its JSON."""
    head = f"--- {p.author_type}:{p.author_name} at {p.created_at}"
    signal = signal_payload(p.body)
    if signal is None:
        return [head, p.body]
    ctype = signal["control_type"]
    who = signal.get("agent_name") or "?"
    head += f" · {who} {SIGNAL_VERB[ctype]} (attempt {signal.get('attempt', '?')})"
    if ctype == "guidance_request":
        body = [str(signal.get("question", ""))] + ([f"context: {signal['context']}"] if signal.get("context") else [])
    elif ctype == "guidance_answer":
        body = [str(signal.get("answer", ""))]
    elif ctype == "completion":
        body = [str(signal.get("summary") or "(no summary)")]
    else:
        body = [f"{signal.get('status')} at {str(signal.get('sha', ''))[:12]}: {signal.get('done_criteria', '')}"]
        tail = str(signal.get("output_tail") or "").rstrip("\n")
        body += [f"  | {line}" for line in tail.splitlines()]
    return [head, *body]
