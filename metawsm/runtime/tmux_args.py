"""tmux command-line pieces: argument escaping, the window command wrapper, session labels as user options,
the agent environment, and batching of chained invocations."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from metawsm.errors import ExternalError
from metawsm.runtime import envpass
from metawsm.runtime.base import safe_session_name

BATCH = 20  # new-session commands per tmux invocation in start_many
# tmux refuses a command line over 16 KiB ("command too long"); chained batches stay under this many bytes
# of arguments (each session's -e environment, with PATH, is about 1 KiB).
BATCH_BYTES = 12_000


def chunks(parts: Sequence[Sequence[str]], most: int = BATCH, limit: int = BATCH_BYTES) -> list[list[int]]:
    """Indexes of ``parts`` (one tmux command list each) grouped so that each group, chained with ';',
    fits in one tmux invocation. A single over-long part gets a group of its own (and tmux's error)."""
    groups: list[list[int]] = []
    size = 0
    for index, args in enumerate(parts):
        n = sum(len(a.encode()) + 1 for a in args) + 2
        if not groups or len(groups[-1]) >= most or size + n > limit:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += n
    return groups


def bin_dir() -> str:
    """The folder of the interpreter running metawsm (a virtualenv's bin holds the ``metawsm`` script)."""
    return str(Path(sys.executable).parent)


def agent_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` over the variables every session gets from the starting command (runtime/envpass.py), with
    PATH starting with :func:`bin_dir` (PATH defaults to this process's PATH)."""
    result = {**envpass.passed(), **env}
    first = bin_dir()
    parts = [p for p in (result.get("PATH") or os.environ.get("PATH", "")).split(os.pathsep) if p]
    if not parts or parts[0] != first:
        parts.insert(0, first)
    result["PATH"] = os.pathsep.join(parts)
    return result


def check_session_name(name: str) -> str:
    if not name or name != safe_session_name(name):
        raise ExternalError(
            f"invalid tmux session name {name!r}: tmux would rename it",
            hint=f"use {safe_session_name(name)!r} (metawsm.runtime.tmux.safe_session_name)",
        )
    return name


def arg(value: str) -> str:
    """tmux ends a command at an argument ending in ';'; escape that ';' so the value reaches tmux intact."""
    return value[:-1] + "\\;" if value.endswith(";") else value


def env_args(env: Mapping[str, str], command: str | None = None) -> list[str]:
    """``-e`` arguments; PATH only when there is no command (a command gets PATH from :func:`command_args`)."""
    args: list[str] = []
    for key, value in env.items():
        if key == "PATH" and command is not None:
            continue
        if not key or "=" in key:
            raise ExternalError(f"invalid environment variable name {key!r} for tmux")
        args += ["-e", arg(f"{key}={value}")]
    return args


# The window command: the user's command runs in an inner /bin/sh (passed as "$1", never interpolated);
# its exit code is then stored in the pane option @metawsm_exit through the pane's own server ($TMUX).
# tmux's own #{pane_dead_status} is sometimes left empty for panes that exit close together (tmux 3.3),
# so the snapshot reads the option first. The code is stored as `CODE:PID` with the wrapper's pid ($$, the
# pane's process: tmux execs the argv and /usr/bin/env execs /bin/sh): a respawn keeps the pane (its id), so
# an old command's wrapper that records its code just after a respawn (`respawn-pane -k` does not stop a
# tmux client already sending the option) would otherwise mark the new attempt's live pane as exited; the
# snapshot keeps a code only when PID is the pane's current pid (tmux_panes.parse_pane).
WRAPPER = ('/bin/sh -c "$1"; s=$?; "$2" set-option -p -t "$TMUX_PANE" @metawsm_exit "$s:$$" 2>/dev/null; '
           'exit "$s"')
EXIT_OPTION = "@metawsm_exit"


def command_args(command: str | None, tmux_bin: str = "tmux", env: Mapping[str, str] | None = None) -> list[str]:
    """The window command. tmux 3.3 gives a new pane the *client's* PATH whatever ``-e PATH`` says, and the
    server's stale copy of any variable not passed: ``env`` sets PATH and unsets stale credentials first."""
    if command is None:
        return []
    prefix: list[str] = []
    if env is not None:
        prefix = ["/usr/bin/env"]
        for name in envpass.to_unset(env):
            prefix += ["-u", name]
        if "PATH" in env and env["PATH"] != os.environ.get("PATH"):  # else the client's PATH is right
            prefix.append(arg(f"PATH={env['PATH']}"))
    return [*prefix, "/bin/sh", "-c", WRAPPER, "metawsm-agent", arg(command), arg(tmux_bin)]


LABEL_PREFIX = "@metawsm_"  # a session label `repo` is the tmux session option `@metawsm_repo`


def label_args(target: str, labels: Mapping[str, str]) -> list[str]:
    """Chained `set-option` commands recording ``labels`` as user options of session ``target`` (each
    command starts with ';', so the result is appended to another command)."""
    args: list[str] = []
    for key, value in sorted(labels.items()):
        args += [";", "set-option", "-t", arg(f"={target}:"), f"{LABEL_PREFIX}{key}", arg(value)]
    return args
