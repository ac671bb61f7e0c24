"""Usage and cost: the scripted model's replies carry known token counts; the real CLIs record them in their own
files (Claude Code's session transcript and print-mode result, Codex's rollout), and those exact numbers reach
`status --json` per attempt, per agent, per ticket and for the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from metawsm.config.loader import load_policy
from metawsm.config.project import Project
from metawsm.server.app import create_app
from tests.agents.conftest import agent_plan, status_agents, steps, use_model
from tests.agents.fakemodel import FakeModel, bash, say
from tests.agents.test_scenarios import COMMIT, SIGNAL, run_id_of, wait_step
from tests.engine.conftest import commit_all, project, wait_for  # noqa: F401 - fixture

pytestmark = [pytest.mark.agents, pytest.mark.tmux]

TOKENS = {"input": 1234, "output": 56, "cache_read": 789, "cache_write": 31, "reasoning": 0}


def expected(name: str, tokens: dict[str, int], requests: int) -> dict[str, int]:
    """What the CLI records for `requests` replies: Claude Code keeps cached input apart from input tokens and
    names cache writes; Codex counts cached input inside input tokens and has no cache writes here."""
    if name == "claude":
        one = {"input_tokens": tokens["input"], "cache_read_tokens": tokens["cache_read"],
               "cache_write_tokens": tokens["cache_write"]}
    else:
        one = {"input_tokens": tokens["input"] + tokens["cache_read"], "cache_read_tokens": tokens["cache_read"],
               "cache_write_tokens": 0}
    one["output_tokens"] = tokens["output"]
    return {k: v * requests for k, v in one.items()} | {"requests": requests}


def picked(usage: dict[str, Any]) -> dict[str, int]:
    return {k: usage[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                                  "requests")}


def print_mode_cost(cli: Any, root: Path, attempt: int) -> float:
    """total_cost_usd of Claude Code's print-mode result line, read from the attempt's transcript by the test."""
    raw = cli("logs", "impl", "--attempt", str(attempt), "--raw", cwd=root).out
    costs = [json.loads(line.strip())["total_cost_usd"] for line in raw.splitlines()
             if line.strip().startswith('{"type":"result"')]
    assert costs, raw[-2000:]
    return float(sum(costs))


def snapshot(cli: Any, root: Path) -> dict[str, Any]:
    return json.loads(cli("status", "--json", "--all", cwd=root).out)["runs"][0]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_token_usage_and_cost_reach_status(name: str, project: Path, cli, agent_cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                           monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    """Headless: print mode's cost arrives for Claude Code; the daemon's API and UI show the same numbers."""
    agent_cli(name)
    with FakeModel([bash(COMMIT), bash(SIGNAL), say("All done.")]) as model:
        model.tokens = dict(TOKENS)
        use_model(name, model, monkeypatch, isolated_env)
        result = cli("apply", str(agent_plan(project, f"u{name}", name)), "--wait", "--timeout", "90", cwd=project)
        assert result.code == 0, result.out + result.err + str(model.summary())
        model.wait_turn(2)
        served = len(model.main_requests())
        want = expected(name, TOKENS, served)

        def arrived() -> dict[str, Any] | None:
            agent = status_agents(cli, project)["DEMO-1/impl"]
            usage = agent["usage"]
            done = usage and picked(usage) == want and (name == "codex" or usage["cost_usd"] is not None)
            return agent if done else None

        agent = wait_for(arrived, timeout=60, what=f"usage {want}")
    assert served == 3, model.summary()
    (attempt,) = agent["usage_attempts"]
    assert attempt["attempt"] == 1 and attempt["cli"] == name and picked(attempt) == want
    snap = snapshot(cli, project)
    assert picked(snap["usage"]) == want and picked(snap["ticket_usage"]["DEMO-1"]) == want
    if name == "claude":  # print mode reports its cost; the same number arrives
        assert agent["usage"]["cost_usd"] == pytest.approx(print_mode_cost(cli, project, 1)) and \
            agent["usage"]["cost_usd"] > 0
    else:  # Codex reports no cost: none is made up
        assert agent["usage"]["cost_usd"] is None
    plain = cli("status", "--all", cwd=project).out
    assert "usage:" in plain and "model requests" in plain
    # the daemon: the API's run, its OpenAPI document, and the web UI's run page show the same numbers
    proj = Project(project)
    with TestClient(create_app(proj, load_policy(proj), worker=False), base_url="http://127.0.0.1") as client:
        run = client.get(f"/api/v1/runs/{snap['run_id']}").json()["run"]
        (api_agent,) = run["agents"]
        assert picked(api_agent["usage"]) == want and picked(run["usage"]) == want
        assert run["usage"]["cost_usd"] == agent["usage"]["cost_usd"]
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        assert "usage" in schemas["RunSnapshotOut"]["properties"] and "cost_usd" in schemas["UsageView"]["properties"]
        page = client.get(f"/runs/{snap['run_id']}").text
    shown = f"{want['input_tokens'] + want['cache_read_tokens'] + want['cache_write_tokens']} in"  # under 10k
    assert shown in page and f"{want['output_tokens']} out" in page, page[-3000:]


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_each_attempt_has_its_own_usage_and_a_resumed_history_is_not_counted_again(  # type: ignore[no-untyped-def]
        name: str, project: Path, cli, agent_cli, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:  # noqa: F811
    agent_cli(name)
    policy = project / ".metawsm" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("execution:\n", "execution:\n  step_retries: 0\n"),
                      encoding="utf-8")
    commit_all(project, "no automatic retries")
    done_before = {"claude": 2, "codex": 1}[name]
    restart = [say("(earlier turn)")] * done_before + [bash(SIGNAL), say("done after restart")]
    second_tokens = {"input": 4321, "output": 65, "cache_read": 17, "cache_write": 3, "reasoning": 0}
    with FakeModel([bash(COMMIT), say("I stop here without signalling.")],
                   when={"NOTE: this is a restart": restart}) as model:
        model.tokens = dict(TOKENS)
        use_model(name, model, monkeypatch, isolated_env)
        assert cli("apply", str(agent_plan(project, f"ur{name}", name)), cwd=project).code == 0
        assert wait_step(cli, project, {"failed", "done"})["status"] == "failed"
        first = len(model.main_requests())
        model.tokens = second_tokens  # attempt 2's replies report other numbers
        assert cli("restart", "--run", run_id_of(cli, project), "--agent", "impl", cwd=project).code == 0
        assert wait_step(cli, project, {"done"})["status"] == "done"
        model.wait_turn(done_before + 1)
        second = len(model.main_requests()) - first
        want = [expected(name, TOKENS, first), expected(name, second_tokens, second)]

        def arrived() -> list[dict[str, Any]] | None:
            attempts = status_agents(cli, project)["DEMO-1/impl"]["usage_attempts"]
            return attempts if [picked(a) for a in attempts] == want else None

        attempts = wait_for(arrived, timeout=60, what=f"usage per attempt {want}")
    assert first == 2 and second == 2, model.summary()
    assert [a["attempt"] for a in attempts] == [1, 2]
    agent = status_agents(cli, project)["DEMO-1/impl"]
    assert agent["usage"]["input_tokens"] == want[0]["input_tokens"] + want[1]["input_tokens"]
    assert agent["usage"]["requests"] == 4


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_an_interactive_agent_reports_its_tokens_without_a_cost(  # type: ignore[no-untyped-def]
        name: str, project: Path, cli, agent_cli, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:  # noqa: F811
    agent_cli(name)
    with FakeModel([bash(COMMIT), bash(SIGNAL), say("All done.")]) as model:
        model.tokens = dict(TOKENS)
        use_model(name, model, monkeypatch, isolated_env)
        plan = agent_plan(project, f"ui{name}", name, mode="interactive")
        applied = cli("apply", str(plan), "--wait", "--timeout", "90", cwd=project)
        assert applied.code == 0, (model.summary(), applied.out, {  # which step failed, and why (seen once in CI)
            k: (s["status"], s["last_error"]) for k, s in steps(cli, project).items() if s["status"] != "done"})
        model.wait_turn(2)
        want = expected(name, TOKENS, len(model.main_requests()))

        def arrived() -> dict[str, Any] | None:
            usage = status_agents(cli, project)["DEMO-1/impl"]["usage"]
            return usage if usage and picked(usage) == want else None

        usage = wait_for(arrived, timeout=60, what=f"usage {want}")
    assert usage["cost_usd"] is None  # an interactive session reports no cost, and none is made up
