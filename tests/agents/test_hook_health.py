"""Health from the CLIs' own hooks: an agent inside a turn is working while its pane is quiet; an interactive
CLI that ended its turn without signalling completion waits for a person — a question (answered by attaching),
never a stall, and the operator does not restart it."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.agents.conftest import agent_plan, status_agents, use_model
from tests.agents.fakemodel import FakeModel, bash, say, tool
from tests.agents.test_scenarios import SIGNAL
from tests.engine.conftest import commit_all, engine, project, wait_for  # noqa: F401 - fixture

pytestmark = [pytest.mark.agents, pytest.mark.tmux]


def quick_health(root: Path, *, idle: int, activity: int, progress: int) -> None:
    policy = root / ".metawsm" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8") + f"health:\n  idle_seconds: {idle}\n"
                      f"  activity_stalled_seconds: {activity}\n  progress_stalled_seconds: {progress}\n"
                      "operator:\n  unhealthy_confirmations: 1\n", encoding="utf-8")
    commit_all(root, "quick health thresholds")


def test_an_agent_in_a_turn_is_healthy_while_its_pane_is_quiet(project: Path, cli, agent_cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               isolated_env: Path) -> None:
    """The agent's tool call stays quiet until the test releases it (not for a fixed time: under load a `status`
    can take longer than a fixed quiet window, and then only saw the agent after it had finished)."""
    agent_cli("claude")
    quick_health(project, idle=1, activity=3, progress=600)
    release = project.parent / "release-quiet-tool"
    quiet_tool = (f"for i in $(seq 900); do test -e {shlex.quote(str(release))} && break; sleep 0.1; done; "
                  "echo SLEPT")  # bounded (90 s, inside the Bash tool's own 2 min limit)
    with FakeModel([bash(quiet_tool), bash(SIGNAL), say("done")]) as model:
        use_model("claude", model, monkeypatch, isolated_env)
        assert cli("apply", str(agent_plan(project, "quiet", "claude")), cwd=project).code == 0
        model.wait_turn(0)

        def quiet() -> dict[str, Any] | None:  # the pane printed nothing for longer than the stall threshold
            agent = status_agents(cli, project)["DEMO-1/impl"]
            assert agent["status"] in ("running", "idle", "stalled"), json.dumps(agent)  # still in its tool call
            return agent if (agent["activity_age_seconds"] or 0) > 4 else None

        try:
            agent = wait_for(quiet, timeout=60, what="a quiet pane")
            assert agent["health"] == "healthy" and agent["health_reason"].startswith("in a turn ("), json.dumps(agent)
            decisions = [json.loads(line) for line in cli("operator", "--once", "--json", "--dry-run",
                                                          cwd=project).out.splitlines()]
            assert not any(d["intent"] == "restart" for d in decisions), decisions
        finally:
            release.touch()
        model.wait_turn(2, timeout=60)
    assert any("SLEPT" in o for o in model.tool_results())


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_an_interactive_cli_waiting_for_its_user_is_a_question_not_a_stall(  # type: ignore[no-untyped-def]
        name: str, project: Path, cli, agent_cli, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:  # noqa: F811
    agent_cli(name)
    quick_health(project, idle=1, activity=2, progress=3)
    with FakeModel([say("Which colour do you want?")]) as model:
        use_model(name, model, monkeypatch, isolated_env)
        assert cli("apply", str(agent_plan(project, f"w{name}", name, mode="interactive")), cwd=project).code == 0

        def asked() -> dict[str, Any] | None:
            run = json.loads(cli("status", "--json", cwd=project).out)["runs"][0]
            agent = next(a for a in run["agents"] if a["key"] == "DEMO-1/impl")
            waiting = [q for q in run["questions"] if q["kind"] == "input"]
            return {"agent": agent, "questions": waiting} if waiting and (agent["progress_age_seconds"] or 0) > 4 \
                else None

        seen = wait_for(asked, timeout=60, what="the agent waiting for its user")
        decisions = [json.loads(line) for line in cli("operator", "--once", "--json", "--dry-run",
                                                      cwd=project).out.splitlines()]
    (question,) = seen["questions"]
    assert question["question"] == "finished its turn without signalling completion: Which colour do you want?"
    assert question["answer_with"] == "metawsm attach DEMO-1/impl" and question["attempt"] == 1
    agent = seen["agent"]  # no signal or commit for longer than progress_stalled_seconds, yet not stalled
    assert agent["health"] == "idle" and agent["health_reason"] == question["question"], agent
    assert agent["status"] in ("running", "idle")
    assert not any(d["intent"] == "restart" for d in decisions), decisions
    assert status_agents(cli, project)["DEMO-1/impl"]["attempt"] == 1
    plain = cli("status", cwd=project).out
    assert "finished its turn" in plain and "metawsm attach DEMO-1/impl" in plain


def test_a_permission_prompt_waits_for_input_until_a_person_answers_it(  # type: ignore[no-untyped-def]
        project: Path, cli, agent_cli, monkeypatch: pytest.MonkeyPatch, isolated_env: Path,  # noqa: F811
        tmux_socket: str) -> None:
    """Claude Code asks before a tool the profile does not allow (WebFetch): its Notification hook makes the agent
    wait for input; the person answers in the session, and the next tool call's hook says it works again."""
    agent_cli("claude")
    script = [tool("WebFetch", url="http://127.0.0.1:9/page", prompt="read it"), bash("echo AFTER"), say("done")]
    with FakeModel(script) as model:
        use_model("claude", model, monkeypatch, isolated_env)
        assert cli("apply", str(agent_plan(project, "perm", "claude", mode="interactive")), cwd=project).code == 0

        def asked() -> dict[str, Any] | None:
            run = json.loads(cli("status", "--json", cwd=project).out)["runs"][0]
            return next((q for q in run["questions"] if q["kind"] == "input"), None)

        question = wait_for(asked, timeout=60, what="the permission prompt")
        assert question["question"].startswith("waiting for input: Claude needs your permission"), question
        assert status_agents(cli, project)["DEMO-1/impl"]["health"] == "idle"
        session = status_agents(cli, project)["DEMO-1/impl"]["session"]
        subprocess.run(["tmux", "-L", tmux_socket, "send-keys", "-t", session, "Enter"], check=True)  # "Yes"
        model.wait_turn(2, timeout=60)
        run_id = json.loads(cli("status", "--json", cwd=project).out)["runs"][0]["run_id"]
        eng = engine(project)
        thread = eng.forum.control_thread_id(run_id, "DEMO-1/impl")

        def labels() -> list[str] | None:
            found = [p.body.split(" (attempt")[0].removeprefix("agent event: ")
                     for p in eng.forum.get_thread(thread)[1] if p.body.startswith("agent event: ")]
            return found if found and found[-1] == "turn finished" else None

        events = wait_for(labels, timeout=30, what="the turn's end")
    waiting = events.index("waiting for input")
    assert events[waiting + 1:] == ["working again", "turn finished"], events  # one report, not one per tool
    assert any("AFTER" in o for o in model.tool_results())
