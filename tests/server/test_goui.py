"""`serve --go-ui DIR`: a built single-page app at `/` with the index.html fallback, this UI at `/ui`,
the API untouched (an unknown /api path stays a JSON 404). The app here is a stand-in written by the
test (an index.html and an asset); test_go_ui_browser.py runs the real Go UI when one is built."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from metawsm.config.loader import load_policy
from metawsm.config.project import Project
from metawsm.errors import UsageError
from metawsm.server.app import create_app
from metawsm.server.goui import resolve_dist

INDEX = '<!doctype html><html><body><div id="root"></div><script src="/assets/app.js"></script></body></html>'


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    d = tmp_path / "ui" / "dist" / "public"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_text(INDEX)
    (d / "assets" / "app.js").write_text("console.log('go ui')")
    (tmp_path / "secret.txt").write_text("not served")
    return d


@pytest.fixture
def go_client(proj: Project, dist: Path) -> TestClient:
    client = TestClient(create_app(proj, load_policy(proj), worker=False, go_ui=dist), base_url="http://127.0.0.1")
    client.__enter__()
    yield client
    client.__exit__(None, None, None)


def test_go_ui_at_root_with_spa_fallback(go_client: TestClient) -> None:
    for path in ("/", "/threads/fthr-1", "/some/deep/link?x=1"):
        r = go_client.get(path)
        assert r.status_code == 200 and '<div id="root">' in r.text, path
    js = go_client.get("/assets/app.js")
    assert js.status_code == 200 and "go ui" in js.text and "javascript" in js.headers["content-type"]
    assert go_client.get("/../secret.txt").text == INDEX  # never outside DIR: the fallback page instead
    assert go_client.get("/%2e%2e/secret.txt").text == INDEX


def test_api_and_own_ui_keep_working(go_client: TestClient) -> None:
    missing = go_client.get("/api/v1/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert go_client.get("/api/v1/health").json()["status"] == "ok"
    assert go_client.get("/openapi.json").status_code == 200
    assert go_client.get("/static/app.js").status_code == 200
    ours = go_client.get("/ui/")
    assert ours.status_code == 200 and 'data-base="/ui"' in ours.text
    assert 'href="/ui/forum"' in ours.text and 'href="/forum"' not in ours.text
    go_client.post("/api/v1/forum/threads", json={"ticket": "T-1", "title": "t", "body": "b",
                                                   "actor_type": "human", "actor_name": "h"})
    board = go_client.get("/ui/forum")
    assert board.status_code == 200 and 'action="/ui/forum"' in board.text
    assert 'href="/ui/forum/threads/' in board.text and 'href="/forum/threads/' not in board.text
    redirect = go_client.get("/ui", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "/ui/"
    login = go_client.get("/login")
    assert login.status_code == 200 and "Sign in" in login.text


def test_without_go_ui_our_pages_stay_at_root(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'data-base=""' in page.text and 'href="/forum"' in page.text
    assert client.get("/ui/").status_code == 404


def test_dist_is_found_in_ui_dist_or_public(dist: Path) -> None:
    ui = dist.parent.parent
    assert resolve_dist(ui) == resolve_dist(dist.parent) == resolve_dist(dist) == dist.resolve()
    with pytest.raises(UsageError, match=r"no index\.html"):
        resolve_dist(ui.parent / "nothing")


def test_token_protected_go_ui_signs_in_with_the_cookie(proj: Project, dist: Path) -> None:
    """The Go UI sends no token: with one set, the page redirects to /login once, and the session
    cookie then authorises the UI's API calls."""
    client = TestClient(create_app(proj, load_policy(proj), worker=False, go_ui=dist, token="s3cret-token"), base_url="http://127.0.0.1")
    with client:
        r = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert client.get("/api/v1/runs").status_code == 401
        r = client.post("/login", data={"token": "s3cret-token", "next": "/"}, follow_redirects=False)
        assert r.status_code == 303
        assert client.get("/", headers={"accept": "text/html"}).text == INDEX
        assert client.get("/api/v1/runs").status_code == 200
