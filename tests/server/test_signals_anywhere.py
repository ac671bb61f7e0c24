"""Signals from anywhere: with `server.agent_url`, agents report through a real `metawsm serve` with tokens of
their own. The agents run in a folder of their own, without METAWSM_HOME (so no way to the repository's
state); their `metawsm ask` and `metawsm signal` reach the daemon, a token acts only for its own agent, it is
revoked when the run ends, and it is written to no log."""

from __future__ import annotations

import json
import shlex
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from metawsm.config.project import Project
from metawsm.forum import Forum
from metawsm.state import StateStore
from tests.conftest import git, run_metawsm
from tests.engine.conftest import commit_all, wait_for
from tests.server.conftest import free_port
from tests.server.test_serve import start, stop

pytestmark = [pytest.mark.slow, pytest.mark.tmux]


def _post(url: str, token: str, body: dict[str, object]) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _get(url: str, token: str) -> int:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _completion(run_id: str, ticket: str, agent: str) -> dict[str, object]:
    return {"run_id": run_id, "ticket": ticket, "agent_name": agent, "actor_type": "agent",
            "payload": {"schema_version": 1, "control_type": "completion", "run_id": run_id,
                        "agent_name": f"{ticket}/{agent}", "attempt": 1}}


def test_agents_signal_and_ask_through_the_daemon(repo: Path, tmux_socket: str, tmp_path: Path) -> None:
    assert run_metawsm("init", "--demo", cwd=repo).returncode == 0
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    daemon_token = "daemon-token-0123456789"
    (tmp_path / "token").write_text(daemon_token + "\n", encoding="utf-8")
    (repo / ".metawsm" / "policy.yaml").write_text(
        f"tmux:\n  socket_name: {tmux_socket}\nserver:\n  agent_url: {url}\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"  # the agents' own folder: no repository, no state dir
    elsewhere.mkdir()
    (repo / "plans" / "remote.yaml").write_text(
        "name: remote\ntickets: [DEMO-1, DEMO-2]\nagents:\n  - name: writer\n    profile: shell\n    run: >-\n"
        f"      cd {shlex.quote(str(elsewhere))} && unset METAWSM_HOME\n"
        "      && printf '%s' \"$METAWSM_TOKEN\" > token-{{ ticket.id }}\n"
        "      && metawsm ask 'Which port?' --timeout 120 > answer-{{ ticket.id }}.txt\n"
        "      && metawsm signal completion --summary {{ ('done ' ~ ticket.id) | shquote }}\n"
        "checks: ['true']\n", encoding="utf-8")
    commit_all(repo, "remote plan")
    proc, _ = start(repo, "--token-file", str(tmp_path / "token"), port=port)
    out = ""
    try:
        applied = run_metawsm("apply", "plans/remote.yaml", "--json", cwd=repo)
        assert applied.returncode == 0, applied.stderr
        forum = Forum(Project(repo).forum_dir)
        store = StateStore(Project(repo).state_dir / "state.db")
        run_id = store.list_runs(plan_name="remote")[0].run_id

        def asked(ticket: str) -> bool:
            return forum.control_state(run_id, f"{ticket}/writer", 1).pending_question == "Which port?"

        for ticket in ("DEMO-1", "DEMO-2"):
            wait_for(lambda t=ticket: asked(t), 60, f"{ticket}'s question through the daemon")
        tokens = {t: (elsewhere / f"token-{t}").read_text(encoding="utf-8") for t in ("DEMO-1", "DEMO-2")}
        assert all(tok.startswith("mwa_") for tok in tokens.values()) and tokens["DEMO-1"] != tokens["DEMO-2"]
        assert store.live_agent_tokens(run_id) == 2

        signal_url = f"{url}/api/v1/forum/control/signal"
        # DEMO-1's token cannot act for DEMO-2, read runs, or post as someone else; the daemon's own routes are closed
        assert _post(signal_url, tokens["DEMO-1"], _completion(run_id, "DEMO-2", "writer")) == 403
        assert _post(signal_url, tokens["DEMO-1"], _completion("other-run", "DEMO-1", "writer")) == 403
        assert _get(f"{url}/api/v1/runs", tokens["DEMO-1"]) == 403
        assert _get(f"{url}/api/v1/forum/threads", tokens["DEMO-1"]) == 403
        state = f"{url}/api/v1/forum/control/state?run_id={run_id}&agent_name=DEMO-2/writer&attempt=1"
        assert _get(state, tokens["DEMO-1"]) == 403
        assert _get(state, tokens["DEMO-2"]) == 200
        assert _get(state, "mwa_not-a-token") == 401
        assert forum.control_state(run_id, "DEMO-2/writer", 1).completion is None  # nothing got through

        for ticket in ("DEMO-1", "DEMO-2"):
            tid = f"fctrl-{run_id.lower()}-{ticket.lower()}-writer"
            answered = run_metawsm("forum", "answer", tid, "--body", f"80{ticket[-1]}0", cwd=repo)
            assert answered.returncode == 0, answered.stderr

        def complete() -> bool:
            return store.get_run(run_id).status == "complete"

        wait_for(complete, 60, "the run to complete on the agents' signals")
        for ticket in ("DEMO-1", "DEMO-2"):
            assert (elsewhere / f"answer-{ticket}.txt").read_text(encoding="utf-8") == f"80{ticket[-1]}0\n"
            done = forum.control_state(run_id, f"{ticket}/writer", 1).completion
            assert done is not None and done[0] == f"done {ticket}"
        cleaned = run_metawsm("cleanup", "--run", run_id, "--force", cwd=repo)
        assert cleaned.returncode == 0, cleaned.stderr
        assert store.live_agent_tokens(run_id) == 0
        assert _post(signal_url, tokens["DEMO-1"], _completion(run_id, "DEMO-1", "writer")) == 401  # revoked
        store.close()
        forum.shutdown()
    finally:
        code, out = stop(proc)
    assert code == 0, out
    logged = [path for path in (repo / ".metawsm").rglob("*") if path.is_file()]
    assert any(p.suffix == ".log" for p in logged)  # the agents' transcripts are among them
    for token in tokens.values():
        assert token not in out
        leaks = [p for p in logged if token.encode() in p.read_bytes()]
        assert not leaks, f"the token is written in {leaks}"
    assert git(repo, "status", "--porcelain") == ""


def test_mcp_tools_through_the_daemon(repo: Path, tmp_path: Path) -> None:
    """`metawsm mcp` with METAWSM_SERVER and an agent token, outside the repository: every tool goes to the daemon
    (a loopback daemon without a token of its own still holds agent tokens to their agent)."""
    import asyncio
    import os

    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    assert run_metawsm("init", cwd=repo).returncode == 0
    port = free_port()
    proc, url = start(repo, port=port)
    store = StateStore(Project(repo).state_dir / "state.db")
    own, other = store.mint_agent_token("R1", "T-1", "impl"), store.mint_agent_token("R1", "T-2", "impl")
    forum = Forum(Project(repo).forum_dir)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    base = {k: v for k, v in os.environ.items() if k != "METAWSM_HOME"}
    base.update(METAWSM_SERVER=url, METAWSM_RUN="R1", METAWSM_TICKET="T-1", METAWSM_AGENT="impl",
                METAWSM_ATTEMPT="1")

    async def session(token: str, calls: list[tuple[str, dict[str, object]]]) -> list[tuple[bool, str]]:
        params = StdioServerParameters(command=sys.executable, args=["-m", "metawsm", "mcp"],
                                       env={**base, "METAWSM_TOKEN": token}, cwd=str(elsewhere))
        with (tmp_path / "mcp-stderr.log").open("a") as errlog:  # not sys.stderr:
            return await _calls(params, errlog, calls)  # pytest's captured stderr may have no fileno

    async def _calls(params: StdioServerParameters, errlog: Any,
                     calls: list[tuple[str, dict[str, object]]]) -> list[tuple[bool, str]]:
        results = []
        async with stdio_client(params, errlog) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            for name, arguments in calls:
                if name == "ask_human":
                    task = asyncio.create_task(s.call_tool(name, arguments))
                    for _ in range(600):
                        if forum.control_state("R1", "T-1/impl", 1).pending_question:
                            break
                        await asyncio.sleep(0.05)
                    forum.answer("fctrl-r1-t-1-impl", "blue", actor_type="human", actor_name="alice")
                    result = await asyncio.wait_for(task, 60)
                else:
                    result = await s.call_tool(name, arguments)
                results.append((bool(result.is_error), " ".join(getattr(c, "text", "") for c in result.content)))
        return results

    try:
        got = asyncio.run(session(own, [("ask_human", {"question": "Which colour?"}),
                                        ("forum_post", {"title": "Note", "body": "from afar"}),
                                        ("ticket_context", {}), ("signal_completion", {"summary": "via MCP"})]))
        assert [err for err, _ in got] == [False] * 4, got
        assert got[0][1] == "blue" and "posted thread" in got[1][1] and '"last_answer": "blue"' in got[2][1].replace(
            '":"', '": "')
        assert "completion recorded for attempt 1" in got[3][1]
        refused = asyncio.run(session(other, [("signal_completion", {"summary": "not mine"})]))
        assert refused[0][0], refused  # T-2's token acting for T-1: the daemon refused it (403)
        state = forum.control_state("R1", "T-1/impl", 1)  # and recorded nothing
        assert state.completion is not None and state.completion[0] == "via MCP"
    finally:
        code, err = stop(proc)
        store.close()
        forum.shutdown()
    assert code == 0, err
    assert own not in err and other not in err
