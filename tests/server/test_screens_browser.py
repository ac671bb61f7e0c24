"""The run page's live agent screens in real headless Chromium against a real `metawsm serve` and real tmux: a
pane change appears without a reload, agent output is shown as text (never markup), the send box types into the
session for a signed-in user and is refused without auth, notifications are opt-in, a ticket's parallel agents
are drawn side by side and names stay whole."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.engine.conftest import project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, start
from tests.server.conftest_browser import chromium, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.tmux]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

TOKEN = "screens-browser-token"
PLAN = "screens-and-parallel-agents"
EVIL = "red <img src=x onerror=window.__pwned=1> & done"
AGENTS = {"tty": f"printf '\\033[31mred\\033[0m{EVIL[3:]}\\n'; exec cat",
          "asker": "while [ ! -e ../go ]; do sleep 0.1; done; metawsm ask 'Deploy now?' --timeout 120 && "
                   "metawsm signal completion --summary shipped; exec cat"}
# Notifications are recorded instead of shown (headless Chromium shows none); the page sees permission granted.
RECORD_NOTES = """
window.__notes = [];
window.Notification = class { constructor(title, opts) { window.__notes.push(title + ": " + (opts || {}).body); }
  static get permission() { return "granted"; } static requestPermission() { return Promise.resolve("granted"); } };
