"""metawsm ask: an agent asks a question and blocks until a human or the operator answers it.

Posts a guidance_request to the agent's control thread, then polls the forum (~200 ms) for a
guidance_answer for the same run, agent and attempt, and prints the answer on stdout. Same fast
path as `metawsm signal`: no rich, yaml or jsonschema imports, no policy read."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command
from metawsm.cli.signal import add_context, context
from metawsm.errors import UsageError
from metawsm.forum.bounds import float_arg

HELP = "ask for guidance and wait for the answer (for agents)"
DESCRIPTION = """\
Ask a question in the agent's control thread and block until it is answered with
`metawsm forum answer fctrl-<run>-<agent> --body …`; the answer is printed on stdout.
Context comes from METAWSM_RUN, METAWSM_TICKET, METAWSM_AGENT, METAWSM_ATTEMPT (flags override).

While it waits, stderr (the agent's pane, for a shell agent) says so, with the exact command that
answers and, when a `metawsm serve` daemon runs for the repository, the web UI page of the thread.

exit codes: 0 answered, 2 missing context, 4 timed out"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "ask", help=HELP, description=DESCRIPTION)
    p.add_argument("question", metavar="QUESTION")
    p.add_argument("--context", dest="context_text", metavar="TEXT", help="background for the question")
    p.add_argument("--timeout", type=float_arg(0, 1e9), metavar="S", help="give up after S seconds (exit 4)")
    p.add_argument("--poll", type=float_arg(0.001, 60), default=0.2, metavar="S", help=argparse.SUPPRESS)
    add_context(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.cli.forum_common import open_forum

    if args.timeout is not None and args.timeout < 0:
        raise UsageError("--timeout must be >= 0")
    ctx = context(args)
    forum = open_forum(args, policy=False)
    event = forum.signal(ctx["run"], ctx["ticket"], ctx["agent"], ctx["attempt"], "guidance_request",
                         question=args.question, context=args.context_text, actor_type="agent",
                         actor_name=ctx["agent"])
    _waiting(args, event.thread_id, args.question)
    answer, seq = forum.wait_for_answer(ctx["run"], ctx["agent"], ctx["attempt"], event.sequence,
                                        timeout=args.timeout, poll=args.poll)
    if args.out.json_mode:
        args.out.ndjson({"answer": answer, "sequence": seq, "thread_id": event.thread_id})
    else:
        args.out.raw(answer if answer.endswith("\n") else answer + "\n")
    return 0


def _waiting(args: argparse.Namespace, thread_id: str, question: str) -> None:
    """Tell whoever looks at the pane that this waits, and how to answer (stderr: stdout is the answer)."""
    import os
    import shlex
    from pathlib import Path

    from metawsm.cli.forum_common import server_url

    home = os.environ.get("METAWSM_HOME", "").strip()
    where = f"-C {shlex.quote(home)} " if home else ""
    remote = server_url(args)
    ui: str | None
    if remote:
        where, ui = f"--server {shlex.quote(remote)} ", remote.rstrip("/")
    else:
        from metawsm.cli.daemon_file import live_ui_url
        from metawsm.config.project import Project

        root = Path(home) if home else Project.discover(Path(args.cwd)).root
        ui = live_ui_url(Project(root).state_dir)
    first = question.strip().splitlines()[0][:200] if question.strip() else ""
    lines = [f"metawsm ask: waiting for an answer to: {first}",
             f"  answer with: metawsm {where}forum answer {thread_id} --body 'ANSWER'"]
    if ui:
        lines.append(f"  or in the web UI: {ui}/forum/threads/{thread_id}")
    args.out.notice("\n".join(lines))
