"""The run page in headless Chromium: a failed agent's full failure reason (what `metawsm status -v` prints),
and the transcript of each of its attempts — text the agent printed is shown as text, never as markup."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, status
from tests.server.conftest_browser import chromium, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.tmux]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

MARKUP = "<img src=x onerror=window.__pwned=1> and <b>bold</b>"
FAILING = (f"echo attempt $METAWSM_ATTEMPT starts; echo '{MARKUP}'; "
           "echo 'a long reason: ' $(seq 1 60); exit 3")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_failure_reason_and_transcripts_of_every_attempt(project: Path, cli: Any, browser: Any,  # noqa: F811
                                                         tmp_path: Path) -> None:
    policy = project / ".metawsm" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("execution:\n", "execution:\n  step_retries: 1\n"),
                      encoding="utf-8")
    cli("apply", str(agents_plan(project, "fails", {"w": FAILING})), cwd=project)  # fails fast: exit code 1
    run_id = status(cli, project, "--all")["runs"][0]["run_id"]

    def failed() -> dict[str, Any] | None:
        cli("reconcile", cwd=project)
        steps = {s["step_id"]: s for s in status(cli, project, "--all")["runs"][0]["steps"]}
        step = steps["agent:DEMO-1:w"]
        return step if step["status"] == "failed" and step["attempts"] == 2 else None

    note = wait_for(failed, timeout=60, what="two failed attempts")["last_error"]  # type: ignore[index]
    assert len(note) > 100 and "60" in note  # longer than status cuts it
    errors: list[str] = []
    with serve(project, tmp_path / "serve.log") as base:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/runs/{run_id}")
        failure = page.locator("#agents [data-agent='DEMO-1/w'] .agent-failure")
        expect(failure).to_have_text(note)  # whole, as text
        links = page.locator("#agents [data-agent='DEMO-1/w'] a.transcript")
        expect(links).to_have_count(2)
        page.screenshot(path=str(tmp_path / "run-failed.png"), full_page=True)
        links.nth(0).click()
        expect(page.locator("pre.transcript")).to_contain_text("attempt 1 starts")
        expect(page.locator("pre.transcript")).to_contain_text(MARKUP)  # the agent's output, shown as text
        assert page.locator("pre.transcript img, pre.transcript b").count() == 0
        page.click("#transcript a[href='?attempt=2']")
        expect(page.locator("pre.transcript")).to_contain_text("attempt 2 starts")
        assert page.evaluate("window.__pwned === undefined")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # long lines wrap
        page.screenshot(path=str(tmp_path / "transcript.png"), full_page=True)
        missing = page.goto(f"{base}/runs/{run_id}/agents/DEMO-1/w/transcript?attempt=9")
        assert missing is not None and missing.status == 404
        page.close()
    assert errors == []
