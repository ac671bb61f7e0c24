"""The web UI in real headless Chromium against a real `metawsm serve`: answer an agent's pending
question from the run page (its blocked `metawsm ask` gets the answer), live updates between two tabs
without reloads, the thread controls and "ask as human", and every page at 1280x800 and 375x800
without horizontal scrolling (screenshots land in the test's tmp folder)."""

from __future__ import annotations

import json
import urllib.request
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

ASKER = "metawsm ask 'Which DB?' --timeout 120 > ../answer.txt && metawsm signal completion"


class Live(NamedTuple):
    base: str
    root: Path
    run_id: str | None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def daemon(project: Path, tmp_path: Path) -> Iterator[Live]:  # noqa: F811
    with serve(project, tmp_path / "serve.log") as base:
        yield Live(base, project, None)


@pytest.fixture
def live(project: Path, tmp_path: Path, cli: Any) -> Iterator[Live]:  # noqa: F811
    """A run whose shell agent waits in `metawsm ask 'Which DB?'`, and the daemon watching it."""
    run_id = start(cli, project, agents_plan(project, "ui", {"asker": ASKER}))
    with serve(project, tmp_path / "serve.log") as base:
        yield Live(base, project, run_id)


@pytest.fixture
def errors() -> list[str]:
    """JavaScript errors seen by every page opened with `open_page`; checked at the end of each test."""
    found: list[str] = []
    yield found
    assert found == []


def open_page(browser: Any, errors: list[str], width: int = 1280, context: Any = None) -> Any:
    viewport = {"width": width, "height": 800}
    page = context.new_page() if context is not None else browser.new_page(viewport=viewport)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}")
            if m.type == "error" and not m.text.endswith("status of 404 (Not Found)") else None)
    return page


def settled(page: Any) -> None:
    """An action on the page is over once its form is no longer busy: its own refresh (a read begun after the
    action) is on the page, so no refresh started before it can still replace the controls."""
    expect(page.locator("form.busy")).to_have_count(0)


