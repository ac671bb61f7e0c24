"""`agent:T:A`: the profile's command runs as its session's main command (Runtime) until the agent signals
completion for its current attempt. A completion from an older attempt never completes a newer one."""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from metawsm.agents import failures, launch, usagerec
from metawsm.agents.transcripts import transcript_path
from metawsm.engine.agentmoves import move
from metawsm.engine.kinds.agent_inputs import launch_inputs
from metawsm.engine.kinds.base import Outcome, StepRef, session_env
from metawsm.engine.kinds.session import labels_for
from metawsm.errors import MetawsmError
from metawsm.plan.steps import AgentStep
from metawsm.runtime.base import SessionSpec

log = logging.getLogger(__name__)
FATAL_CHECK_SECONDS = 3.0
_LAST_FATAL_CHECK: dict[str, float] = {}

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Agent


def agent_env(eng: Engine, ref: StepRef, attempt: int) -> dict[str, str]:
    step = ref.typed(AgentStep)
    env = {
        "METAWSM_HOME": str(eng.project.root),
        "METAWSM_PLAN": ref.run.plan_name,
        "METAWSM_AGENT": ref.agent,
        "METAWSM_PROFILE": step.profile,
    }
    env.update(session_env(ref, step.env, attempt))
    url = daemon_url(eng, ref)
    if url:  # signals from anywhere: the agent reports through the daemon with a token of its own
        env["METAWSM_SERVER"] = url
        env["METAWSM_TOKEN"] = eng.store.mint_agent_token(ref.run_id, ref.ticket, ref.agent)
    return env


def daemon_url(eng: Engine, ref: StepRef) -> str | None:
    """The daemon's URL when this agent reports through it: policy `server.agent_url`, and for an agent on a
    backend that does not see this machine's files (ssh) that URL or else `http://<server.addr>`; None otherwise."""
    from metawsm.runtime.registry import REMOTE_BACKENDS

    if eng.policy.server.agent_url:
        return eng.policy.server.agent_url
    if ref.typed(AgentStep).backend in REMOTE_BACKENDS:
        return f"http://{eng.policy.server.addr}"
    return None


def prepare_cli(ref: StepRef, env: dict[str, str]) -> None:
    """An AI CLI's first-run config for this worktree, and the variables its session needs (agents/launch.py)."""
    step = ref.typed(AgentStep)
    env.update(launch.prepare(step.cli, step.permissions, step.cwd, env, list(step.writable_dirs), step.mcp_config))


