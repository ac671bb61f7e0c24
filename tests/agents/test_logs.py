"""Transcripts: every attempt of every agent is logged (tmux pipe-pane) and `metawsm logs` reads them back,
also after cleanup."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.agents.conftest import agent_plan, use_model
from tests.agents.fakemodel import FakeModel, bash, say
from tests.agents.test_scenarios import COMMIT, SIGNAL, wait_step
from tests.engine.conftest import project, write_plan  # noqa: F401 - fixture

pytestmark = [pytest.mark.tmux]


def test_each_attempt_has_its_transcript_kept_after_cleanup(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    plan = write_plan(project, "logs", "tickets: [DEMO-1]\nagents:\n  - name: impl\n    profile: shell\n"
                      "    run: \"echo transcript of attempt $METAWSM_ATTEMPT; sleep 1; exit 3\"\n")
    assert cli("apply", str(plan), cwd=project).code == 0
    wait_step(cli, project, {"failed"})
    data = json.loads(cli("logs", "impl", "--json", cwd=project).out)
    assert data["attempts"] == [1, 2] and data["attempt"] == 2  # the step's retry is attempt 2
    assert "transcript of attempt 2" in data["text"] and "attempt 1" not in data["text"]
    first = cli("logs", "DEMO-1/impl", "--attempt", "1", cwd=project)
    assert first.code == 0 and "transcript of attempt 1" in first.out
    assert data["path"].endswith(f"/logs/{data['run_id']}/DEMO-1/impl.2.log")
    assert cli("cleanup", "--run", data["run_id"], "--force", cwd=project).code == 0
    again = cli("logs", "impl", "--attempt", "1", cwd=project)
    assert again.code == 0 and "transcript of attempt 1" in again.out
    missing = cli("logs", "impl", "--attempt", "7", cwd=project)
    assert missing.code == 1 and "attempts with a transcript: [1, 2]" in missing.err


@pytest.mark.agents
def test_a_real_cli_transcript_shows_its_work(project: Path, cli, agent_cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                              monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    agent_cli("claude")
    with FakeModel([bash(COMMIT), bash(SIGNAL), say("Finished the greeting.")]) as model:
        use_model("claude", model, monkeypatch, isolated_env)
        assert cli("apply", str(agent_plan(project, "tlog", "claude")), cwd=project).code == 0
        assert wait_step(cli, project, {"done", "failed"})["status"] == "done"
        model.wait_turn(2)
        text = ""
        for _ in range(50):  # the CLI prints its last message after the request is answered
            text = cli("logs", "impl", cwd=project).out
            if "Finished the greeting." in text:
                break
            time.sleep(0.2)
    assert "COMMITTED" in text and "Finished the greeting." in text


def test_follow_prints_until_the_attempt_ends(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from tests.conftest import run_metawsm

    plan = write_plan(project, "follow", "tickets: [DEMO-1]\nagents:\n  - name: impl\n    profile: shell\n"
                      "    run: \"echo first line; sleep 3; echo second line; metawsm signal completion\"\n")
    assert cli("apply", str(plan), cwd=project).code == 0
    followed = run_metawsm("logs", "impl", "-f", cwd=project, timeout=60)
    assert followed.returncode == 0, followed.stderr
    assert "first line" in followed.stdout and "second line" in followed.stdout
