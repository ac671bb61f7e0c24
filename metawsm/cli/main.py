"""`metawsm` entry point: argument parsing, dispatch, and the one error boundary.

Exit codes: 0 ok · 1 error · 2 usage or validation · 3 gate refused or unexpected crash ·
4 timeout · 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from pathlib import Path

from metawsm import __version__
from metawsm.cli.common import GLOBAL, Parser
from metawsm.cli.goflags import add_aliases, normalize, rewrite
from metawsm.errors import EXIT_GATE, EXIT_INTERRUPTED, EXIT_USAGE, MetawsmError, UsageError
from metawsm.output import Output

# One module per verb under metawsm/cli/; each defines add_parser(subparsers) and run(args) -> int.
COMMANDS = (
    "init",
    "validate",
    "schema",
    "plan",
    "apply",
    "reconcile",
    "stop",
    "resume",
    "restart",
    "cleanup",
    "forget",
    "gate",
    "diff",
    "close",
    "reopen",
    "abandon",
    "forum",
    "signal",
    "ask",
    "mcp",
    "hooks",
    "status",
    "watch",
    "attach",
    "operator",
    "serve",
    "doctor",
    "image",
    "k8s",
    "logs",
    "agent-event",
    # the Go metawsm's verbs (docs/commands.md, "Go metawsm command lines")
    "run",
    "policy-init",
    "merge",
    "commit",
    "import-go",
    "bootstrap",
    "docs",
    "auth",
    "review",
    "iterate",
    "push",
    "pr",
    "tui",
)
# Verbs whose module is not named after them.
MODULES = {"agent-event": "agent_event",
           "policy-init": "policy_init", "import-go": "import_go", "bootstrap": "retired", "docs": "retired",
           "auth": "retired", "review": "retired"}

DESCRIPTION = """\
Run coding agents across tickets and git worktrees, declaratively.

Keep tickets (tickets/*.yaml), a policy (.metawsm/policy.yaml) and plans (plans/*.yaml) in your
repository; metawsm validates them, renders plans into a step graph and runs it.
"""

EPILOG = """\
exit codes: 0 ok, 1 error, 2 usage or validation error, 3 gate refused or internal error,
4 timeout, 130 interrupted"""


def chosen_command(argv: list[str]) -> str | None:
    """The verb of `argv` (skipping global options), when it is a known one."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-C", "--lock-timeout"):
            skip = True
        elif not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `only`, other verbs get a help-only stub (building every verb's options
    costs tens of milliseconds on each start, and a run needs just its own)."""
    parser = Parser(
        prog="metawsm",
        description=DESCRIPTION,
        epilog=EPILOG,
        parents=[GLOBAL],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"metawsm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        if only is None or name == only:
            module = importlib.import_module(f"metawsm.cli.{MODULES.get(name, name)}")
            named = getattr(module, "add_named_parser", None)
            if named is not None:
                named(sub, name)
            else:
                module.add_parser(sub)
        else:  # a name-only stub: the chosen verb's run never shows the others' help
            sub.add_parser(name, add_help=False)
    add_aliases(parser)
    return parser


def _crash_log(cwd: Path) -> Path:
    from metawsm.config.project import find_root

    root = find_root(cwd)
    if (root / ".metawsm").is_dir():
        return root / ".metawsm" / "state" / "logs" / "crash.log"
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "metawsm" / "crash.log"


def _record_crash(cwd: Path, argv: list[str]) -> Path | None:
    try:
        path = _crash_log(cwd)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            # imported here, on the crash path only (about 3 ms of every start otherwise)
            import traceback
            from datetime import UTC, datetime

            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            fh.write(f"--- {stamp} metawsm {__version__} argv={argv!r}\n{traceback.format_exc()}\n")
        return path
    except OSError:
        return None


_STORAGE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_SQLITE_STORAGE = ("readonly", "disk is full", "unable to open database", "disk i/o error")


def _storage_error(exc: BaseException, cwd: Path) -> str | None:
    """A message naming the path, for a read-only or full file system (not an internal error)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno in _STORAGE_ERRNOS:
            where = seen.filename or "the state folder"
            return (f"cannot write {where}: {seen.strerror or seen} "
                    "(read-only file system, missing permission or no space left)")
        if type(seen).__module__ == "sqlite3" and any(k in str(seen).lower() for k in _SQLITE_STORAGE):
            from metawsm.config.project import find_root

            where = find_root(cwd) / ".metawsm" / "state"
            return (f"cannot write the databases in {where}: {seen} "
                    "(read-only file system, missing permission or no space left)")
        seen = seen.__cause__ or seen.__context__
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-V"]):  # fast path: no parser, no imports
        sys.stdout.write(f"metawsm {__version__}\n")
        return 0
    json_mode = "--json" in argv
    out = Output(json_mode=json_mode, color=False if "--no-color" in argv else None)
    cwd = Path.cwd()
    try:
        argv = rewrite(argv)
        parser = build_parser(only=chosen_command(argv) if "-h" not in argv and "--help" not in argv else None)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version
            return int(exc.code or 0)
        out = Output(
            json_mode=getattr(args, "json", False),
            color=False if getattr(args, "no_color", False) else None,
            verbose=getattr(args, "verbose", 0) or 0,
        )
        if getattr(args, "directory", None):
            cwd = Path(args.directory)
            if not cwd.is_dir():
                raise UsageError(f"-C {args.directory}: no such directory")
        args.cwd = str(cwd.resolve())
        args.out = out
        normalize(args)
        lock_timeout = getattr(args, "lock_timeout", None)
        if lock_timeout is not None or "metawsm.engine.locking" in sys.modules:  # (re)set per call, lazily
            from metawsm.engine.locking import set_timeout

            set_timeout(lock_timeout)
        handler = getattr(args, "run", None)
        if handler is None:
            if args.command is None:
                parser.print_help(sys.stderr)
                return EXIT_USAGE
            raise UsageError(f"metawsm {args.command}: a sub-command is required",
                             hint=f"see `metawsm {args.command} --help`")
        return int(handler(args))
    except MetawsmError as exc:
        if out.json_mode:
            out.error_json(exc.to_json())
        out.error(exc.render())
        return exc.exit_code
    except KeyboardInterrupt:
        out.error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1
    except Exception as exc:
        storage = _storage_error(exc, cwd)
        if storage:
            if out.json_mode:
                out.error_json({"error": {"code": "storage", "message": storage}})
            out.error(storage)
            return 1
        log = _record_crash(cwd, argv)
        where = f" (traceback in {log})" if log else ""
        out.error(f"internal error: {type(exc).__name__}: {exc}{where}")
        return EXIT_GATE


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
