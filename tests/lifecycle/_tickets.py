"""Helpers for the ticket-lifecycle tests: N demo tickets, a plan over them, state readers."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.conftest import commit_all, engine

AGENT = """\
agents:
  - name: w
    profile: shell
    run: >-
      printf '%s\\n' {{ ticket.id }} > {{ ticket.id }}.txt
      {%- if ticket.id in broken %} && touch broken{% endif %}
      && git add -A && git commit -q -m {{ ticket.id | shquote }}
      && metawsm signal completion --summary ok
checks: ["test ! -e broken"]
"""


def tickets_plan(root: Path, name: str, ids: list[str], broken: tuple[str, ...] = (),
                 extra_policy: str = "") -> Path:
    """Ticket files for `ids`, and plans/<name>.yaml running one shell agent per ticket that commits <ID>.txt
    (plus a `broken` file for the tickets in `broken`, which fails the check `test ! -e broken`)."""
    for tid in ids:
        (root / "tickets" / f"{tid}.yaml").write_text(f"id: {tid}\ntitle: Ticket {tid}\ngoal: write {tid}.txt\n",
                                                      encoding="utf-8")
    if extra_policy:
        policy = root / ".metawsm/policy.yaml"
        policy.write_text(policy.read_text() + extra_policy, encoding="utf-8")
    body = AGENT.replace("ticket.id in broken", f"ticket.id in {list(broken)!r}")
    path = root / "plans" / f"{name}.yaml"
    path.write_text(f"name: {name}\ntickets: [{', '.join(ids)}]\nexecution_note: none\n".replace(
        "execution_note: none\n", "") + body, encoding="utf-8")
    commit_all(root, f"plan {name}")
    return path


def ticket_states(root: Path) -> dict[str, str]:
    eng = engine(root)
    try:
        return {t.ticket: t.status for t in eng.store.list_tickets()}
    finally:
        eng.close()


def status_json(cli, root: Path, *args: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    result = cli("status", "--json", *args, cwd=root)
    assert result.code == 0, result.err
    return json.loads(result.out)  # type: ignore[no-any-return]
