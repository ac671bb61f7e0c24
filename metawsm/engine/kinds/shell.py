"""`shell`: a plan's own step; a detached subprocess, or (tmux: true) a Runtime session you can attach to."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from metawsm.engine import detached
from metawsm.engine.kinds.base import Outcome, StepRef, session_env
from metawsm.engine.kinds.check import log_path
from metawsm.engine.kinds.session import labels_for
from metawsm.errors import MetawsmError
from metawsm.plan.steps import ShellStep
from metawsm.runtime.base import SessionSpec, safe_session_name

if TYPE_CHECKING:
    from metawsm.engine.context import Engine


def session_for(ref: StepRef) -> str:
    from metawsm.plan.naming import sanitize

    return safe_session_name(sanitize(f"{ref.run.plan_name}-{ref.step.step_id}"))


class ShellKind:
    def start(self, eng: Engine, ref: StepRef) -> Outcome:
        step = ref.typed(ShellStep)
        env = {**session_env(ref, step.env, ref.step.attempts), "METAWSM_HOME": str(eng.project.root)}
        cwd = Path(step.cwd)
        if not cwd.is_dir():
            return Outcome.failed(f"step {ref.step.step_id}: working directory {cwd} does not exist")
        if step.tmux:
            name = session_for(ref)
            try:
                eng.runtime.kill(name)  # a retry starts clean
                eng.runtime.create(SessionSpec(name, str(cwd), env, step.run, window_name="step",
                                               labels=labels_for(ref)))
            except MetawsmError as exc:
                return Outcome.failed(f"step {ref.step.step_id}: {exc.message}")
            eng.forget_sessions()
            return Outcome.running(note=f"running in session {name}")
        log = log_path(eng, ref)
        detached.start(step.run, cwd=cwd, env={**os.environ, **env}, log=log,
                       project_root=eng.project.root, run_id=ref.run_id)
        return Outcome.running(output_log=str(log))

    def poll(self, eng: Engine, ref: StepRef) -> Outcome:
        if ref.typed(ShellStep).tmux:
            pane = eng.sessions().get(session_for(ref))
            if pane is None:
                return Outcome.failed(f"step {ref.step.step_id}: its session disappeared")
            if not pane.dead:
                return Outcome.running()
            code = pane.exit_status
            return Outcome.done() if code == 0 else Outcome.failed(f"step {ref.step.step_id} exited with {code}")
        log = log_path(eng, ref)
        st = detached.status(log)
        if not st.finished:
            return Outcome.running(output_log=str(log)) if st.alive else Outcome.failed(
                f"step {ref.step.step_id} ended without an exit status", str(log))
        if st.exit_code == 0:
            return Outcome.done(output_log=str(log))
        last = " | ".join(detached.tail(log).splitlines()[-3:])
        return Outcome.failed(f"step {ref.step.step_id} exited with {st.exit_code}: {last}", str(log))

    def stop(self, eng: Engine, ref: StepRef) -> None:
        if ref.typed(ShellStep).tmux:
            eng.runtime.kill(session_for(ref))
        else:
            detached.stop(log_path(eng, ref))
