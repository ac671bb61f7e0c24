"""Reviewer verdicts: `metawsm signal review` (and the MCP tool `signal_review`) recorded per agent attempt, the
gate's `review` check (refused with the reviewer's note and the next command), policy `review.auto_iterate`
(changes requested → the next round with the note as feedback, bounded by max_rounds), and the verdict in
`status` — on real git, real tmux and real `metawsm` processes in the agents' sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.engine.conftest import engine, project, write_plan  # noqa: F401 - fixture

# The reviewer approves once the notes carry the reviewer's own note (sent back as the round's feedback).
REVIEWED = """tickets: [DEMO-1]
agents:
  - name: impl
    profile: shell
    run: >-
      printf '%s\\n' "${METAWSM_FEEDBACK:-first draft}" >> notes.txt
      && git add notes.txt && git commit -q -m "impl round ${METAWSM_ROUND:-1}"
      && metawsm signal completion --summary "wrote notes.txt"
  - name: reviewer
    profile: shell
    role: reviewer
    needs: [impl]
    run: >-
      if grep -q 'add a test' notes.txt; then metawsm signal review --status approved;
      else metawsm signal review --status changes_requested --note 'add a test please'; fi
checks: ['test -s notes.txt']
"""


def _policy(root: Path, extra: str) -> None:
    policy = root / ".metawsm/policy.yaml"
    policy.write_text(policy.read_text() + extra)


def test_changes_requested_refuses_the_gate_then_iterate_and_approval_pass(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "reviewed", REVIEWED)
    r = cli("apply", "plans/reviewed.yaml", "--wait", "--timeout", "90", cwd=project)
    assert r.code != 0  # the gate refused: the reviewer requested changes
    gate = cli("gate", "--ticket", "DEMO-1", "--json", cwd=project)
    assert gate.code == 3, gate.err
    (result,) = json.loads(gate.out)["gates"]
    review = next(c for c in result["checks"] if c["name"] == "review")
    assert not review["passed"]
    assert review["reason"].startswith("reviewer reviewer requested changes at ")
    assert review["reason"].endswith(": add a test please")
    assert review["fix"].startswith("send the note back as a new round: `metawsm iterate DEMO-1 --feedback-file")
    assert [c["name"] for c in result["checks"] if not c["passed"]] == ["review"]  # checks and the rest passed
    status = json.loads(cli("status", "--json", cwd=project).out)
    (snap,) = status["runs"]
    agents = {a["name"]: a for a in snap["agents"]}
    assert agents["reviewer"]["review"].startswith("changes requested at ")
    assert agents["reviewer"]["review"].endswith(": add a test please") and agents["impl"]["review"] is None
    (ticket,) = snap["ticket_states"]
    assert ticket["status"] == "failed" and ticket["next"].startswith("metawsm iterate DEMO-1 --feedback-file NOTE.md")
    assert "review:" in cli("status", cwd=project).out
    from metawsm.config.loader import load_policy
    from metawsm.config.project import Project
    from metawsm.server.app import create_app
    from tests.server.conftest import LoopbackClient

    proj = Project(project)
    with LoopbackClient(create_app(proj, load_policy(proj), worker=False), base_url="http://127.0.0.1") as client:
        page = client.get(f"/runs/{snap['run_id']}")  # the run page shows the verdict beside the reviewer
        assert page.status_code == 200
        assert "<span class=\"small\" data-review>review: changes requested at " in page.text
        assert "add a test please</span>" in page.text

    assert cli("iterate", "DEMO-1", "--agent", "impl", "--feedback", "add a test", cwd=project).code == 0
    r = cli("apply", "plans/reviewed.yaml", "--wait", "--timeout", "90", cwd=project)
    assert r.code == 0, r.err
    gate = json.loads(cli("gate", "--ticket", "DEMO-1", "--json", cwd=project).out)["gates"][0]
    review = next(c for c in gate["checks"] if c["name"] == "review")
    assert review["passed"] and review["reason"] == f"approved at {gate['sha'][:12]} by reviewer"
    eng = engine(project)
    (run,) = eng.store.list_runs()
    assert eng.store.get_ticket("DEMO-1").status == "ready"
    assert all(a.attempt >= 2 for a in eng.store.list_agents(run.run_id))  # the reviewer re-ran after impl
    eng.close()
    assert cli("close", "--ticket", "DEMO-1", cwd=project).code == 0


AUTO = """tickets: [DEMO-1]
agents:
  - name: impl
    profile: shell
    run: >-
      printf '%s\\n' "${METAWSM_FEEDBACK:-first draft}" >> notes.txt
      && git add notes.txt && git commit -q -m "impl round ${METAWSM_ROUND:-1}"
      && metawsm signal completion --summary "wrote notes.txt"
  - name: reviewer
    profile: shell
    needs: [impl]
    run: >-
      if grep -q 'add a test please' notes.txt && [ -z "$NEVER" ]; then metawsm signal review --status approve;
      else metawsm signal review --verdict request-changes --summary 'add a test please'; fi
    env: {NEVER: "{{ plan.vars.never | default('') }}"}
