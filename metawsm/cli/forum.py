"""metawsm forum: threads between agents, the operator and humans, on the forum event log."""

from __future__ import annotations

from typing import Any

from metawsm.cli.common import add_command
from metawsm.cli.forum_common import add_actor, add_body, add_filters, add_server
from metawsm.forum.bounds import float_arg, int_arg

QUEUES = ("unseen", "unanswered")

HELP = "ask, answer and browse forum threads"
DESCRIPTION = """\
The forum is an append-only event log (.metawsm/state/forum/events.jsonl) indexed into SQLite
(.metawsm/state/forum.db, rebuilt from the log whenever needed). Agents, the operator and humans
open threads, post, answer, assign and close them; agents also signal through per-agent control
threads (see `metawsm signal` and `metawsm ask`). Actor types default as in the Go metawsm: agent
for `ask`, operator for the other commands that write.

exit codes: 0 ok, 1 unknown thread / illegal transition / refused, 2 usage"""


class _Lazy:
    """Resolves `cmds.<name>` on first call, so building the parser imports no forum code."""

    def __getattr__(self, name: str) -> Any:
        def run(args: Any) -> int:
            from metawsm.cli import forum_cmds

            return int(getattr(forum_cmds, name)(args))

        return run


cmds = _Lazy()


def _thread_arg(s: Any) -> None:
    """THREAD_ID, also as the Go spelling --thread-id."""
    s.add_argument("thread_id", metavar="THREAD_ID", nargs="?")
    s.add_argument("--thread-id", dest="go_thread_id", metavar="THREAD_ID", help="the same, as a flag (Go spelling)")


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "forum", help=HELP, description=DESCRIPTION)
    sub = p.add_subparsers(dest="forum_command", metavar="SUBCOMMAND", parser_class=type(p))

    s = add_command(sub, "ask", help="open a thread", description="Open a new thread with a first post.")
    s.add_argument("--ticket", required=True, help="the ticket it is about")
    s.add_argument("--title", required=True, help="one-line title")
    add_body(s)
    s.add_argument("--priority", default="normal", help="low, normal, high or urgent (default normal)")
    s.add_argument("--run", dest="run_id", metavar="RUN", help="the run it belongs to")
    s.add_argument("--agent", dest="agent_name", metavar="AGENT", help="the agent it concerns")
    s.add_argument("--thread-id", help="use this id instead of a generated one")
    s.add_argument("--idempotency-key", help="a retry with the same key returns the first thread")
    add_actor(s, "agent")
    s.set_defaults(run=cmds.ask)

    for name, help_, fn, doc in (
        ("answer", "answer a thread (post + state answered)", cmds.answer,
         "Post an answer and move the thread to answered. On a control thread (fctrl-…) this also\n"
         "records a guidance_answer for the agent's current attempt, which unblocks `metawsm ask`."),
        ("post", "add a post to a thread", cmds.post, "Add a post to an open thread."),
    ):
        s = add_command(sub, name, help=help_, description=doc)
        _thread_arg(s)
        add_body(s)
        add_actor(s, "operator")
        s.set_defaults(run=fn)

    s = add_command(sub, "assign", help="assign a thread", description="Assign a thread to KIND:NAME.")
    _thread_arg(s)
    s.add_argument("--to", metavar="KIND:NAME", help="e.g. human:alice or operator:metawsm")
    s.add_argument("--assignee", dest="go_assignee", metavar="NAME", help="Go spelling: --to KIND:NAME's NAME")
    s.add_argument("--assignee-type", dest="go_assignee_type", metavar="KIND",
                   help="Go spelling: --to KIND:NAME's KIND (default operator)")
    s.add_argument("--note", "--assignment-note", default="", help="why")
    add_actor(s, "operator")
    s.set_defaults(run=cmds.assign)

    s = add_command(sub, "state", help="change a thread's state", description=(
        "Move a thread to STATE: new, triaged, waiting_operator, waiting_human, answered, closed.\n"
        "Illegal moves are refused naming from and to; closed is terminal."))
    _thread_arg(s)
    s.add_argument("state", metavar="STATE", nargs="?")
    s.add_argument("--state", dest="go_state", metavar="STATE", help="the same, as a flag (Go spelling)")
    add_actor(s, "operator")
    s.set_defaults(run=cmds.state)

    s = add_command(sub, "priority", help="change a thread's priority",
                    description="Set the priority: low, normal, high or urgent.")
    _thread_arg(s)
    s.add_argument("priority", metavar="PRIORITY", nargs="?")
    s.add_argument("--priority", dest="go_priority", metavar="PRIORITY", help="the same, as a flag (Go spelling)")
    add_actor(s, "operator")
    s.set_defaults(run=cmds.priority)

    s = add_command(sub, "close", help="close a thread", description="Close a thread (terminal).")
    _thread_arg(s)
    add_actor(s, "operator")
    s.set_defaults(run=cmds.close)

    s = add_command(sub, "seen", help="mark a thread seen", description="Raise a viewer's read mark.")
    _thread_arg(s)
    s.add_argument("--viewer", required=True, metavar="KIND:NAME", help="e.g. human:alice")
    s.add_argument("--sequence", type=int_arg(), default=0, help="seen up to this event (default: latest)")
    s.set_defaults(run=cmds.seen)

    s = add_command(sub, "list", help="list threads", description=(
        "List threads, urgent first, then most recently active. --json gives {\"threads\": [...]}."))
    add_filters(s)
    s.set_defaults(run=cmds.list_)

    s = add_command(sub, "thread", help="show a thread", description="Show a thread, its posts and events.")
    _thread_arg(s)
    s.set_defaults(run=cmds.thread)

    s = add_command(sub, "search", help="full-text search", description=(
        "Search titles and posts: every word as a word prefix, or the whole query as a substring\n"
        "(case-insensitive); title hits rank first."))
    s.add_argument("query", metavar="QUERY")
    add_filters(s, limit=50)
    s.set_defaults(run=cmds.search)

    s = add_command(sub, "queue", help="unseen or unanswered threads", description=(
        "List one queue of threads. KIND (or --type KIND, the Go API's name) is one of:\n"
        "  unseen      threads with events after the viewer's read mark (needs --viewer KIND:NAME)\n"
        "  unanswered  open threads whose last non-system word came from an agent\n\n"
        "  metawsm forum queue unanswered\n"
        "  metawsm forum queue --type unseen --viewer human:alice"))
    s.add_argument("kind", nargs="?", choices=QUEUES, metavar="KIND", help="unseen or unanswered")
    s.add_argument("--type", dest="queue_type", choices=QUEUES, metavar="KIND", help="the same, as a flag (Go's name)")
    add_filters(s)
    s.set_defaults(run=cmds.queue)

    s = add_command(sub, "stats", help="thread counts", description=(
        "Thread counts per ticket, run, state and priority."))
    s.add_argument("--ticket", help="only this ticket")
    s.add_argument("--run", dest="run_id", metavar="RUN", help="only this run")
    s.set_defaults(run=cmds.stats)

    s = add_command(sub, "watch", help="follow new events", description=(
        "Print events after --cursor, then follow new ones until Ctrl-C. --json gives NDJSON\n"
        "(one event per line); resume later with --cursor <last sequence>."))
    s.add_argument("--cursor", type=int_arg(), default=0, help="start after this sequence (default 0)")
    s.add_argument("--ticket", help="only this ticket")
    s.add_argument("--run", dest="run_id", metavar="RUN", help="only this run")
    s.add_argument("--interval", type=float_arg(0.01, 3600), default=0.2, help="poll interval in seconds")
    s.add_argument("--once", action="store_true", help="print what is there and exit")
    s.add_argument("--limit", type=int_arg(1, 10_000), metavar="N",
                   help="print at most N events after --cursor and exit (the Go metawsm's one-shot watch)")
    s.set_defaults(run=cmds.watch)

    s = add_command(sub, "reindex", help="rebuild the index from the log", description=(
        "Rebuild .metawsm/state/forum.db from the event log, checking every line. A line that is not\n"
        "a valid event (a hand edit, a repeated sequence) is skipped and reported with its line and\n"
        "byte offset; `metawsm forum doctor --quarantine` moves such lines out of the log."))
    s.set_defaults(run=cmds.reindex)

    s = add_command(sub, "doctor", help="check the event log line by line", description=(
        "Read the whole event log and report every line the index skips: not JSON, not a valid\n"
        "event (a missing field, an integer out of range), a repeated or out-of-order sequence, a\n"
        "torn tail. With --quarantine, move those lines to quarantine-<time>.jsonl beside the log\n"
        "(a full copy is kept as events.jsonl.before-doctor-<time>) and rebuild the index.\n\n"
        "exit codes: 0 the log is healthy (or was repaired), 1 problems found, 2 usage"))
    s.add_argument("--quarantine", action="store_true", help="move the bad lines out of the log")
    s.set_defaults(run=cmds.doctor)

    from metawsm.cli import forum_go

    forum_go.add_parsers(sub)
    for s in sub.choices.values():
        add_server(s)
