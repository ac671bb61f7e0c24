"""Issue 15, in real headless Chromium against a real `metawsm serve`: a plain cross-origin HTML form
POST (which used to stop, resume or restart runs) is refused — from a page on another port of
127.0.0.1 (the token daemon's SameSite=Strict cookie does not separate ports) and from a non-loopback
name mapped to 127.0.0.1 — and a DNS-rebound name is refused for pages and the WebSocket alike, while
the UI's own forms keep working."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.server.conftest_browser import chromium, free_port, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
EVIL = "evil.test"  # resolved to 127.0.0.1 by Chromium's --host-resolver-rules only


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(f"--host-resolver-rules=MAP {EVIL} 127.0.0.1") as b:
        yield b


@pytest.fixture
def project(repo: Path, cli: Any) -> Path:
    assert cli("init", cwd=repo).code == 0
    return repo


@pytest.fixture
def attacker() -> Iterator[dict[str, str]]:
    """Another web server on another port of 127.0.0.1; `pages[path] = html` sets what it serves."""
    pages: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "not here").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        pages["__port__"] = str(port)
        yield pages
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _open_thread(base: str) -> str:
    body = {"ticket": "DEMO-1", "title": "t", "body": "b", "actor_type": "human", "actor_name": "alice"}
    req = urllib.request.Request(base + "/api/v1/forum/threads", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.loads(resp.read())["thread"]["thread_id"])


def _state(base: str, tid: str) -> str:
    with urllib.request.urlopen(f"{base}/api/v1/forum/threads/{tid}", timeout=10) as resp:
        return str(json.loads(resp.read())["thread"]["state"])


def _attack(page: Any, pages: dict[str, str], origin_host: str, target: str, enctype: str = "text/plain") -> int:
    """Serve an auto-submitting form on the attacker's server, open it, return the target's status."""
    pages["/attack"] = (
        f'<form id=f method=post action="{target}" enctype="{enctype}">'
        '<input name=\'{"actor_type":"human","actor_name":"mallory","x":"\' value=\'"}\'></form>'
        "<script>document.getElementById('f').submit()</script>")
    def ours(r: Any) -> bool:  # the attack's POST only: the UI page left open keeps fetching its thread
        return bool(r.request.method == "POST" and r.url.split("?")[0] == target.split("?")[0])

    with page.expect_response(ours) as info:
        page.goto(f"http://{origin_host}:{pages['__port__']}/attack")
    return int(info.value.status)


@pytest.mark.parametrize("origin_host", ["127.0.0.1", EVIL])
def test_cross_origin_form_post_is_refused(project: Path, tmp_path: Path, browser: Any,
                                           attacker: dict[str, str], origin_host: str) -> None:
    with serve(project, tmp_path / "serve.log") as base:
        tid = _open_thread(base)
        page = browser.new_page()
        try:
            for target, enctype in ((f"{base}/api/v1/runs/R-1/stop", "application/x-www-form-urlencoded"),
                                    (f"{base}/api/v1/runs/R-1/restart", "text/plain"),
                                    (f"{base}/api/v1/forum/threads/{tid}/close", "text/plain")):
                assert _attack(page, attacker, origin_host, target, enctype) == 403
                assert "csrf" in page.content()
        finally:
            page.close()
        assert _state(base, tid) == "new"


def test_token_daemon_another_port_of_loopback_cannot_use_the_session(
        project: Path, tmp_path: Path, browser: Any, attacker: dict[str, str]) -> None:
    """The session cookie (SameSite=Strict) is sent to 127.0.0.1:DAEMON from a page on 127.0.0.1:OTHER
    (same site, other origin); the CSRF token and the Origin check refuse the POST anyway."""
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token-for-csrf\n", encoding="utf-8")
    with serve(project, tmp_path / "serve.log", "--token-file", str(token_file)) as base:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{base}/login?next=/forum")
            page.fill("input[name=token]", "s3cret-token-for-csrf")
            page.click("button:has-text('Sign in')")
            page.wait_for_url(f"{base}/forum")
            cookies = {c["name"]: c for c in context.cookies()}
            assert cookies["metawsm_session"]["httpOnly"] and cookies["metawsm_session"]["sameSite"] == "Strict"
            assert cookies["metawsm_csrf"]["httpOnly"] and cookies["metawsm_csrf"]["sameSite"] == "Strict"
            form = page.locator("#ask form")  # the UI's own form still works (it sends the token)
            form.locator("input[name=ticket]").fill("DEMO-1")
            form.locator("input[name=title]").fill("Mine")
            form.locator("textarea[name=body]").fill("yes")
            form.locator("button:has-text('Ask')").click()
            sync_api.expect(page.locator("h1")).to_have_text("Mine")
            tid = urlsplit(page.url).path.rsplit("/", 1)[-1]  # the page's URL carries ?viewer=…
            status = _attack(page, attacker, "127.0.0.1", f"{base}/api/v1/forum/threads/{tid}/close")
            assert status == 403 and "csrf" in page.content()
            req = urllib.request.Request(f"{base}/api/v1/forum/threads/{tid}",
                                         headers={"Authorization": "Bearer s3cret-token-for-csrf"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert json.loads(resp.read())["thread"]["state"] == "new"
        finally:
            context.close()


def test_dns_rebinding_name_is_refused_for_pages_and_websocket(project: Path, tmp_path: Path,
                                                               browser: Any) -> None:
    """A page loaded from http://evil.test:DAEMON (the attacker's name, rebound to 127.0.0.1) gets 403,
    and its WebSocket (Host = Origin = evil.test) is refused: it used to stream events."""
    with serve(project, tmp_path / "serve.log") as base:
        port = base.rsplit(":", 1)[1]
        page = browser.new_page()
        try:
            resp = page.goto(f"http://{EVIL}:{port}/forum")
            assert resp is not None and resp.status == 403 and "forbidden_host" in page.content()
            result = page.evaluate(
                """url => new Promise(done => {
                     const ws = new WebSocket(url);
                     ws.onmessage = () => done("message");
                     ws.onclose = e => done("closed " + e.code);
                     setTimeout(() => done("timeout"), 30000);  // only a hang waits this long
                   })""", f"ws://{EVIL}:{port}/api/v1/forum/stream")
            assert result.startswith("closed") and result != "message"
            assert page.goto(f"{base}/forum").status == 200  # the loopback name still works
        finally:
            page.close()
