"""metawsm iterate on real git and tmux: a new round whose feedback reaches a shell agent ($METAWSM_FEEDBACK,
its file, $METAWSM_ROUND) and an agent whose profile passes the prompt (feedback appended), earlier rounds in
the thread, the ticket back to working then ready; --dry-run changes nothing; errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine.conftest import commit_all, engine, project, write_plan  # noqa: F401 - fixture

WT = Path(".metawsm/workspaces")
SHELL = """tickets: [DEMO-1]
agents:
  - name: impl
    profile: shell
    run: >-
      printf '%s|%s|%s' "${METAWSM_ROUND:-}" "${METAWSM_FEEDBACK:-}" "${METAWSM_FEEDBACK_FILE:-}"
      > fb-$METAWSM_ATTEMPT.txt && git add -A && git commit -q -m "round $METAWSM_ATTEMPT"
      && metawsm signal completion --summary "attempt $METAWSM_ATTEMPT"
  - name: prompted
    profile: echo
    prompt: Do the thing.
checks: ['true']
"""
PROFILE = """agent_profiles:
  echo:
    command: >-
      printf '%s' {{ prompt | shquote }} > "$METAWSM_HOME/.metawsm/state/prompt-$METAWSM_ATTEMPT.txt"
      && metawsm signal completion --summary ok
"""


@pytest.fixture
def ready(project: Path, cli) -> Path:  # type: ignore[no-untyped-def]  # noqa: F811
    policy = project / ".metawsm/policy.yaml"
    policy.write_text(policy.read_text() + PROFILE)
    commit_all(project, "echo profile")
    write_plan(project, "p", SHELL)
    r = cli("apply", "plans/p.yaml", "--wait", "--timeout", "90", cwd=project)
    assert r.code == 0, r.err
    return project


def test_iterate_sends_feedback_to_shell_and_prompted_agents(ready: Path, cli) -> None:  # type: ignore[no-untyped-def]
    wt = ready / WT / "DEMO-1"
    assert (wt / "fb-1.txt").read_text() == "||"
    r = cli("iterate", "DEMO-1", "--feedback", "Rename foo to bar.\nAnd add a test.", "--json", cwd=ready)
    assert r.code == 0, r.err
    (it,) = json.loads(r.out)["iterations"]
    assert it["round"] == 2 and it["agents"] == ["impl", "prompted"] and not it["dry_run"]
    eng = engine(ready)
    assert eng.store.get_ticket("DEMO-1").status == "working"
    eng.close()
    assert cli("apply", "plans/p.yaml", "--wait", "--timeout", "90", cwd=ready).code == 0
    feedback_file = ready / ".metawsm/state/feedback" / it["run_id"] / "DEMO-1" / "round-2.md"
    assert feedback_file.read_text() == "Rename foo to bar.\nAnd add a test.\n"
    assert (wt / "fb-2.txt").read_text() == f"2|Rename foo to bar.\nAnd add a test.\n|{feedback_file}"
    state = ready / ".metawsm/state"
    prompt = (state / "prompt-2.txt").read_text()
    assert "Do the thing.\n\nREVIEW FEEDBACK (round 2)" in prompt and prompt.endswith("And add a test.")
    assert "REVIEW FEEDBACK" not in (state / "prompt-1.txt").read_text()
    eng = engine(ready)
    assert eng.store.get_ticket("DEMO-1").status == "ready"
    assert eng.store.get_agent(it["run_id"], "DEMO-1", "impl").attempt == 2  # one attempt per round
    _, posts, _ = eng.forum.get_thread(it["threads"][0])
    bodies = [p.body for p in posts]
    assert any(b.startswith("Review feedback (round 2) for DEMO-1/impl:") for b in bodies)
    eng.close()
    # a second round only for one agent
    r = cli("iterate", "--ticket", "DEMO-1", "--feedback", "One more thing.", "--agent", "impl", cwd=ready)
    assert r.code == 0 and "review round 3 for impl" in r.out
    assert cli("apply", "plans/p.yaml", "--wait", "--timeout", "90", cwd=ready).code == 0
    assert (wt / "fb-3.txt").read_text().startswith("3|One more thing.")
    assert not (state / "prompt-3.txt").exists()


def test_iterate_dry_run_changes_nothing(ready: Path, cli) -> None:  # type: ignore[no-untyped-def]
    before = (ready / ".metawsm/state/forum/events.jsonl").read_text()
    r = cli("iterate", "DEMO-1", "--feedback", "x", "--dry-run", cwd=ready)
    assert r.code == 0 and "would start review round 2 for impl, prompted" in r.out
    assert "would move DEMO-1 from ready to working" in r.out
    assert not (ready / ".metawsm/state/feedback").exists()
    run_id = json.loads(cli("iterate", "DEMO-1", "--feedback", "x", "--dry-run", "--json", cwd=ready).out
                        )["iterations"][0]["run_id"]
    go = cli("iterate", "--run-id", run_id, "--feedback", "x", "--dry-run", "--json", cwd=ready)  # the Go spelling
    assert go.code == 0 and [i["ticket"] for i in json.loads(go.out)["iterations"]] == ["DEMO-1"]
    assert (ready / ".metawsm/state/forum/events.jsonl").read_text() == before
    eng = engine(ready)
    assert eng.store.get_ticket("DEMO-1").status == "ready"
    eng.close()


def test_iterate_errors(ready: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("iterate", "DEMO-1", cwd=ready).code == 2  # no feedback
    assert cli("iterate", "--feedback", "x", cwd=ready).code == 2  # no ticket
    empty = cli("iterate", "DEMO-1", "--feedback", "  ", cwd=ready)
    assert empty.code == 2 and "empty" in empty.err
    big = tmp_path / "big.txt"
    big.write_text("x" * 60_001)
    assert cli("iterate", "DEMO-1", "--feedback-file", str(big), cwd=ready).code == 2
    r = cli("iterate", "DEMO-1", "--feedback", "x", "--agent", "nope", cwd=ready)
    assert r.code == 1 and "no agent nope" in r.err and "impl, prompted" in r.err
    assert cli("iterate", "NOPE-1", "--feedback", "x", cwd=ready).code == 1
    assert cli("close", "--ticket", "DEMO-1", cwd=ready).code == 0
    merged = cli("iterate", "DEMO-1", "--feedback", "x", cwd=ready)
    assert merged.code == 1 and "merged" in merged.err


def test_iterate_of_a_busy_run_starts_no_half_round(ready: Path) -> None:
    """iterate is one operation under the run's lease: while another command holds it, `iterate` waits, then
    fails naming the holder — before it writes the round's feedback, posts it or moves the ticket (it used to do
    all that, then fail at the restart: a round no agent ever saw)."""
    from metawsm.engine.locking import operation
    from tests.conftest import run_metawsm

    eng = engine(ready)
    (run,) = eng.store.list_runs()
    events = ready / ".metawsm/state/forum/events.jsonl"
    before = events.read_text()
    with operation(eng, run.run_id, "stop"):
        r = run_metawsm("iterate", "DEMO-1", "--feedback", "x", "--lock-timeout", "0.5", cwd=ready)
    assert r.returncode == 1 and "is locked by" in r.stderr and "(metawsm stop)" in r.stderr, r.stderr
    assert not (ready / ".metawsm/state/feedback").exists() and events.read_text() == before
    assert eng.store.get_ticket("DEMO-1").status == "ready"
    eng.close()
