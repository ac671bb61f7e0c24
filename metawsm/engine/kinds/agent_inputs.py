"""What an agent attempt is launched with beyond its rendered command: the full prompt written to a file
(`$METAWSM_PROMPT_FILE`), a restart note (`$METAWSM_RESTART_NOTE`, engine/lifecycle.py) and the review
feedback of the ticket's current round (`$METAWSM_FEEDBACK`, `$METAWSM_FEEDBACK_FILE`, engine/iterate.py).

Where a profile passes the prompt as `{{ prompt | shquote }}`, the note goes in front of the prompt and the
feedback after it, so AI agents read them too; shell agents read the variables and files."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from metawsm.plan.steps import AgentStep

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.engine.kinds.base import StepRef

log = logging.getLogger(__name__)


def restart_note_path(eng: Engine, run_id: str, ticket: str, agent: str) -> Path:
    """Where a restart leaves its note for the agent's next attempt (engine/lifecycle.py writes it)."""
    return eng.project.state_dir / "restart" / run_id / f"{ticket}__{agent}.txt"


def prompt_path(state_dir: Path, run_id: str, ticket: str, agent: str, attempt: int) -> Path:
    return state_dir / "prompts" / run_id / ticket / f"{agent}.{attempt}.md"


def feedback_dir(state_dir: Path, run_id: str, ticket: str) -> Path:
    return state_dir / "feedback" / run_id / ticket


def round_file(state_dir: Path, run_id: str, ticket: str, round_no: int) -> Path:
    return feedback_dir(state_dir, run_id, ticket) / f"round-{round_no}.md"


def agent_round(state_dir: Path, run_id: str, ticket: str, agent: str) -> int:
    """The review round `agent` of `ticket` is in (0: none yet, no feedback)."""
    try:
        return int((feedback_dir(state_dir, run_id, ticket) / f"{agent}.round").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0


def feedback_section(round_no: int, text: str) -> str:
    return (f"REVIEW FEEDBACK (round {round_no}): your previous work on this ticket was reviewed. Address the "
            f"feedback below on the same branch, commit, then signal completion again.\n\n{text.strip()}")


def launch_inputs(eng: Engine, ref: StepRef, attempt: int, env: dict[str, str]) -> tuple[str, Path | None]:
    """(command to run, the restart note file to remove once launched); fills `env`."""
    state_dir = eng.project.state_dir
    spec = ref.typed(AgentStep)
    command, prompt = spec.command, spec.prompt
    parts = [prompt] if prompt else []
    note_path: Path | None = restart_note_path(eng, ref.run_id, ref.ticket, ref.agent)
    try:
        note = note_path.read_text(encoding="utf-8")  # type: ignore[union-attr]
    except OSError:
        note_path = None
    else:
        env["METAWSM_RESTART_NOTE"] = note
        parts.insert(0, note)
    round_no = agent_round(state_dir, ref.run_id, ref.ticket, ref.agent)
    if round_no:
        path = round_file(state_dir, ref.run_id, ref.ticket, round_no)
        try:
            feedback = path.read_text(encoding="utf-8")
        except OSError as exc:
            log.warning("feedback of round %s for %s/%s is unreadable: %s", round_no, ref.ticket, ref.agent, exc)
        else:
            env.update(METAWSM_FEEDBACK=feedback, METAWSM_FEEDBACK_FILE=str(path), METAWSM_ROUND=str(round_no))
            parts.append(feedback_section(round_no, feedback))
    full = "\n\n".join(parts)
    if prompt and full != prompt and shlex.quote(prompt) in command:
        command = command.replace(shlex.quote(prompt), shlex.quote(full), 1)
    target = prompt_path(state_dir, ref.run_id, ref.ticket, ref.agent, attempt)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(full + "\n", encoding="utf-8")
    except OSError as exc:  # the agent still starts; only the file is missing
        log.warning("cannot write the prompt of %s/%s: %s", ref.ticket, ref.agent, exc)
    else:
        env["METAWSM_PROMPT_FILE"] = str(target)
    return command, note_path
