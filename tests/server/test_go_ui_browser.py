"""The Go metawsm's own web UI (kball/metawsm `ui/`, React + Vite), unchanged, in headless Chromium
against `metawsm serve --go-ui DIR`. The Go repository has no licence, so nothing of it is vendored
here and this test does not build it: point METAWSM_GO_UI_DIST at a build of it (its
`ui/dist/public`, see docs/api.md, "The Go web UI"), or the test is skipped. The stand-in test
(test_goui.py) and the field-by-field contract tests (test_go_contract.py) run everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metawsm.config.project import Project
from tests.server.conftest_browser import chromium, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
DIST = os.environ.get("METAWSM_GO_UI_DIST", "")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not DIST:
        pytest.skip("METAWSM_GO_UI_DIST is not set (a built Go metawsm UI: its ui/dist/public)")
    with chromium() as b:
        yield b


def cli(root: Path, *argv: str) -> dict[str, Any]:
    r = subprocess.run([sys.executable, "-m", "metawsm", "-C", str(root), *argv, "--json"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def get(base: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(base + path, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def test_the_go_ui_works_unchanged(browser: Any, proj: Project, tmp_path: Path) -> None:
    root = proj.root
    first = cli(root, "forum", "ask", "--ticket", "METAWSM-001", "--title", "Which database?",
                "--body", "postgres or sqlite", "--actor-type", "agent", "--actor-name", "agent")["thread"]
    errors: list[str] = []
    with serve(root, tmp_path / "serve.log", "--go-ui", DIST) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.goto(base + "/")
        expect(page.get_by_role("heading", name="Threads Explorer")).to_be_visible()
        thread_button = page.get_by_role("button", name="Which database?")
        expect(thread_button).to_be_visible()

        # the timeline: events (envelope + payload_json) joined with posts by event_id
        thread_button.click()
        detail = page.locator(".detail-meta")
        expect(detail).to_contain_text("Which database?")
        timeline = page.locator(".timeline")
        expect(timeline).to_contain_text("postgres or sqlite")
        expect(timeline).to_contain_text("forum.thread.opened")

        # respond as human
        page.get_by_placeholder("Write a response to this thread...").fill("sqlite, for now")
        page.get_by_role("button", name="Send Reply").click()
        expect(timeline).to_contain_text("sqlite, for now")
        posts = get(base, f"/api/v1/forum/threads/{first['thread_id']}")["posts"]
        assert [(p["author_type"], p["body"]) for p in posts][-1] == ("human", "sqlite, for now")

        # live refresh from a CLI post, no reload
        cli(root, "forum", "post", first["thread_id"], "--body", "posted from the cli", "--actor-type", "agent",
            "--actor-name", "agent")
        expect(timeline).to_contain_text("posted from the cli")

        # the search box (substring) on the All Threads board
        page.get_by_role("button", name="All Threads (").click()
        cli(root, "forum", "ask", "--ticket", "METAWSM-002", "--title", "Deploy on Friday?", "--body", "or Monday")
        expect(page.get_by_role("button", name="Deploy on Friday?")).to_be_visible()  # live
        page.wait_for_timeout(500)  # let the stream's debounced refresh land (it uses the query of its time)
        search = page.get_by_placeholder("Search title/body")
        search.fill("atabase")
        expect(page.get_by_role("button", name="Deploy on Friday?")).to_have_count(0)
        expect(page.get_by_role("button", name="Which database?")).to_be_visible()
        search.fill("")
        expect(page.get_by_role("button", name="Deploy on Friday?")).to_be_visible()

        # ask as human
        page.get_by_placeholder("Question ticket (e.g. METAWSM-011)").fill("METAWSM-001")
        page.get_by_placeholder("Question title").fill("Ship it?")
        page.get_by_placeholder("Describe the question for the forum...").fill("tests pass")
        page.get_by_role("button", name="Ask Question").click()
        expect(page.get_by_role("button", name="Ship it?")).to_be_visible()
        expect(detail).to_contain_text("Ship it?")
        asked = [t for t in get(base, "/api/v1/forum/threads?ticket=METAWSM-001")["threads"] if t["title"] == "Ship it?"]
        assert [(t["opened_by_type"], t["opened_by_name"]) for t in asked] == [("human", "human:operator")]

        # system health: the debug snapshot in Go's shape
        page.get_by_role("button", name="Show System Health").click()
        health = page.locator("#debug-panel")
        expect(health).to_contain_text("healthy=true")
        expect(health).to_contain_text("Topic Streams (")
        expect(health).to_contain_text("forum.post.added")
        expect(page.locator(".warning")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "go-ui.png"), full_page=True)

        # this daemon's own UI moved to /ui
        own = browser.new_page()
        own.goto(base + "/ui/forum")
        link = own.locator("#lane-new").get_by_role("link", name="Which database?")
        expect(link).to_be_visible()
        link.click()
        own.wait_for_url(f"{base}/ui/forum/threads/{first['thread_id']}*")
        expect(own.locator("main")).to_contain_text("posted from the cli")
        own.close()
        page.close()
    assert errors == []
