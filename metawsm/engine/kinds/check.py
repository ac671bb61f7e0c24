"""`check:T`: the plan's checks run in the ticket workspace (detached, logged); the result is recorded as a
`validation` signal with the HEAD sha it validated. Unchanged tree + commands since a passed validation:
the result is reused instead of running the commands again."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from metawsm.engine import detached
from metawsm.engine.kinds.base import Outcome, StepRef, session_env
from metawsm.errors import MetawsmError
from metawsm.gate.context import CHECKS_AGENT
from metawsm.plan.steps import CheckStep
from metawsm.runtime import git

if TYPE_CHECKING:
    from metawsm.engine.context import Engine


def check_script(commands: list[str]) -> str:
    """Run each command in order, echoing it; stop at the first failure with its exit code."""
    lines = []
    for command in commands:
        lines.append(f"printf '%s\\n' {shlex.quote('$ ' + command)}")
        lines.append(f"/bin/sh -c {shlex.quote(command)}")
        lines.append(f"rc=$?; if [ $rc -ne 0 ]; then printf '%s\\n' \"{FAILED_MARK}$rc: \"{shlex.quote(command)}; "
                     "exit $rc; fi")
    return "\n".join(lines) + "\n"


FAILED_MARK = "metawsm: check failed with exit "
TAIL_SHOWN = 5  # lines of output a failed check's note quotes


def failure_note(ticket: str, exit_code: int | None, tail: str, log: Path) -> str:
    """What a person needs to act on a failed check: the command, its exit code, its last lines, the log."""
    lines = tail.splitlines()
    command = None
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith(FAILED_MARK):
            command = lines[i][len(FAILED_MARK):].partition(": ")[2]
            lines = lines[:i]
            break
    last = " | ".join(ln.strip() for ln in lines[-TAIL_SHOWN:] if ln.strip() and not ln.startswith("$ "))
    what = f"`{command}` exited {exit_code}" if command else f"exit {exit_code}"
    return (f"checks failed for {ticket}: {what}; last lines: {last or '(no output)'}; "
            f"full log: {log} (`metawsm logs {ticket} --check`)")


def log_path(eng: Engine, ref: StepRef) -> Path:
    return eng.logs_dir(ref.run_id) / (ref.step.step_id.replace(":", "_").replace("/", "_") + ".log")


def log_path_for(logs_dir: Path, run_id: str, ticket: str) -> Path:
    """Where `check:<ticket>` of `run_id` writes its log (the same path as log_path, without creating it)."""
    return logs_dir / run_id / f"check_{ticket.replace('/', '_')}.log"


class CheckKind:
    def _cache(self, eng: Engine, ticket: str) -> Path:
        return eng.project.state_dir / "checks" / f"{ticket}.json"

    def _key(self, cwd: str, commands: list[str]) -> tuple[str, str]:
        return git.tree_hash(cwd), hashlib.sha256("\n".join(commands).encode()).hexdigest()

    def start(self, eng: Engine, ref: StepRef) -> Outcome:
        step = ref.typed(CheckStep)
        cwd, commands = step.cwd, list(step.commands)
        log = log_path(eng, ref)
        try:
            tree, cmds = self._key(cwd, commands)
        except MetawsmError as exc:
            return Outcome.failed(f"cannot read the workspace of {ref.ticket}: {exc.message}")
        cached = self._read_cache(eng, ref.ticket)
        if cached and cached.get("tree") == tree and cached.get("commands") == cmds and cached["status"] == "passed":
            self._record(eng, ref, "passed", f"(unchanged since the passed validation of {cached['sha'][:12]})")
            return Outcome.done("checks unchanged since they passed: not run again", output_log=str(log))
        env = {**os.environ, **session_env(ref, None, ref.step.attempts), "METAWSM_HOME": str(eng.project.root)}
        detached.start(check_script(commands), cwd=Path(cwd), env=env, log=log,
                       project_root=eng.project.root, run_id=ref.run_id)
        return Outcome.running(output_log=str(log))

    def poll(self, eng: Engine, ref: StepRef) -> Outcome:
        log = log_path(eng, ref)
        st = detached.status(log)
        if not st.finished:
            if st.alive:
                return Outcome.running(output_log=str(log))
            return Outcome.failed(f"check process for {ref.ticket} ended without an exit status", str(log))
        status = "passed" if st.exit_code == 0 else "failed"
        tail = detached.tail(log)
        try:
            sha = self._record(eng, ref, status, tail)
            if status == "passed":
                step = ref.typed(CheckStep)
                tree, cmds = self._key(step.cwd, list(step.commands))
                path = self._cache(eng, ref.ticket)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"tree": tree, "commands": cmds, "status": status, "sha": sha}))
        except MetawsmError as exc:
            return Outcome.failed(f"cannot record the validation of {ref.ticket}: {exc.message}", str(log))
        if status == "passed":
            return Outcome.done("checks passed", output_log=str(log))
        return Outcome.failed(failure_note(ref.ticket, st.exit_code, tail, log), str(log))

    def stop(self, eng: Engine, ref: StepRef) -> None:
        detached.stop(log_path(eng, ref))

    def _read_cache(self, eng: Engine, ticket: str) -> dict[str, str] | None:
        try:
            return json.loads(self._cache(eng, ticket).read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    def _record(self, eng: Engine, ref: StepRef, status: str, tail: str) -> str:
        step = ref.typed(CheckStep)
        sha = git.head_sha(step.cwd)
        eng.forum.signal(ref.run_id, ref.ticket, eng.agent_key(ref.ticket, CHECKS_AGENT), max(ref.step.attempts, 1),
                         "validation", status=status, done_criteria="checks: " + "; ".join(step.commands),
                         sha=sha, output_tail=tail[-2000:] or None, actor_type="system", actor_name="metawsm")
        return sha
