"""What the run page shows of each agent beyond its snapshot: the full failure note of its step (what
`metawsm status -v` prints) and the attempts that have a transcript; and one transcript, as plain text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metawsm.agents import transcripts
from metawsm.engine.remotelogs import written_elsewhere

TRANSCRIPT_SHOWN = 2_000_000  # characters of a transcript a page shows: the last ones (where it ended)


@dataclass(frozen=True)
class Transcript:
    attempt: int
    attempts: list[int]
    text: str
    cut: bool


def agent_extras(logs_dir: Path, snap: Any) -> tuple[dict[str, str], dict[str, list[int]]]:
    """agent key → its step's failure note (failed steps only); agent key → attempts with a transcript."""
    steps = {s.step_id: s for s in snap.steps}
    notes: dict[str, str] = {}
    logs: dict[str, list[int]] = {}
    for a in snap.agents:
        step = steps.get(f"agent:{a.ticket}:{a.name}")
        if step is not None and step.status == "failed" and step.last_error:
            notes[a.key] = step.last_error
        logs[a.key] = transcripts.attempts(logs_dir, snap.run_id, a.ticket, a.name)
        if written_elsewhere(a.backend) and a.attempt >= 1:  # on its host (an ssh agent): fetched when opened
            logs[a.key] = sorted({*logs[a.key], *range(1, a.attempt + 1)})
    return notes, logs


def read_transcript(logs_dir: Path, run_id: str, ticket: str, agent: str, attempt: int | None) -> Transcript | None:
    """The attempt's transcript (the latest when None), control sequences removed; None when there is none."""
    found = transcripts.attempts(logs_dir, run_id, ticket, agent)
    if not found or (attempt is not None and attempt not in found):
        return None
    chosen = found[-1] if attempt is None else attempt
    path = transcripts.transcript_path(logs_dir, run_id, ticket, agent, chosen)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            handle.seek(max(0, size - TRANSCRIPT_SHOWN))
            text = transcripts.plain(handle.read().decode("utf-8", errors="replace"))
    except OSError:
        return None
    return Transcript(chosen, found, text, size > TRANSCRIPT_SHOWN)