def transcript(eng: Engine, ref: StepRef, attempt: int) -> str | None:
    """Where this attempt's pane is logged: logs/<run>/<ticket>/<agent>.<attempt>.log (kept after stop and
    cleanup); None when the folder cannot be made (the agent still starts)."""
    path = transcript_path(eng.project.logs_dir, ref.run_id, ref.ticket, ref.agent, attempt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("no transcript for %s/%s attempt %s: %s", ref.ticket, ref.agent, attempt, exc)
        return None
    return str(path)


def usage_started(eng: Engine, ref: StepRef, attempt: int) -> None:
    """An AI agent's attempt gets its usage row (read from the CLI's records later); the previous attempt's
    numbers are read a last time, up to now."""
    step = ref.typed(AgentStep)
    if not step.cli:
        return
    if attempt > 1:
        usage_ended(eng, ref, attempt - 1)
    log_path = transcript_path(eng.project.logs_dir, ref.run_id, ref.ticket, ref.agent, attempt)
    try:
        eng.store.start_usage(ref.run_id, ref.ticket, ref.agent, attempt, cli=step.cli, cwd=step.cwd,
                              log=str(log_path), started_at=time.time())
    except MetawsmError as exc:  # usage is a report: it never keeps an agent from starting
        log.warning("no usage record for %s/%s attempt %s: %s", ref.ticket, ref.agent, attempt, exc)


def usage_ended(eng: Engine, ref: StepRef, attempt: int) -> None:
    """Read the attempt's usage from the CLI's records a last time (it ended: completed, exited, failed)."""
    step = ref.typed(AgentStep)
    if step.cli and attempt >= 1:
        env = launch.session_env(agent_env(eng, ref, attempt))
        usagerec.refresh(eng.store, env, ref.run_id, ref.ticket, ref.agent, attempt, ended_at=time.time())


class AgentKind:
    def start(self, eng: Engine, ref: StepRef) -> Outcome:
        step = ref.typed(AgentStep)
        failed = _own_prepared(ref)
        if failed is not None:
            return failed
        attempt = eng.store.new_attempt(ref.run_id, ref.ticket, ref.agent)
        usage_started(eng, ref, attempt)
        env = agent_env(eng, ref, attempt)
        command, note_file = launch_inputs(eng, ref, attempt, env)
        try:
            prepare_cli(ref, env)
            spec = SessionSpec(step.session, step.cwd, env, command, labels=labels_for(ref, attempt),
                               log=transcript(eng, ref, attempt), backend=step.backend or "local",
                               mounts=step.mounts)
            eng.runtime.create(replace(spec, command=None, log=None))  # adopts this repository's session
            pid = eng.runtime.respawn(spec)
            if note_file is not None:
                note_file.unlink(missing_ok=True)
        except MetawsmError as exc:
            return Outcome.failed(f"cannot start agent {ref.agent} for {ref.ticket}: {exc.message}")
        eng.forget_sessions()
        return self._launched(eng, ref, attempt, pid)

    def _launched(self, eng: Engine, ref: StepRef, attempt: int, pid: int | None) -> Outcome:
        agent = eng.store.get_agent(ref.run_id, ref.ticket, ref.agent)
        move(eng, agent, "running", reason=f"attempt {attempt} started")
        now = eng.clock()
        eng.store.update_agent(ref.run_id, ref.ticket, ref.agent, pane_pid=pid, exit_status=None,
                               last_activity_at=now, last_progress_at=now, stopped_by_user=False)
        return Outcome.running(note=f"attempt {attempt} started in session {ref.typed(AgentStep).session}")

    def start_many(self, eng: Engine, refs: Sequence[StepRef]) -> list[Outcome]:
        """`start` for all of a reconcile round's ready agents with few Runtime calls: one `respawn_many`, and
        for sessions that turned out missing one batched `create_many` and a second `respawn_many`. An agent the
        batch could not start is started on its own, so its error is its own."""
        launches = []
        early: dict[str, Outcome] = {}
        for ref in refs:
            failed = _own_prepared(ref)
            if failed is not None:
                early[ref.step.step_id] = failed
                continue
            attempt = eng.store.new_attempt(ref.run_id, ref.ticket, ref.agent)
            usage_started(eng, ref, attempt)
            env = agent_env(eng, ref, attempt)
            command, note_file = launch_inputs(eng, ref, attempt, env)
            try:
                prepare_cli(ref, env)
            except MetawsmError as exc:  # the agent's pane says why, and its note shows the pane
                command = f"printf '%s\\n' {shlex.quote('metawsm: ' + exc.message)}; exit 1"
            step = ref.typed(AgentStep)
            spec = SessionSpec(step.session, step.cwd, env, command, labels=labels_for(ref, attempt),
                               log=transcript(eng, ref, attempt), backend=step.backend or "local",
                               mounts=step.mounts)
            launches.append((ref, attempt, spec, note_file))
        # The sessions normally exist (their session steps made them): respawn first, and make only those that
        # could not be respawned — no listing of every session before (on docker, one `docker exec` per container).
        try:
            pids = eng.runtime.respawn_many([spec for _, _, spec, _ in launches])
            missing = [spec for _, _, spec, _ in launches if spec.name not in pids]
            if missing:
                eng.runtime.create_many([replace(spec, command=None, log=None) for spec in missing])
                pids.update(eng.runtime.respawn_many(missing))
        except MetawsmError:
            pids = {}
        outcomes: dict[str, Outcome] = dict(early)
        for ref, attempt, spec, note_file in launches:
            try:
                if spec.name in pids:
                    pid = pids[spec.name]
                else:
                    eng.runtime.create(replace(spec, command=None, log=None))
                    pid = eng.runtime.respawn(spec)
                if note_file is not None:
                    note_file.unlink(missing_ok=True)
            except MetawsmError as exc:
                outcomes[ref.step.step_id] = Outcome.failed(f"cannot start agent {ref.agent} for {ref.ticket}: "
                                                             f"{exc.message}")
                continue
            outcomes[ref.step.step_id] = self._launched(eng, ref, attempt, pid)
        eng.forget_sessions()
        return [outcomes[ref.step.step_id] for ref in refs]

    def poll(self, eng: Engine, ref: StepRef) -> Outcome:
        agent = eng.store.get_agent(ref.run_id, ref.ticket, ref.agent)
        if agent.status == "pending" or agent.attempt == 0:  # a crash between step start and launch
            return self.start(eng, ref)
        key = eng.agent_key(ref.ticket, ref.agent)
        state = eng.forum.control_state(ref.run_id, key, agent.attempt)
        if state.completion is None:
            pane = eng.sessions().get(agent.session)
            if pane is not None and not pane.dead:
                timeout = ref.typed(AgentStep).timeout_seconds
                started = ref.step.started_at or eng.clock()
                if timeout and eng.clock() - started > timeout:
                    self.stop(eng, ref)
                    usage_ended(eng, ref, agent.attempt)
                    move(eng, agent, "failed", reason="timed out")
                    return Outcome.failed(f"agent {ref.agent} of {ref.ticket} did not complete within {timeout}s")
                fatal = self._fatal(eng, ref, agent)
                if fatal is not None:
                    return fatal
                return Outcome.running(waiting=state.pending_question is not None)
            state = eng.forum.control_state(ref.run_id, key, agent.attempt)  # it may have signalled, then exited
            if state.completion is None:
                return self._ended(eng, ref, agent, pane)
        summary, _seq = state.completion
        try:  # a backend with its own copy of the worktree (ssh) brings the agent's commits back first
            eng.runtime.collect(agent.session, ref.typed(AgentStep).cwd)
        except MetawsmError as exc:
            return Outcome.failed(f"agent {ref.agent} of {ref.ticket} completed, but its work could not be brought "
                                  f"back: {exc.message}")
        usage_ended(eng, ref, agent.attempt)
        own = ref.typed(AgentStep).own
        if own is not None:  # plan `worktree: own`: its branch goes back into the ticket branch
            from metawsm.engine.kinds.ownworktree import merge_back

            problem = merge_back(own, ref.agent, ref.ticket)
            if problem is not None:
                move(eng, agent, "failed", reason="merge-back failed")
                return Outcome.failed(problem)
        move(eng, agent, "stopping", "stopped", reason=f"completed attempt {agent.attempt}")
        return Outcome.done(f"completed: {summary}" if summary else "completed")

    def _ended(self, eng: Engine, ref: StepRef, agent: Agent, pane: object) -> Outcome:
        session = agent.session
        usage_ended(eng, ref, agent.attempt)
        if pane is None:
            move(eng, agent, "dead", reason="session disappeared")
            return Outcome.failed(f"session {session} of agent {ref.agent} ({ref.ticket}) disappeared "
                                  f"before the agent signalled completion")
        code = getattr(pane, "exit_status", None)
        eng.store.update_agent(ref.run_id, ref.ticket, ref.agent, exit_status=code)
        move(eng, agent, "failed", reason=f"command exited with status {code}")
        try:
            text = eng.runtime.capture(session, 60)
        except MetawsmError:
            text = ""
        step = ref.typed(AgentStep)
        why = failures.explain(text, cli=step.cli, command=step.command)
        where = f"; {why}" if why else ""
        return Outcome.failed(f"agent {ref.agent} of {ref.ticket} exited with status {code} before signalling "
                              f"completion (attempt {agent.attempt}){where}")

    def _fatal(self, eng: Engine, ref: StepRef, agent: Agent) -> Outcome | None:
        """An AI CLI that keeps retrying a refused key fails now, not after minutes of silent retries."""
        step = ref.typed(AgentStep)
        if not step.cli:
            return None
        now = time.monotonic()
        if now - _LAST_FATAL_CHECK.get(agent.session, 0.0) < FATAL_CHECK_SECONDS:
            return None  # one pane capture per agent every few seconds, not on every poll
        _LAST_FATAL_CHECK[agent.session] = now
        try:
            text = eng.runtime.capture(agent.session, 40)
        except MetawsmError:
            return None
        found = failures.recognise("\n".join(failures.last_lines(text, 12)))
        if found is None or found.kind != "auth":
            return None
        why = failures.explain(text, cli=step.cli, command=step.command)
        self.stop(eng, ref)
        usage_ended(eng, ref, agent.attempt)
        move(eng, agent, "failed", reason="API key refused")
        return Outcome.failed(f"agent {ref.agent} of {ref.ticket} cannot reach its model (attempt {agent.attempt}): "
                              f"{why}")

    def stop(self, eng: Engine, ref: StepRef) -> None:
        session = ref.typed(AgentStep).session
        if session:
            eng.runtime.kill(session)
            eng.forget_sessions()


def _own_prepared(ref: StepRef) -> Outcome | None:
    """Plan `worktree: own`: the agent's worktree, made ready before its attempt starts; a failure is the step's."""
    own = ref.typed(AgentStep).own
    if own is None:
        return None
    from metawsm.engine.kinds.ownworktree import prepare

    try:
        prepare(own)
    except MetawsmError as exc:
        return Outcome.failed(f"cannot prepare the own worktree of {ref.ticket}/{ref.agent}: {exc.message}")
    return None
