"""Checks people can act on: a plan without checks is warned about, a failed check's note names the
command, exit code, last lines and log, `metawsm logs T --check` prints the log, failed checks are retried
only when policy execution.retry_checks is on. Real git, real tmux."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.conftest import commit_all, engine, project, write_plan  # noqa: F401 - fixture

AGENT = """agents:
  - name: writer
    profile: shell
    run: >-
      printf 'x\\n' > {{ ticket.id }}.txt && git add -A && git commit -q -m w
      && metawsm signal completion --summary done
"""
FAILING = "checks:\n  - echo first ok\n  - 'echo line one; echo line two; echo oops >&2; exit 3'\n  - echo never\n"


def test_validate_and_plan_warn_about_a_plan_without_checks(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "nochecks", "tickets: [DEMO-1]\n" + AGENT)
    r = cli("validate", cwd=project)
    assert r.code == 0
    assert ("warning: plans/nochecks.yaml:1:7: plan 'nochecks' has no checks, but the close gate requires "
            "validation") in r.err
    assert "demo" not in r.err.replace("nochecks", "")  # the demo plan has checks: no warning for it
    data = json.loads(cli("validate", "--json", cwd=project).out)
    assert len(data["warnings"]) == 1 and data["warnings"][0].startswith("plans/nochecks.yaml:1:7: ")
    p = cli("plan", "plans/nochecks.yaml", cwd=project)
    assert p.code == 0 and "has no checks, but the close gate requires validation" in p.err
    assert cli("plan", "plans/demo.yaml", cwd=project).err == ""
    # a policy that does not require validation (or trusts manual validation) is not warned about
    (project / ".metawsm/policy.yaml").write_text(
        (project / ".metawsm/policy.yaml").read_text() + "close:\n  required_checks: [clean_tree, completion]\n")
    assert "no checks" not in cli("validate", cwd=project).err


def test_failed_check_note_names_command_exit_tail_and_log(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "failing", "tickets: [DEMO-1]\n" + AGENT + FAILING)
    r = cli("apply", "plans/failing.yaml", "--wait", "--timeout", "90", cwd=project)
    assert r.code != 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    step = eng.store.get_step(run.run_id, "check:DEMO-1")
    log = project / ".metawsm/state/logs" / run.run_id / "check_DEMO-1.log"
    assert step.status == "failed" and step.attempts == 1  # not retried: retry_checks is off by default
    assert step.last_error == (
        "checks failed for DEMO-1: `echo line one; echo line two; echo oops >&2; exit 3` exited 3; "
        f"last lines: first ok | line one | line two | oops; full log: {log} (`metawsm logs DEMO-1 --check`)")
    status = cli("status", "--ticket", "DEMO-1", cwd=project)
    assert "exited 3" in status.out.replace("\n", " ")
    out = cli("logs", "DEMO-1", "--check", cwd=project)
    assert out.code == 0
    assert out.out.startswith("$ echo first ok\nfirst ok\n$ echo line one;")
    assert "metawsm: check failed with exit 3: echo line one;" in out.out and "never" not in out.out
    js = json.loads(cli("logs", "DEMO-1", "--check", "--json", cwd=project).out)
    assert js["path"] == str(log) and js["text"] == log.read_text()
    missing = cli("logs", "DEMO-2", "--check", cwd=project)
    assert missing.code == 1 and "no run has ticket DEMO-2" in missing.err
    eng.close()


def test_retry_checks_policy_retries_a_failed_check(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    policy = project / ".metawsm/policy.yaml"
    policy.write_text(policy.read_text() + "  retry_checks: true\n  step_retries: 1\n")
    commit_all(project, "retry checks")
    write_plan(project, "failing", "tickets: [DEMO-1]\n" + AGENT + FAILING)
    assert cli("apply", "plans/failing.yaml", "--wait", "--timeout", "90", cwd=project).code != 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    step = eng.store.get_step(run.run_id, "check:DEMO-1")
    assert step.status == "failed" and step.attempts == 2
    eng.close()


def test_web_ui_shows_the_failed_check_and_links_its_log(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from metawsm.config.loader import load_policy
    from metawsm.config.project import Project
    from metawsm.server.app import create_app
    from tests.server.conftest import LoopbackClient

    write_plan(project, "failing", "tickets: [DEMO-1]\n" + AGENT + FAILING)
    assert cli("apply", "plans/failing.yaml", "--wait", "--timeout", "90", cwd=project).code != 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    eng.close()
    proj = Project(project)
    with LoopbackClient(create_app(proj, load_policy(proj), worker=False), base_url="http://127.0.0.1") as client:
        page = client.get(f"/runs/{run.run_id}")
        assert page.status_code == 200
        assert "`echo line one; echo line two; echo oops &gt;&amp;2; exit 3` exited 3" in page.text
        link = f"/runs/{run.run_id}/checks/DEMO-1/log"
        assert f'href="{link}">full log</a>' in page.text
        log = client.get(link)
        assert log.status_code == 200 and log.headers["content-type"].startswith("text/plain")
        assert log.text.startswith("$ echo first ok\nfirst ok\n") and "check failed with exit 3" in log.text
        assert client.get(f"/runs/{run.run_id}/checks/DEMO-2/log").status_code == 404
        assert client.get(f"/runs/{run.run_id}/checks/..%2F..%2Fx/log").status_code == 404
