"""metawsm import-go: bring a Go metawsm's history over — its forum (every thread, post and event, with
its sequence), read marks, the tickets its runs worked on, and its policy."""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from metawsm.cli.common import add_command, repository, resolve_path

HELP = "import a Go metawsm store (.metawsm/metawsm.db) and policy.json"
DESCRIPTION = """\
Read a Go metawsm's SQLite store (read-only) and write, in this repository: the forum log (each Go
forum event, sequence preserved, control signals as control payloads with attempt 1) and its index,
the read marks, tickets/<ID>.yaml for each ticket its runs had (goal and done criteria from its
bootstrap brief; an existing ticket file is kept; an id that is not a valid ticket id here is
listed), and — from --policy — .metawsm/policy.yaml (the translation of `metawsm policy-init`; a
policy you edited is kept unless --force). The forum must be empty: the imported log starts it. A
store whose schema is not the one this importer knows is refused, naming the difference.

exit codes: 0 imported, 1 the forum is not empty, 2 unknown schema or unreadable files"""

TICKET_ID = re.compile(r"^[A-Z][A-Z0-9]*-[0-9A-Za-z-]+$")


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "import-go", help=HELP, description=DESCRIPTION)
    p.add_argument("--db", metavar="PATH", default=".metawsm/metawsm.db", help="the Go store (default %(default)s)")
    p.add_argument("--policy", metavar="PATH", default=".metawsm/policy.json",
                   help="the Go policy, translated when it exists (default %(default)s)")
    p.add_argument("--force", action="store_true", help="replace a policy.yaml you edited")
    p.set_defaults(run=run)


def _ticket_yaml(ticket: str, brief: dict[str, str]) -> str:
    import yaml

    data: dict[str, Any] = {"id": ticket, "title": f"{ticket} (imported from the Go metawsm)"}
    if brief.get("goal"):
        data["goal"] = brief["goal"]
    criteria = [c.strip(" -*") for c in re.split(r"[\n;]", brief.get("done_criteria", "")) if c.strip(" -*")]
    if criteria:
        data["done_criteria"] = criteria
    data["repos"] = ["self"]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _write_log(forum: Any, events: list[dict[str, Any]]) -> None:
    import orjson

    from metawsm.errors import MetawsmError

    with forum.log.locked():
        if forum.log.size():
            raise MetawsmError(f"the forum log {forum.log.path} is not empty",
                               hint="import-go starts the forum from the Go history (sequences preserved); "
                                    "move .metawsm/state/forum aside (and forum.db) first")
        data = b"".join(orjson.dumps(e) + b"\n" for e in events)
        with forum.log.path.open("ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def _policy(args: argparse.Namespace, proj: Any) -> dict[str, Any] | None:
    from metawsm.cli.policy_init import render, write_policy
    from metawsm.config.scaffold import POLICY, modeline

    source = resolve_path(args, args.policy)
    if not source.is_file():
        return None
    text, dropped = render(source)
    target = proj.metawsm_dir / "policy.yaml"
    untouched = target.exists() and target.read_text(encoding="utf-8") == modeline(
        "policy", ".metawsm/policy.yaml") + POLICY
    if target.exists() and not untouched and not args.force:
        return {"path": str(target), "written": False, "reason": "kept the existing policy (--force replaces it)"}
    write_policy(proj, target, text, force=True)
    return {"path": str(target), "written": True, "dropped": dropped}


def run(args: argparse.Namespace) -> int:
    from metawsm.config.loader import load_policy
    from metawsm.forum import Forum, reads
    from metawsm.forum.goimport import read_store

    proj = repository(args)
    store = read_store(resolve_path(args, args.db))
    forum = Forum.for_project(proj, load_policy(proj))
    try:
        if forum.log.size():
            _write_log(forum, [])  # raises, naming the log
        policy = _policy(args, proj)
        _write_log(forum, store.events)
        count = forum.reindex()
        marks = reads.path_for(forum.index.path)
        for thread_id, kind, viewer, seq, at in store.reads:
            reads.mark(marks, thread_id, kind, viewer, seq, at)
        threads = len(forum.list_threads(limit=10_000))
    finally:
        forum.shutdown()
    written, kept, invalid = [], [], []
    for ticket, brief in sorted(store.tickets.items()):
        if not TICKET_ID.match(ticket):
            invalid.append(ticket)
            continue
        path = proj.tickets_dir / f"{ticket}.yaml"
        if path.exists():
            kept.append(ticket)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_ticket_yaml(ticket, brief), encoding="utf-8")
        written.append(ticket)
    result = {"events": count, "threads": threads, "read_marks": len(store.reads), "go_runs": store.runs,
              "last_sequence": store.events[-1]["sequence"] if store.events else 0,
              "tickets_written": written, "tickets_kept": kept, "tickets_invalid": invalid, "policy": policy}

    def human(console: Any) -> None:
        console.print(f"imported {count} events ({threads} threads, last sequence {result['last_sequence']}), "
                      f"{len(store.reads)} read marks", markup=False)
        console.print(f"tickets written: {', '.join(written) or '-'}; kept: {', '.join(kept) or '-'}", markup=False)
        if invalid:
            console.print(f"not valid ticket ids here (their forum history is imported): {', '.join(invalid)}",
                          markup=False)
        if policy:
            console.print(f"policy: {policy['path']} " + ("written" if policy["written"] else policy["reason"]),
                          markup=False)

    args.out.result(result, human)
    return 0
