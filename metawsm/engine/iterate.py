"""`metawsm iterate`: a new review round for a ticket — its (selected) agents start a new attempt with the
feedback appended to their prompt ($METAWSM_FEEDBACK / $METAWSM_FEEDBACK_FILE for shell agents, see
engine/kinds/agent_inputs.py); the feedback is posted in each agent's control thread, so earlier rounds stay
in the thread; the ticket goes back to `working` (engine/tickets.py) and its checks and gate run again. One
operation under the run's lease: two rounds started at once never take the same round number, and the restarts
of its agents come after the round's files and posts (restart_agents re-enters the lease)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from metawsm.engine.kinds.agent_inputs import agent_round, feedback_dir, round_file
from metawsm.engine.locking import locked
from metawsm.errors import MetawsmError, NotFoundError, UsageError
from metawsm.state.machines import SETTLED_TICKET_STATES

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Agent, Run

MAX_FEEDBACK_BYTES = 60_000  # one forum post, and an environment variable the agent's session can carry
REFUSED = SETTLED_TICKET_STATES | {"closing"}


@dataclass
class IterateResult:
    run_id: str
    ticket: str
    round: int
    agents: list[str]
    dry_run: bool
    feedback_file: str
    actions: list[str] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)  # where the feedback was posted
    status: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_feedback(text: str) -> str:
    if not text.strip():
        raise UsageError("the feedback is empty", hint="give --feedback TEXT or --feedback-file FILE")
    if len(text.encode("utf-8")) > MAX_FEEDBACK_BYTES:
        raise UsageError(f"the feedback is {len(text.encode('utf-8'))} bytes; at most {MAX_FEEDBACK_BYTES}",
                         hint="shorten it, or point the agents at a file in the repository")
    return text


def _agents(eng: Engine, run: Run, ticket: str, names: list[str] | None) -> list[Agent]:
    mine = [a for a in eng.store.list_agents(run.run_id) if a.ticket == ticket]
    if not mine:
        raise NotFoundError(f"ticket {ticket} has no agents in run {run.run_id}")
    if not names:
        return mine
    known = {a.name: a for a in mine}
    missing = [n for n in names if n not in known]
    if missing:
        raise NotFoundError(f"no agent {', '.join(missing)} for {ticket} in run {run.run_id}",
                            hint=f"its agents: {', '.join(sorted(known))}")
    return [known[n] for n in dict.fromkeys(names)]


def _post(eng: Engine, run: Run, agent: Agent, round_no: int, text: str) -> str:
    """The feedback in the agent's control thread (a new thread when it has none open): its rounds stay there."""
    from metawsm.forum.ids import control_thread_id

    body = f"Review feedback (round {round_no}) for {agent.ticket}/{agent.name}:\n\n{text.strip()}"
    thread = control_thread_id(run.run_id, eng.agent_key(agent.ticket, agent.name))
    try:
        return eng.forum.post(thread, body, actor_type="human", actor_name="iterate").thread_id
    except MetawsmError:  # no control thread yet (the agent never signalled), or it was closed
        return eng.forum.open_thread(agent.ticket, f"Review feedback (round {round_no}) for {agent.name}", body,
                                     run_id=run.run_id, agent_name=eng.agent_key(agent.ticket, agent.name),
                                     actor_type="human", actor_name="iterate").thread_id


@locked("iterate")
def iterate(eng: Engine, run: Run, ticket: str, feedback: str, *, agents: list[str] | None = None,
            dry_run: bool = False, max_parallel: int | None = None) -> IterateResult:
    from metawsm.engine.lifecycle import restart_agents
    from metawsm.engine.tickets import walk

    check_feedback(feedback)
    state = eng.store.get_ticket(ticket)
    if state is not None and state.status in REFUSED:
        raise MetawsmError(f"ticket {ticket} is {state.status}; a new round needs an open ticket",
                           hint=f"`metawsm reopen {ticket}` first" if state.status != "closing" else
                           f"finish the close first: `metawsm close --ticket {ticket}`")
    if run.status in ("closed", "ended"):
        raise MetawsmError(f"run {run.run_id} is {run.status}; its tickets cannot iterate",
                           hint=f"`metawsm reopen {ticket}` then `metawsm apply {run.plan_name}`")
    chosen = _agents(eng, run, ticket, agents)
    state_dir = eng.project.state_dir
    all_agents = [a.name for a in eng.store.list_agents(run.run_id) if a.ticket == ticket]
    round_no = 1 + max([1, *(agent_round(state_dir, run.run_id, ticket, a) for a in all_agents)])
    path = round_file(state_dir, run.run_id, ticket, round_no)
    result = IterateResult(run.run_id, ticket, round_no, [a.name for a in chosen], dry_run, str(path))
    verb = "would " if dry_run else ""
    result.actions.append(f"{verb}write the feedback of round {round_no} to {path}")
    for a in chosen:
        result.actions.append(f"{verb}post it in {a.ticket}/{a.name}'s thread and start attempt {a.attempt + 1} "
                              "with it appended to the prompt ($METAWSM_FEEDBACK, $METAWSM_FEEDBACK_FILE)")
    status = state.status if state else "open"
    result.actions.append(f"{verb}move {ticket} from {status} to working; its checks and gate run again")
    if dry_run:
        result.status = run.status
        return result
    feedback_dir(state_dir, run.run_id, ticket).mkdir(parents=True, exist_ok=True)
    path.write_text(feedback.strip() + "\n", encoding="utf-8")
    for a in chosen:
        (feedback_dir(state_dir, run.run_id, ticket) / f"{a.name}.round").write_text(str(round_no), encoding="utf-8")
        result.threads.append(_post(eng, run, a, round_no, feedback))
    walk(eng, ticket, "working", f"review round {round_no}", run=run)
    # every chosen agent in one restart: one by one, a reconcile between them could run the implementer to
    # completion and start its reviewer, which the next restart would then start again
    outcome = restart_agents(eng, eng.store.get_run(run.run_id), several=[f"{a.ticket}/{a.name}" for a in chosen],
                             reason=f"review feedback (round {round_no})", max_parallel=max_parallel) \
        if chosen else None
    result.status = outcome.status if outcome else run.status
    return result