checks: ['test -s notes.txt']
"""


def test_auto_iterate_sends_the_note_back_and_the_approval_makes_the_ticket_ready(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from metawsm.forum.ids import agent_key, control_thread_id

    _policy(project, "close:\n  reviewers: [reviewer]\nreview:\n  auto_iterate: true\n")  # a reviewer by policy
    write_plan(project, "auto", AUTO)
    r = cli("apply", "plans/auto.yaml", "--wait", "--timeout", "120", cwd=project)
    assert r.code == 0, r.out + r.err
    eng = engine(project)
    (run,) = eng.store.list_runs()
    assert eng.store.get_ticket("DEMO-1").status == "ready"
    assert all(a.attempt >= 2 for a in eng.store.list_agents(run.run_id))  # (a restart may add an attempt)
    rounds = sorted(p.name for p in (project / ".metawsm/state/feedback" / run.run_id / "DEMO-1").glob("round-*"))
    assert rounds == ["round-2.md"]
    notes = (project / ".metawsm/workspaces/DEMO-1/notes.txt").read_text()
    assert notes.startswith("first draft\nReviewer reviewer requested changes (at ") and "add a test please" in notes
    # the verdicts of both attempts stay in the reviewer's thread; the feedback went to every agent's thread
    events = eng.forum.get_thread(control_thread_id(run.run_id, agent_key("DEMO-1", "reviewer")))[2]
    verdicts = [e.payload["status"] for e in events if e.payload.get("control_type") == "review"]
    assert verdicts == ["changes_requested", "approved"]
    posts = eng.forum.get_thread(control_thread_id(run.run_id, agent_key("DEMO-1", "impl")))[1]
    assert any(p.body.startswith("Review feedback (round 2) for DEMO-1/impl") for p in posts)
    eng.close()


def test_auto_iterate_stops_at_max_rounds(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _policy(project, "close:\n  reviewers: [reviewer]\nreview:\n  auto_iterate: true\n  max_rounds: 2\n")
    write_plan(project, "auto", AUTO.replace("tickets: [DEMO-1]", "tickets: [DEMO-1]\nvars: {never: '1'}"))
    r = cli("apply", "plans/auto.yaml", "--wait", "--timeout", "120", cwd=project)
    assert r.code != 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    assert eng.store.get_ticket("DEMO-1").status == "failed"
    feedback = project / ".metawsm/state/feedback" / run.run_id / "DEMO-1"
    assert sorted(p.name for p in feedback.glob("round-*")) == ["round-2.md"]  # round 2 was the last
    assert "requested changes" in (eng.store.get_step(run.run_id, "gate:DEMO-1").last_error or "")
    attempts = [a.attempt for a in eng.store.list_agents(run.run_id)]
    eng.close()
    assert cli("reconcile", cwd=project).code in (0, 1)  # another pass starts no third round
    eng = engine(project)
    assert [a.attempt for a in eng.store.list_agents(run.run_id)] == attempts
    assert sorted(p.name for p in feedback.glob("round-*")) == ["round-2.md"]
    eng.close()


def test_signal_review_errors_json_and_a_stale_approval(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    import subprocess

    write_plan(project, "reviewed", REVIEWED)
    assert cli("apply", "plans/reviewed.yaml", "--wait", "--timeout", "90", cwd=project).code != 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    eng.close()
    ws = project / ".metawsm/workspaces/DEMO-1"
    ctx = ["--run", run.run_id, "--ticket", "DEMO-1", "--agent", "reviewer", "--attempt", "1"]
    r = cli("signal", "review", "--status", "maybe", *ctx, cwd=project)
    assert r.code == 2 and "--status 'maybe': must be approved or changes_requested" in r.err
    r = cli("signal", "review", "--status", "changes_requested", *ctx, cwd=project)
    assert r.code == 2 and "changes_requested needs a --note" in r.err
    r = cli("signal", "review", "--status", "changes_requested", "--note-file", "nope.md", *ctx, cwd=project)
    assert r.code == 1 and "nope.md: cannot read the note" in r.err
    r = cli("signal", "review", "--status", "approved", "--sha", "XYZ", *ctx, cwd=project)
    assert r.code == 2 and "sha" in r.err
    r = cli("signal", "review", "--status", "changes_requested", "--note", "x" * 60_001, *ctx, cwd=project)
    assert r.code == 2 and "at most 60000" in r.err
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ws, capture_output=True, text=True).stdout.strip()
    r = cli("--json", "signal", "review", "--status", "approved", "--sha", head, *ctx, cwd=project)
    assert r.code == 0, r.err
    event = json.loads(r.out)["event"]
    assert json.loads(event["payload_json"])["status"] == "approved"
    gate = json.loads(cli("gate", "--ticket", "DEMO-1", "--json", cwd=project).out)["gates"][0]
    assert next(c for c in gate["checks"] if c["name"] == "review")["passed"]
    # a commit after the approval: the approval no longer counts (the reviewer must see the new commit)
    (ws / "late.txt").write_text("late\n")
    subprocess.run(["git", "add", "late.txt"], cwd=ws, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "late"], cwd=ws, check=True)
    r = cli("gate", "--ticket", "DEMO-1", "--json", cwd=project)
    assert r.code == 3
    review = next(c for c in json.loads(r.out)["gates"][0]["checks"] if c["name"] == "review")
    assert review["reason"].startswith(f"reviewer reviewer approved {head[:12]}, not HEAD ")
    assert "metawsm iterate DEMO-1 --agent reviewer" in review["fix"]


def test_mcp_signal_review_records_the_verdict_for_the_attempt(project: Path, tmp_path: Path) -> None:  # noqa: F811
    """The real `metawsm mcp` stdio server, driven by the MCP SDK's own client (what Claude Code and Codex
    speak): the reviewer's tool call records a review signal for its run, agent and attempt."""
    import asyncio
    import os
    import shutil
    import subprocess

    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from metawsm.forum.ids import agent_key

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    env = {**os.environ, "METAWSM_HOME": str(project), "METAWSM_RUN": "r-mcp", "METAWSM_TICKET": "DEMO-1",
           "METAWSM_AGENT": "reviewer", "METAWSM_ATTEMPT": "3"}
    metawsm = shutil.which("metawsm")
    assert metawsm, "metawsm is not on PATH"

    async def talk() -> tuple[list[str], str, str]:
        params = StdioServerParameters(command=metawsm, args=["mcp"], env=env, cwd=str(project))
        with (tmp_path / "mcp-stderr.log").open("w") as errlog:  # pytest's captured stderr has no fileno
            return await _session(params, errlog)

    async def _session(params: StdioServerParameters, errlog: Any) -> tuple[list[str], str, str]:
        async with stdio_client(params, errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            names = [t.name for t in (await session.list_tools()).tools]
            bad = await session.call_tool("signal_review", {"status": "changes_requested"})
            ok = await session.call_tool("signal_review", {"status": "changes_requested", "note": "add a test"})
            return names, bad.content[0].text, ok.content[0].text  # type: ignore[union-attr]

    names, bad, ok = asyncio.run(asyncio.wait_for(talk(), 60))
    assert "signal_review" in names
    assert "changes_requested needs a note" in bad
    assert ok.startswith(f"review changes_requested recorded for {head[:12]}")
    eng = engine(project)
    state = eng.forum.control_state("r-mcp", agent_key("DEMO-1", "reviewer"), 3)
    assert state.review is not None and state.review["note"] == "add a test" and state.review["sha"] == head
    assert state.completion is not None  # the verdict completes the reviewer's attempt
    assert eng.forum.control_state("r-mcp", agent_key("DEMO-1", "reviewer"), 2).review is None
    eng.close()