def api(base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def open_thread(base: str, title: str = "Deploy window?") -> str:
    body = {"ticket": "DEMO-1", "title": title, "body": "When can we deploy?", "priority": "normal",
            "actor_type": "human", "actor_name": "alice"}
    return str(api(base, "/api/v1/forum/threads", body)["thread"]["thread_id"])


def control_thread(run_id: str) -> str:
    return f"fctrl-{run_id}-demo-1-asker"


def test_answer_a_pending_question_from_the_run_page(live: Live, browser: Any, errors: list[str],
                                                     tmp_path: Path) -> None:
    page = open_page(browser, errors)
    page.goto(f"{live.base}/runs/{live.run_id}")
    expect(page.locator("#live-status")).to_have_text("live")
    # the question may be asked after the page loaded: the live update brings it in
    expect(page.locator("#questions .question-text")).to_have_text("Which DB?", timeout=20_000)
    expect(page.locator("#agents")).to_contain_text("DEMO-1/asker")
    expect(page.locator("#agents")).to_contain_text("attach-session")
    expect(page.locator("#gates")).to_contain_text("DEMO-1")
    page.screenshot(path=str(tmp_path / "run-question.png"), full_page=True)

    text = "Postgres <b>16</b> & nothing else"
    page.fill("#questions textarea[name=body]", text)
    page.click("#questions button:has-text('Answer')")
    answer = live.root / ".metawsm" / "workspaces" / "answer.txt"
    wait_for(lambda: answer.exists() and answer.read_text().strip() == text, 20, "`metawsm ask` to get the answer")
    # the page updates itself: the question is gone, and the agent's step finishes (worker reconcile)
    expect(page.locator("#questions .question")).to_have_count(0)
    expect(page.locator("#steps [data-step='agent:DEMO-1:asker']")).to_have_class("step st-done", timeout=20_000)
    expect(page.locator("#run-summary .badge").first).not_to_have_text("awaiting_guidance")
    page.screenshot(path=str(tmp_path / "run-answered.png"), full_page=True)

    # the answer is shown as text in the thread, never as markup
    page.goto(f"{live.base}/forum/threads/{control_thread(live.run_id or '')}")
    expect(page.locator("#timeline")).to_contain_text(text)
    assert page.locator("#timeline b").count() == 0


def test_a_post_in_one_tab_appears_in_another_without_a_reload(daemon: Live, browser: Any,
                                                               errors: list[str]) -> None:
    title = "Deploy <img src=x onerror=\"window.__pwned = 1\"> window?"
    thread_id = open_thread(daemon.base, title)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        writer, reader = open_page(browser, errors, context=context), open_page(browser, errors, context=context)
        url = f"{daemon.base}/forum/threads/{thread_id}"
        writer.goto(url)
        reader.goto(url)
        expect(reader.locator("#live-status")).to_have_text("live")
        expect(reader.locator("h1")).to_have_text(title)  # user text is shown as text, never as markup
        reader.evaluate("window.__sameDocument = true")
        writer.bring_to_front()  # a background tab gets no animation frames: actions would wait on them
        text = "Tuesday after <script>window.__pwned = 1</script> standup"
        writer.fill("#reply textarea[name=body]", text)
        with writer.expect_response(lambda r: r.url.endswith("/posts") and r.request.method == "POST") as posted:
            writer.click("#reply button:has-text('Reply')")
        assert posted.value.ok
        expect(reader.locator("#timeline")).to_contain_text(text)
        expect(reader.locator("#thread-head")).to_contain_text("2 posts")
        assert reader.evaluate("window.__sameDocument") is True  # no reload
        assert reader.evaluate("window.__pwned") is None
        expect(writer.locator("#reply textarea[name=body]")).to_have_value("")
    finally:
        context.close()


def test_board_ask_as_human_and_thread_controls(daemon: Live, browser: Any, errors: list[str]) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        board, other = open_page(browser, errors, context=context), open_page(browser, errors, context=context)
        other.goto(f"{daemon.base}/forum")
        expect(other.locator("#live-status")).to_have_text("live")
        other.evaluate("window.__sameDocument = true")
        board.bring_to_front()  # a background tab gets no animation frames: actions would wait on them
        board.goto(f"{daemon.base}/forum")
        form = board.locator("#ask form")
        form.locator("input[name=ticket]").fill("DEMO-2")
        form.locator("input[name=title]").fill("Which license?")
        form.locator("select[name=priority]").select_option("high")
        form.locator("textarea[name=body]").fill("MIT or Apache-2.0?")
        form.locator("button:has-text('Ask')").click()
        board.wait_for_url("**/forum/threads/**")
        expect(board.locator("h1")).to_have_text("Which license?")
        # the other tab's board shows the new thread in the New lane and in the search, without a reload
        expect(other.locator("#lane-new")).to_contain_text("Which license?")
        assert other.evaluate("window.__sameDocument") is True

        head = board.locator("#thread-head")
        expect(head).to_contain_text("high")
        assign = board.locator("form[data-api$='/assign']")
        assign.locator("select[name=assignee_type]").select_option("human")
        assign.locator("input[name=assignee_name]").fill("operator")
        assign.locator("button").click()
        expect(head).to_contain_text("assigned to human:operator")
        settled(board)
        prio = board.locator("form[data-api$='/priority']")
        prio.locator("select").select_option("urgent")
        prio.locator("button").click()
        expect(head.locator(".badge.p-urgent")).to_be_visible()
        settled(board)
        state = board.locator("form[data-api$='/state']")
        state.locator("select").select_option("waiting_human")
        state.locator("button").click()
        expect(head.locator(".badge.s-waiting_human")).to_be_visible()
        settled(board)
        board.locator("#reply textarea[name=body]").fill("MIT.")
        board.locator("#reply button:has-text('Answer')").click()
        expect(head.locator(".badge.s-answered")).to_be_visible()
        settled(board)
        board.once("dialog", lambda d: d.accept())
        board.locator("form[data-api$='/close'] button").click()
        expect(head.locator(".badge.s-closed")).to_be_visible()
        expect(board.locator("#controls")).to_contain_text("This thread is closed.")
        timeline = board.locator("#timeline")
        for needle in ("assigned to human:operator", "priority high → urgent", "new → waiting_human", "MIT.",
                       "answered → closed"):
            expect(timeline).to_contain_text(needle)

        # the board: search and the priority filter; "needs me" holds what is assigned to the viewer
        board.goto(f"{daemon.base}/forum?q=license")
        expect(board.locator("#closed")).to_contain_text("Which license?")
        open_thread(daemon.base, "Logging format?")
        board.goto(f"{daemon.base}/forum?priority=urgent")
        expect(board.locator("#lanes")).not_to_contain_text("Logging format?")
        board.goto(f"{daemon.base}/forum?viewer=human:bob")
        expect(board.locator("#queue-unseen")).to_contain_text("Logging format?")
    finally:
        context.close()


def test_an_action_on_the_page_keeps_what_the_person_is_editing_in_other_forms(daemon: Live, browser: Any,
                                                                               errors: list[str]) -> None:
    """An action's own refresh replaces the controls it changed (the priority form here), but a reply being typed
    and a state chosen but not yet set, in the same panel, stay as the person left them — with the focus and the
    caret — and the state form then sets the state that was chosen."""
    thread_id = open_thread(daemon.base, "Keep my draft?")
    page = open_page(browser, errors)
    page.goto(f"{daemon.base}/forum/threads/{thread_id}")
    expect(page.locator("#live-status")).to_have_text("live")
    head, draft = page.locator("#thread-head"), page.locator("#reply textarea[name=body]")
    state = page.locator("form[data-api$='/state'] select")
    state.select_option("waiting_human")  # the first choice for a new thread is "triaged"
    draft.fill("half a reply")
    draft.evaluate("t => t.setSelectionRange(4, 6)")
    page.locator("form[data-api$='/priority'] select").select_option("urgent")
    page.evaluate("document.getElementById('controls').dataset.rendered = 'before'")
    # set the priority without moving the focus out of the draft (as a keyboard shortcut would)
    page.evaluate("document.querySelector(\"form[data-api$='/priority']\").requestSubmit()")
    expect(head.locator(".badge.p-urgent")).to_be_visible()
    settled(page)
    expect(page.locator("#controls[data-rendered]")).to_have_count(0)  # the panel was replaced by a fresh copy
    expect(draft).to_have_value("half a reply")
    expect(state).to_have_value("waiting_human")
    assert draft.evaluate("t => [t === document.activeElement, t.selectionStart, t.selectionEnd]") == [True, 4, 6]
    page.locator("form[data-api$='/state'] button").click()
    expect(head.locator(".badge.s-waiting_human")).to_be_visible()
    settled(page)
    expect(draft).to_have_value("half a reply")
    expect(page.locator("#timeline")).to_contain_text("new → waiting_human")


PAGES = ("/", "/runs/{run}", "/forum", "/forum/threads/{thread}", "/login", "/runs/no-such-run")


def test_pages_fit_desktop_and_phone_screens(live: Live, browser: Any, errors: list[str], tmp_path: Path) -> None:
    run_id = live.run_id or ""
    for width in (1280, 375):
        page = open_page(browser, errors, width)
        page.goto(f"{live.base}/runs/{run_id}")
        expect(page.locator("#questions .question-text")).to_have_text("Which DB?", timeout=20_000)
        for i, path in enumerate(PAGES):
            url = live.base + path.format(run=run_id, thread=control_thread(run_id))
            resp = page.goto(url)
            assert resp is not None and resp.status == (404 if "no-such-run" in path else 200), url
            # the stylesheet applied (a missing one would also "fit")
            assert page.evaluate("getComputedStyle(document.querySelector('.top')).display") == "flex"
            scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert scroll <= inner, f"{url} overflows at {width}px: {scroll} > {inner}"
            page.screenshot(path=str(tmp_path / f"page-{i}-{width}.png"), full_page=True)
        page.close()


def test_with_a_token_the_pages_ask_to_sign_in_and_the_cookie_carries_the_live_stream(
        project: Path, browser: Any, errors: list[str], tmp_path: Path) -> None:  # noqa: F811
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token-for-ui\n", encoding="utf-8")
    with serve(project, tmp_path / "serve.log", "--token-file", str(token_file)) as base:
        context = browser.new_context(viewport={"width": 375, "height": 800})
        try:
            page = open_page(browser, errors, context=context)
            page.goto(f"{base}/forum")
            assert "/login" in page.url
            page.fill("input[name=token]", "wrong-token-here")
            page.click("button:has-text('Sign in')")
            expect(page.locator(".error-text")).to_contain_text("not right")
            page.fill("input[name=token]", "s3cret-token-for-ui")
            page.click("button:has-text('Sign in')")
            page.wait_for_url(f"{base}/forum")
            expect(page.locator("#live-status")).to_have_text("live")  # the WebSocket got the cookie too
            assert all(c["httpOnly"] for c in context.cookies())
            form = page.locator("#ask form")
            form.locator("input[name=ticket]").fill("DEMO-1")
            form.locator("input[name=title]").fill("Signed in?")
            form.locator("textarea[name=body]").fill("yes")
            form.locator("button:has-text('Ask')").click()
            expect(page.locator("h1")).to_have_text("Signed in?")
        finally:
            context.close()
