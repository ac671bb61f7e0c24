"""The host's copy of ticket worktrees (ssh backend), made for a batch of sessions with a fixed number of ssh
round trips: one command makes the folder and the bare mirrors and says which worktrees exist, one `git push`
per local repository sends every new branch, one command adds the new worktrees and records each one's
bookkeeping (``meta/<ticket>.json``: run, ticket, branch, local worktree, local git dir, mirror, worktree)."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from metawsm.errors import ExternalError
from metawsm.runtime import proc
from metawsm.runtime.base import SessionSpec
from metawsm.runtime.ssh_conn import SshHost, short_id


@dataclass(frozen=True)
class Copy:
    """Where one session's local folder lives on the host."""

    local: str  # the local worktree's root
    common: str  # its repository's git dir
    branch: str
    mirror: str
    worktree: str
    cwd: str  # the session's folder on the host


def _locate(cwd: str, base: str) -> Copy:
    found = proc.run(["git", "-C", cwd, "rev-parse", "--show-toplevel", "--git-common-dir", "--abbrev-ref", "HEAD"],
                     timeout=60, check=False)
    if not found.ok:  # a ticket with several repositories works in a folder holding one worktree per repository
        raise ExternalError(f"the ssh backend copies one git worktree per ticket to its host, and {cwd} is not one "
                            "(a ticket with several repositories works in a folder of worktrees)",
                            hint="run this ticket's agents on local or docker (`runtime: local` on the plan agent)")
    out = found.stdout.splitlines()
    local, common, branch = out[0], str(Path(out[0], out[1]).resolve()), out[2]
    mirror = f"{base}/{short_id(common)}.git"
    worktree = f"{base}/{short_id(common)}-{branch.replace('/', '-')}"
    rel = os.path.relpath(cwd, local)
    return Copy(local, common, branch, mirror, worktree, worktree if rel == "." else f"{worktree}/{rel}")


def meta_path(base: str, ticket: str) -> str:
    return f"{base}/meta/{ticket}.json"


def prepare(host: SshHost, base: str, specs: Sequence[SessionSpec], owner: dict[str, str] | None = None) -> list[Copy]:
    """The host's copy for each spec (made where missing), in the order of ``specs``; ``owner`` (the repository's
    ``repo`` id and ``home``) is recorded in each worktree's bookkeeping beside its run and ticket."""
    q = shlex.quote
    copies = [_locate(spec.cwd, base) for spec in specs]
    checks = [f"mkdir -p {q(base)}/meta {q(base)}/logs"]  # logs: the sessions' transcripts (SshRuntime)
    for mirror in dict.fromkeys(c.mirror for c in copies):
        checks.append(f"{{ test -d {q(mirror)} || git init -q --bare {q(mirror)}; }}")
    for index, copy in enumerate(copies):
        checks.append(f"{{ test -d {q(copy.worktree)} || echo {index}; }}")
    missing = {int(line) for line in host.run(" && ".join(checks)).stdout.split()}
    new = [copies[i] for i in sorted(missing)]
    env = {**os.environ, "GIT_SSH_COMMAND": host.git_ssh_command()}
    for common in dict.fromkeys(c.common for c in new):
        mine = [c for c in new if c.common == common]
        refs = [f"refs/heads/{b}:refs/heads/{b}" for b in dict.fromkeys(c.branch for c in mine)]
        proc.run(["git", f"--git-dir={common}", "push", "-q", host.git_url(mine[0].mirror), *refs], env=env,
                 timeout=300)
    steps = []
    for copy in dict.fromkeys(new):
        steps.append(f"git -C {q(copy.mirror)} worktree add -q {q(copy.worktree)} {q(copy.branch)}")
    for spec, copy in zip(specs, copies, strict=True):
        ticket = spec.labels.get("ticket", "")
        if ticket:  # no secret in it: it may travel on the command line
            meta = {**(owner or {}), "run": spec.labels.get("run", ""), "ticket": ticket, "branch": copy.branch,
                    "local": copy.local,
                    "common": copy.common, "mirror": copy.mirror, "worktree": copy.worktree}
            steps.append(f"printf '%s\\n' {q(json.dumps(meta))} > {q(meta_path(base, ticket))}")
    if steps:
        host.run(" && ".join(steps))
    return copies
