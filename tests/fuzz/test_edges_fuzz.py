"""Issue 15: random integers and strings at the API's and the CLI's entries never produce a 500, a
traceback or an unreadable log (each example checks that every line of the log is a valid event)."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metawsm.cli.main import main
from metawsm.config.loader import default_policy
from metawsm.config.project import Project
from metawsm.forum import Forum
from metawsm.server.app import create_app

pytestmark = pytest.mark.fuzz
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
INTS = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, 2**64, 2**53]))
TEXT = st.one_of(st.text(max_size=30), st.sampled_from(["", " ", "a\n", "x" * 250, "../../x", "\x1b[2J", "\x00"]))
VALUE = st.one_of(INTS, TEXT, st.none(), st.booleans(), st.floats(allow_nan=True))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("api")
    (root / ".metawsm").mkdir()
    project = Project(root)
    forum = Forum.for_project(project)
    tid = forum.open_thread("T-1", "seed", "b", thread_id="fthr-seed", actor_type="human", actor_name="a").thread_id
    forum.shutdown()
    with TestClient(create_app(project, default_policy(), worker=False), base_url="http://127.0.0.1") as client:
        yield client, project, tid


def _log_is_readable(project: Project) -> None:
    forum = Forum.for_project(project)
    try:
        count, problems = forum.log.scan()
        assert problems == [] and count >= 1
    finally:
        forum.shutdown()


QUERIES = ("/api/v1/forum/threads", "/api/v1/forum/events", "/api/v1/forum/search", "/api/v1/forum/queues",
           "/api/v1/forum/debug", "/api/v1/runs", "/api/v1/gate")
PARAMS = ("limit", "cursor", "state", "priority", "viewer_type", "viewer_id", "ticket", "type", "query")


@SETTINGS
@given(path=st.sampled_from(QUERIES), params=st.dictionaries(st.sampled_from(PARAMS), st.one_of(INTS, TEXT),
                                                                 max_size=4))
def test_api_queries_never_500(api: Any, path: str, params: dict[str, Any]) -> None:
    client, _, _ = api
    r = client.get(path, params={k: str(v) for k, v in params.items()})
    assert r.status_code < 500, (path, params, r.text[:300])


BODIES = {
    "/api/v1/forum/threads": ("ticket", "title", "body", "actor_type", "actor_name", "thread_id", "run_id",
                              "idempotency_key", "priority"),
    "/api/v1/forum/threads/{tid}/seen": ("viewer_type", "viewer_id", "last_seen_event_sequence"),
    "/api/v1/forum/threads/{tid}/posts": ("body", "actor_type", "actor_name", "idempotency_key"),
    "/api/v1/forum/threads/{tid}/state": ("to_state", "actor_type"),
    "/api/v1/forum/control/signal": ("run_id", "ticket", "agent_name", "actor_type", "payload"),
}
BASE = {"ticket": "T-1", "title": "t", "body": "b", "actor_type": "human", "viewer_type": "human",
        "viewer_id": "v", "to_state": "triaged", "run_id": "r", "agent_name": "a",
        "payload": {"schema_version": 1, "control_type": "completion", "run_id": "r", "agent_name": "a",
                    "attempt": 1}}


@SETTINGS
@given(path=st.sampled_from(sorted(BODIES)), data=st.data())
def test_api_bodies_never_500_and_the_log_stays_readable(api: Any, path: str, data: st.DataObject) -> None:
    client, project, tid = api
    fields = BODIES[path]
    body = {k: BASE[k] for k in fields if k in BASE}
    body.update(data.draw(st.dictionaries(st.sampled_from(fields), VALUE, max_size=3)))
    if "payload" in body and isinstance(body["payload"], dict):
        body["payload"] = {**body["payload"], "attempt": data.draw(st.one_of(INTS, VALUE))}
    # encoded here, not by httpx (which refuses NaN and infinities): the server must also survive those tokens
    r = client.post(path.format(tid=tid), content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code < 500, (path, body, r.text[:300])
    _log_is_readable(project)


@SETTINGS
@given(argv=st.one_of(
    st.tuples(st.just("seen"), INTS),
    st.tuples(st.just("attempt"), INTS),
    st.tuples(st.just("limit"), INTS),
    st.tuples(st.just("cursor"), INTS),
    st.tuples(st.just("ask"), TEXT, TEXT),
))
def test_cli_never_crashes(tmp_path_factory: pytest.TempPathFactory, argv: tuple[Any, ...]) -> None:
    root = tmp_path_factory.mktemp("cli")
    (root / ".metawsm").mkdir()
    project = Project(root)
    forum = Forum.for_project(project)
    forum.open_thread("T-1", "seed", "b", thread_id="fthr-seed", actor_type="human", actor_name="a")
    forum.shutdown()
    kind = argv[0]
    ctx = ["--run", "r1", "--ticket", "T-1", "--agent", "a"]
    args = {
        "seen": ["forum", "seen", "fthr-seed", "--viewer", "human:me", "--sequence", str(argv[1]) if kind == "seen" else "0"],
        "attempt": ["signal", "completion", *ctx, "--attempt", str(argv[1])],
        "limit": ["forum", "list", "--limit", str(argv[1])],
        "cursor": ["forum", "watch", "--once", "--cursor", str(argv[1])],
        "ask": ["forum", "ask", "--ticket", str(argv[1]) or "T", "--title", str(argv[-1]) or "t", "--body", "b",
                "--actor-type", "human", "--actor-name", str(argv[-1]) or "n"],
    }[kind]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-C", str(root), *args])
    assert code in (0, 1, 2), (args, err.getvalue())
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue(), (args, err.getvalue())
    assert not (root / ".metawsm" / "state" / "logs" / "crash.log").exists()
    _log_is_readable(project)
