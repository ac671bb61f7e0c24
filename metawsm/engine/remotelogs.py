"""Transcripts of agents whose backend writes them elsewhere: on an ssh host, tmux pipes each attempt's pane into
a file under the host's workdir; the local transcript (`logs/<run>/<ticket>/<agent>.<attempt>.log`, what
`metawsm logs`, the web UI and the TUI read) is brought up to date from it when it is read, and a last time
before `cleanup` removes the host's folder. Backends whose sessions write here (local, docker) need nothing."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from metawsm.agents.transcripts import transcript_path
from metawsm.errors import MetawsmError
from metawsm.plan.steps import SessionStep, StepDecodeError, typed

if TYPE_CHECKING:
    from metawsm.engine.context import Engine

log = logging.getLogger(__name__)
# backends whose sessions write their transcripts away from this machine, brought back by the backend's
# `fetch_outputs` (the others write the local file themselves, or keep none)
ELSEWHERE = frozenset({"ssh"})


def written_elsewhere(backend: str) -> bool:
    """Whether agents on ``backend`` write their transcripts away from this machine (they have one per attempt
    all the same: listing them does not need the files here)."""
    return backend in ELSEWHERE


def sync_transcripts(eng: Engine, run_id: str, *, ticket: str | None = None, agent: str | None = None) -> None:
    """Bring the local transcripts of the run's agents (or of one) on such backends up to date, every attempt,
    one round trip per agent. A failure is logged, never raised: a transcript is a report."""
    agents = {(a.ticket, a.name): a for a in eng.store.list_agents(run_id)
              if a.attempt >= 1 and ticket in (None, a.ticket) and agent in (None, a.name)}
    if not agents:
        return
    for step in eng.store.list_steps(run_id):
        found = agents.get((step.ticket or "", step.agent or "")) if step.kind == "session" else None
        if found is None:
            continue
        try:
            backend = typed(step, SessionStep).backend or "local"
        except StepDecodeError:
            continue
        if not written_elsewhere(backend):
            continue
        paths = [str(transcript_path(eng.project.logs_dir, run_id, found.ticket, found.name, n))
                 for n in range(1, found.attempt + 1)]
        try:
            eng.runtime.fetch_outputs(backend, found.session, paths)
        except MetawsmError as exc:
            log.warning("transcripts of %s/%s not brought back from %s: %s", found.ticket, found.name, backend,
                        exc.message)
