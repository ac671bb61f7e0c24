"""Order between agents: `needs: [agent names]` on a plan agent — validated (unknown, itself, a cycle named),
rendered as step needs, and run in order on real git and tmux: the reviewer starts after the implementer."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.conftest import engine, project, write_plan  # noqa: F401 - fixture

ORDERED = """tickets: [DEMO-1]
agents:
  - name: review
    profile: shell
    needs: [impl]
    run: >-
      test -s impl.txt && git log --format=%s -1 > ../review-saw-{{ ticket.id }}.txt
      && metawsm signal completion --summary reviewed
  - name: impl
    profile: shell
    run: >-
      sleep 1 && echo done > impl.txt && git add impl.txt && git commit -q -m implemented
      && metawsm signal completion --summary implemented
checks: ['test -s impl.txt']
"""


def test_needs_are_validated_with_located_errors(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "bad", """tickets: [DEMO-1]
agents:
  - {name: a, profile: shell, run: 'true', needs: [b]}
  - {name: b, profile: shell, run: 'true', needs: [c]}
  - {name: c, profile: shell, run: 'true', needs: [a, nope]}
  - {name: d, profile: shell, run: 'true', needs: [d]}
checks: ['true']
""")
    r = cli("validate", cwd=project)
    assert r.code == 2
    assert "plans/bad.yaml:6:55: agents[2].needs[1]: unknown agent 'nope'; agents of this plan: a, b, c, d" in r.err
    assert "plans/bad.yaml:7:52: agents[3].needs[0]: agent 'd' cannot need itself" in r.err
    assert "plans/bad.yaml:4:52: agents[0].needs[0]: agents need each other in a cycle: a -> b -> c -> a" in r.err


def test_reviewer_starts_after_the_implementer_completed(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "ordered", ORDERED)
    plan = json.loads(cli("plan", "plans/ordered.yaml", "--json", cwd=project).out)
    steps = {s["id"]: s for s in plan["plans"][0]["graph"]["steps"]}
    assert steps["agent:DEMO-1:review"]["needs"] == ["session:DEMO-1:review", "agent:DEMO-1:impl"]
    r = cli("apply", "plans/ordered.yaml", "--wait", "--timeout", "90", cwd=project)
    assert r.code == 0, r.err
    eng = engine(project)
    (run,) = eng.store.list_runs()
    impl, review = (eng.store.get_step(run.run_id, f"agent:DEMO-1:{n}") for n in ("impl", "review"))
    assert impl.status == review.status == "done"
    assert review.attempts == 1 and review.started_at >= impl.finished_at  # started once, after impl completed
    assert eng.store.get_ticket("DEMO-1").status == "ready"
    eng.close()
    assert (project / ".metawsm/workspaces/review-saw-DEMO-1.txt").read_text() == "implemented\n"


ASKER = """tickets: [DEMO-1, DEMO-2]
agents:
  - name: asker
    profile: shell
    run: >-
      { [ {{ ticket.id }} != DEMO-1 ] || metawsm ask 'may I?' --timeout 120; }
      && echo x > {{ ticket.id }}.txt && git add -A && git commit -q -m x
      && metawsm signal completion --summary ok
checks: ['true']
"""


def test_an_agent_blocked_in_ask_holds_no_slot(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    import time

    from metawsm.forum.ids import agent_key, control_thread_id

    policy = project / ".metawsm/policy.yaml"
    policy.write_text(policy.read_text().replace("execution:\n", "execution:\n  max_parallel: 1\n"))
    write_plan(project, "ask", ASKER)
    assert cli("apply", "plans/ask.yaml", cwd=project).code == 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    deadline = time.monotonic() + 60
    while eng.store.get_step(run.run_id, "agent:DEMO-2:asker").status != "done":  # while DEMO-1 waits
        assert time.monotonic() < deadline, "DEMO-2's agent never ran while DEMO-1's agent waited in ask"
        assert eng.store.get_step(run.run_id, "agent:DEMO-1:asker").status == "running"
        cli("reconcile", cwd=project)
        time.sleep(0.3)
    assert cli("forum", "answer", control_thread_id(run.run_id, agent_key("DEMO-1", "asker")), "--body", "yes",
               cwd=project).code == 0
    assert cli("apply", "plans/ask.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    assert eng.store.get_step(run.run_id, "agent:DEMO-1:asker").status == "done"
    eng.close()
