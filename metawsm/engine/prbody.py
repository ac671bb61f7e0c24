"""The title and body of a ticket's pull request (`metawsm pr`): the ticket's title, goal and done criteria, the
agents' completion summaries, the latest validation, the reviewers' verdicts and the diffstat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from metawsm.errors import MetawsmError

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run

MAX_BODY = 60_000  # GitHub refuses bodies past 65,536 characters


def _ticket(eng: Engine, ticket: str) -> dict[str, Any]:
    """The ticket file's data (title, goal, done criteria); {} when it is gone or does not parse (the body is
    then plainer, never an error: the branch is already pushed)."""
    import yaml

    path = eng.project.root / "tickets" / f"{ticket}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def pr_body(eng: Engine, run: Run, ticket: str, pushed: list[dict[str, str]]) -> tuple[str, str]:
    from metawsm.engine.ticketdiff import ticket_diff
    from metawsm.gate.evaluate import latest_validation
    from metawsm.gate.review import verdicts

    info = _ticket(eng, ticket)
    title = f"{ticket}: {str(info.get('title') or 'ticket ' + ticket).strip()}"[:250]
    parts = [f"Ticket **{ticket}** (metawsm run `{run.run_id}`, plan `{run.plan_name}`)."]
    if info.get("goal"):
        parts.append("## Goal\n\n" + str(info["goal"]).strip())
    criteria = info.get("done_criteria") or []
    if isinstance(criteria, list) and criteria:
        parts.append("## Done criteria\n\n" + "\n".join(f"- {c}" for c in criteria))
    summaries = []
    for agent in eng.store.list_agents(run.run_id):
        if agent.ticket != ticket or agent.attempt < 1:
            continue
        state = eng.forum.control_state(run.run_id, eng.agent_key(ticket, agent.name), agent.attempt)
        if state.completion:
            summaries.append(f"- **{agent.name}** (attempt {agent.attempt}): {state.completion[0] or '(no summary)'}")
    if summaries:
        parts.append("## What the agents did\n\n" + "\n".join(summaries))
    checks = []
    validation = latest_validation(eng, run.run_id, ticket)
    if validation:
        checks.append(f"- validation: {validation['status']} for `{str(validation.get('sha'))[:12]}` "
                      f"({validation.get('done_criteria') or ''})")
    for v in verdicts(eng, run.run_id, ticket):
        words = v.status or "no verdict yet"
        checks.append(f"- review by {v.agent}: {words}" + (f" at `{str(v.sha)[:12]}`" if v.sha else "")
                      + (f": {v.note}" if v.note else ""))
    if checks:
        parts.append("## Checks and review\n\n" + "\n".join(checks))
    try:
        diff = ticket_diff(eng.store, run, ticket, patch=False)
        stat = [f"{f.path} | +{f.additions if f.additions is not None else '-'} "
                f"-{f.deletions if f.deletions is not None else '-'}" for r in diff.repos for f in r.diff.files]
        if stat:
            parts.append("## Diffstat\n\n```\n" + "\n".join(stat[:200])
                         + (f"\n… and {len(stat) - 200} more files" if len(stat) > 200 else "") + "\n```")
    except MetawsmError:
        pass
    heads = ", ".join(f"{p['repo']}@{p['sha'][:12]}" for p in pushed)
    parts.append(f"Pushed by `metawsm pr` ({heads}).")
    body = "\n\n".join(parts)
    return title, body if len(body) <= MAX_BODY else body[: MAX_BODY - 20] + "\n\n(cut)"
