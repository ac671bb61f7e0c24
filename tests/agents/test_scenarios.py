"""Real Claude Code / Codex agents, headless, in the situations people meet: a question answered by a person,
a refused or missing key, a key exported after the tmux server started, metawsm started by absolute path
with its virtualenv off PATH, and a restart that carries the note."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from metawsm.cli.status import NOTE_WIDTH
from tests.agents.conftest import agent_plan, status_agents, steps, use_model
from tests.agents.fakemodel import FakeModel, bash, say
from tests.conftest import run_metawsm
from tests.engine.conftest import commit_all, engine, project, wait_for  # noqa: F401 - fixture

pytestmark = [pytest.mark.agents, pytest.mark.tmux]

COMMIT = "printf 'hello\\n' > hello.txt && git add hello.txt && git commit -q -m 'add hello' && echo COMMITTED"
SIGNAL = "metawsm signal completion --summary 'scripted work done' && echo SIGNALLED"
ASK = "answer=$(metawsm ask 'Which colour?') && echo \"ANSWER=$answer\""


def run_id_of(cli, root: Path) -> str:  # type: ignore[no-untyped-def]
    data = json.loads(cli("status", "--json", "--all", cwd=root).out)
    return str(data["runs"][0]["run_id"])


def wait_step(cli, root: Path, status: set[str], timeout: float = 60) -> dict:  # type: ignore[no-untyped-def, type-arg]
    def done() -> dict | None:  # type: ignore[type-arg]
        cli("reconcile", cwd=root)
        step = steps(cli, root).get("agent:DEMO-1:impl")
        return step if step and step["status"] in status else None

    return wait_for(done, timeout=timeout, what=f"agent step {status}")  # type: ignore[return-value]


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_question_answered_after_five_seconds(name: str, project: Path, cli, agent_cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                              monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    agent_cli(name)
    with FakeModel([bash(COMMIT), bash(ASK), bash(SIGNAL), say("done")]) as model:
        use_model(name, model, monkeypatch, isolated_env)
        assert cli("apply", str(agent_plan(project, f"q{name}", name)), cwd=project).code == 0
        run_id = run_id_of(cli, project)
        eng = engine(project)
        wait_for(lambda: eng.forum.control_state(run_id, "DEMO-1/impl", 1).pending_question, timeout=60,
                 what="the agent's question")
        asked = time.monotonic()
        status = json.loads(cli("status", "--json", cwd=project).out)
        (question,) = status["runs"][0]["questions"]
        assert question["question"] == "Which colour?"
        time.sleep(5)
        assert cli("forum", "answer", question["thread_id"], "--body", "blue", cwd=project).code == 0
        step = wait_step(cli, project, {"done", "failed"})
        assert step["status"] == "done", step
        assert time.monotonic() - asked >= 5
        outputs = model.tool_results()
    assert any("ANSWER=blue" in o for o in outputs), outputs


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_refused_key_fails_within_seconds_naming_the_key(name: str, project: Path, cli, agent_cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    agent_cli(name)
    with FakeModel([say("never")], reject_all=True) as model:
        use_model(name, model, monkeypatch, isolated_env)
        started = time.monotonic()
        assert cli("apply", str(agent_plan(project, f"k{name}", name)), cwd=project).code == 0
        step = wait_step(cli, project, {"failed", "done"}, timeout=45)
        took = time.monotonic() - started
        assert model.requests, "the CLI never reached the scripted model"
    assert step["status"] == "failed"
    assert "API key" in step["last_error"] and "last output" in step["last_error"], step["last_error"]
    assert "Pane is dead" not in step["last_error"]
    assert took < 45
    agent = status_agents(cli, project)["DEMO-1/impl"]
    assert agent["status"] in ("failed", "dead")  # dead: status saw the exited pane before the step's poll
    plain = "".join(cli("status", "--all", cwd=project).out.split())
    note = "".join(step["last_error"].split())
    # the steps table cuts the note and says how to see it (the tickets table shows a failure's first 600
    # characters), -v prints it whole
    assert "status-v" in plain and "".join((step["last_error"][:NOTE_WIDTH] + "…").split()) in plain
    assert note in "".join(cli("status", "--all", "--verbose", cwd=project).out.split())


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_missing_key_is_named(name: str, project: Path, cli, agent_cli,  # type: ignore[no-untyped-def]  # noqa: F811
                              monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    agent_cli(name)
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    with FakeModel([say("never")]) as model:
        use_model(name, model, monkeypatch, isolated_env, key="")
        assert cli("apply", str(agent_plan(project, f"m{name}", name)), cwd=project).code == 0
        step = wait_step(cli, project, {"failed", "done"}, timeout=45)
        assert not model.main_requests()
    assert step["status"] == "failed" and "API key" in step["last_error"], step["last_error"]


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_key_exported_after_the_tmux_server_started_reaches_the_agent(  # type: ignore[no-untyped-def]
        name: str, project: Path, cli, agent_cli, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        isolated_env: Path, tmux_socket: str) -> None:
    agent_cli(name)
    # the server starts with a stale key and base URL in its environment (an earlier shell, another repository)
    stale = {**os.environ, "ANTHROPIC_API_KEY": "sk-stale-key-00000000000000000000000", "OPENAI_API_KEY": "sk-stale",
             "ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "OPENAI_BASE_URL": "http://127.0.0.1:9"}
    subprocess.run(["tmux", "-L", tmux_socket, "new-session", "-d", "-s", "keeper", "sleep 600"], env=stale,
                   check=True)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with FakeModel([bash(COMMIT), bash(SIGNAL), say("done")]) as model:
        use_model(name, model, monkeypatch, isolated_env)  # exported now, after the server started
        result = cli("apply", str(agent_plan(project, f"s{name}", name)), "--wait", "--timeout", "90", cwd=project)
        assert result.code == 0, result.out + result.err + str(model.summary())
        keys = {r.headers.get("x-api-key") or r.headers.get("authorization") for r in model.main_requests()}
    assert keys and all(model.api_key in k for k in keys if k)


def test_metawsm_started_by_absolute_path_with_its_virtualenv_off_path(  # type: ignore[no-untyped-def]
        project: Path, agent_cli, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:  # noqa: F811
    agent_cli("claude")
    # every folder holding a metawsm (the virtualenv, a pyenv shim) leaves PATH
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if p and not (Path(p) / "metawsm").exists())
    assert subprocess.run(["sh", "-c", "command -v metawsm"], env={**os.environ, "PATH": path},
                          capture_output=True).returncode != 0
    with FakeModel([bash(COMMIT), bash(SIGNAL), say("done")]) as model:
        use_model("claude", model, monkeypatch, isolated_env)
        plan = agent_plan(project, "abs", "claude")
        result = run_metawsm("apply", str(plan), "--wait", "--timeout", "90", cwd=project,
                             env={"PATH": path}, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr + str(model.tool_results())
        assert any("SIGNALLED" in o for o in model.tool_results())


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_restart_resumes_the_conversation_with_the_note(name: str, project: Path, cli, agent_cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    agent_cli(name)
    policy = project / ".metawsm" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("execution:\n", "execution:\n  step_retries: 0\n"),
                      encoding="utf-8")
    commit_all(project, "no automatic retries")
    # the resumed conversation still holds attempt 1's turns (Claude: 2 assistant messages; Codex: 1 call)
    done_before = {"claude": 2, "codex": 1}[name]
    restart = [say("(earlier turn)")] * done_before + [bash(SIGNAL), say("done after restart")]
    with FakeModel([bash(COMMIT), say("I stop here without signalling.")],
                   when={"NOTE: this is a restart": restart}) as model:
        use_model(name, model, monkeypatch, isolated_env)
        assert cli("apply", str(agent_plan(project, f"r{name}", name)), cwd=project).code == 0
        first = wait_step(cli, project, {"failed", "done"})
        assert first["status"] == "failed" and "before signalling" in first["last_error"]
        assert "I stop here without signalling." in first["last_error"]  # the CLI's own last words
        restarted = cli("restart", "--run", run_id_of(cli, project), "--agent", "impl", cwd=project)
        assert restarted.code == 0, restarted.out + restarted.err
        wait_for(lambda: any("NOTE: this is a restart" in json.dumps(r.body) for r in model.main_requests()),
                 timeout=60, what="the restarted conversation")
        second = wait_step(cli, project, {"done"})
        resumed = [json.dumps(r.body) for r in model.main_requests() if "NOTE: this is a restart" in json.dumps(r.body)]
    assert second["status"] == "done"
    assert "NOTE: this is a restart (attempt 2" in resumed[0]
    assert "COMMITTED" in resumed[0]  # attempt 1's conversation was resumed, not started blind
    assert status_agents(cli, project)["DEMO-1/impl"]["attempt"] == 2


def test_unknown_flag_names_the_cli_version_and_the_profile_command(project: Path, cli, agent_cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     isolated_env: Path) -> None:
    agent_cli("codex")
    policy = project / ".metawsm" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8") + "agent_profiles:\n  old-codex:\n    cli: codex\n"
                      "    command: \"codex exec --full-auto {{ prompt | shquote }}\"\n", encoding="utf-8")
    commit_all(project, "a profile written for an older Codex")
    with FakeModel([say("never")]) as model:
        use_model("codex", model, monkeypatch, isolated_env)
        assert cli("apply", str(agent_plan(project, "flag", "old-codex")), cwd=project).code == 0
        step = wait_step(cli, project, {"failed", "done"}, timeout=45)
        assert not model.main_requests()
    error = step["last_error"]
    assert step["status"] == "failed" and "refused the profile's command line" in error, error
    assert "codex 0.171.0 installed" in error and "codex exec --full-auto" in error and "--full-auto" in error


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.parametrize("name", ["claude", "codex"])
def test_question_answered_after_three_minutes_survives_the_tool_timeouts(  # type: ignore[no-untyped-def]
        name: str, project: Path, cli, agent_cli, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        isolated_env: Path) -> None:
    """Claude Code's Bash tool would move the command to the background after 2 minutes (the profile's
    BASH_DEFAULT_TIMEOUT_MS prevents it); Codex returns a running command as a session the model polls."""
    agent_cli(name)
    with FakeModel([bash(COMMIT), bash(ASK), bash(SIGNAL), say("done")]) as model:
        use_model(name, model, monkeypatch, isolated_env)
        assert cli("apply", str(agent_plan(project, f"slow{name}", name)), cwd=project).code == 0
        run_id = run_id_of(cli, project)
        eng = engine(project)
        wait_for(lambda: eng.forum.control_state(run_id, "DEMO-1/impl", 1).pending_question, timeout=60,
                 what="the agent's question")
        time.sleep(185)
        assert eng.forum.control_state(run_id, "DEMO-1/impl", 1).pending_question == "Which colour?"
        thread = eng.forum.control_thread_id(run_id, "DEMO-1/impl")
        assert cli("forum", "answer", thread, "--body", "green", cwd=project).code == 0
        step = wait_step(cli, project, {"done", "failed"}, timeout=90)
        assert step["status"] == "done", (step, model.summary())
        outputs = model.tool_results()
        questions = [e for e in eng.forum.get_thread(thread)[2] if e.payload.get("question")]
    assert any("ANSWER=green" in o for o in outputs), outputs
    assert len(questions) == 1  # asked once: no retry asked the person again