"""


class Live(NamedTuple):
    base: str
    root: Path
    run_id: str
    socket: str


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def live(project: Path, cli: Any, tmux_socket: str, tmp_path: Path) -> Iterator[Live]:  # noqa: F811
    run_id = start(cli, project, agents_plan(project, PLAN, AGENTS))
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    with serve(project, tmp_path / "serve.log", "--token-file", str(token)) as base:
        yield Live(base, project, run_id, tmux_socket)


def signed_in(browser: Any, base: str, errors: list[str], width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 800})
    context.add_init_script(RECORD_NOTES)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.goto(f"{base}/login?next=/")
    page.fill("input[name=token]", TOKEN)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{base}/")
    return page


def watched(base: str) -> int:
    """How many sessions the daemon captures for watching clients now (health's stream figures)."""
    req = urllib.request.Request(f"{base}/api/v1/health", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return int(json.loads(resp.read())["stream"]["screens_watched"])


def screen(page: Any, agent: str) -> Any:
    return page.locator(f".screen-card[data-screen-agent='{agent}'] pre.screen")


def test_live_screen_escaped_send_box_and_notifications(live: Live, browser: Any, tmp_path: Path) -> None:
    errors: list[str] = []
    page = signed_in(browser, live.base, errors)
    try:
        page.set_viewport_size({"width": 1280, "height": 300})  # the screens start below the fold
        page.goto(f"{live.base}/runs/{live.run_id}")
        page.evaluate("window.__sameDocument = true")
        expect(page.locator("#live-status")).to_have_text("live")
        assert watched(live.base) == 0  # a screen nobody sees is not captured
        tty = screen(page, "tty")
        tty.scroll_into_view_if_needed()  # a screen is watched while it is on screen ...
        expect(tty).to_contain_text(EVIL)  # the agent's output, as text
        wait_for(lambda: watched(live.base) == 2, what="both agents' cards (side by side in the grid) watched")
        page.evaluate("Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});"
                      "document.dispatchEvent(new Event('visibilitychange'))")
        wait_for(lambda: watched(live.base) == 0, what="no screen watched while the tab is hidden")  # ... and visible
        page.evaluate("delete document.visibilityState; document.dispatchEvent(new Event('visibilitychange'))")
        wait_for(lambda: watched(live.base) == 2, what="the screens watched again")
        page.set_viewport_size({"width": 1280, "height": 800})
        assert page.locator("pre.screen img").count() == 0 and page.evaluate("window.__pwned") is None
        expect(tty.locator("span", has_text="red")).to_have_attribute("style", "color:#cd3131")

        marker = f"pane-change-{uuid.uuid4().hex[:8]}"  # typed into the pane from outside: the page shows it
        subprocess.run(["tmux", "-L", live.socket, "send-keys", "-t", f"={PLAN}-DEMO-1-tty:", "-l", marker],
                       check=True)
        expect(tty).to_contain_text(marker)

        card = page.locator(".screen-card[data-screen-agent='tty']")
        card.locator("textarea[name=text]").fill("hello from the browser")
        card.locator("button:has-text('Send')").click()
        expect(tty).to_contain_text("hello from the browser")  # cat echoes what was pasted
        expect(card.locator("textarea[name=text]")).to_have_value("")
        thread = json.loads(urllib.request.urlopen(urllib.request.Request(
            f"{live.base}/api/v1/forum/threads/fctrl-{live.run_id}-demo-1-tty",
            headers={"Authorization": f"Bearer {TOKEN}"}), timeout=10).read())
        assert thread["posts"][-1]["body"].endswith("(attempt 1):\nhello from the browser")

        page.check("#notify-toggle")  # opt in; then the agent asks, is answered and finishes
        assert page.evaluate("localStorage.getItem('metawsm-notify')") == "1"
        (live.root / ".metawsm" / "workspaces" / "go").touch()
        page.wait_for_function("window.__notes.some((n) => n.startsWith('DEMO-1/asker asks'))", timeout=20_000)
        page.locator("#questions textarea[name=body]").fill("yes")
        page.locator("#questions button:has-text('Answer')").click()
        page.wait_for_function("window.__notes.some((n) => n === 'DEMO-1/asker finished: shipped')", timeout=20_000)
        assert page.evaluate("window.__notes") == ["DEMO-1/asker asks: Deploy now?", "DEMO-1/asker finished: shipped"]
        assert page.evaluate("window.__sameDocument") is True  # all of it without a reload
        page.screenshot(path=str(tmp_path / "run-screens.png"), full_page=True)
    finally:
        page.context.close()
    assert errors == []


def test_parallel_agents_side_by_side_and_names_whole(live: Live, browser: Any) -> None:
    errors: list[str] = []
    for width in (1280, 375):
        page = signed_in(browser, live.base, errors, width)
        try:
            plan_cell = page.locator(f"tr[data-run='{live.run_id}'] td[data-label=Plan]")
            expect(plan_cell).to_have_text(PLAN)
            # the plan name's text is on one line (a name broken mid-word has several line boxes)
            lines = ("(el) => { const r = document.createRange(); r.selectNodeContents(el); "
                     "return r.getClientRects().length; }")
            if width > 760:  # on a phone a name wider than the card may break; at desktop width never
                assert plan_cell.evaluate(lines) == 1
            page.goto(f"{live.base}/runs/{live.run_id}")
            if width > 760:
                assert page.locator("#plan-name").evaluate(lines) == 1
            stage = page.locator("#steps li.stage.parallel")
            expect(stage).to_have_count(1)
            expect(stage).to_have_attribute("data-lanes", "2")
            lanes = stage.locator("ol.lane")
            assert sorted(lanes.nth(i).locator("li.step").evaluate_all("els => els.map((e) => e.dataset.step)")
                          for i in range(2)) == [["session:DEMO-1:asker", "agent:DEMO-1:asker"],
                                                 ["session:DEMO-1:tty", "agent:DEMO-1:tty"]]
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
        finally:
            page.context.close()
    assert errors == []


def test_send_refused_without_auth(live: Live, browser: Any, project: Path, tmp_path: Path) -> None:  # noqa: F811
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{live.base}/runs/{live.run_id}")
        expect(page).to_have_url(f"{live.base}/login?next=/runs/{live.run_id}")  # pages need signing in
        status = page.evaluate("""async (url) => (await fetch(url, {method: 'POST', body: '{"text": "ls"}',
            headers: {'Content-Type': 'application/json'}})).status""",
                               f"{live.base}/api/v1/runs/{live.run_id}/agents/DEMO-1/tty/message")
        assert status == 401
        with serve(project, tmp_path / "open.log") as open_base:  # a daemon without a token: no send box at all
            page.goto(f"{open_base}/runs/{live.run_id}")
            screen(page, "tty").scroll_into_view_if_needed()
            expect(screen(page, "tty")).to_contain_text(EVIL)  # the screen is shown (read-only)
            expect(page.locator(".screen-card form.send")).to_have_count(0)
            expect(page.locator(".screen-card").first).to_contain_text("needs a daemon started with a token")
            status = page.evaluate("""async (url) => (await fetch(url, {method: 'POST', body: '{"text": "ls"}',
                headers: {'Content-Type': 'application/json'}})).status""",
                                   f"{open_base}/api/v1/runs/{live.run_id}/agents/DEMO-1/tty/message")
            assert status == 403
    finally:
        context.close()
    pane = subprocess.run(["tmux", "-L", live.socket, "capture-pane", "-p", "-t", f"={PLAN}-DEMO-1-tty:"],
                          capture_output=True, text=True).stdout
    assert EVIL in pane and "ls" not in pane  # nothing was typed
