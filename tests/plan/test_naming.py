from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from metawsm.config.loader import default_policy
from metawsm.config.models import RepoSpec, Ticket
from metawsm.plan.naming import branch_name, sanitize, session_name, workspace_paths


class SanitizeCase(NamedTuple):
    id: str
    token: str
    expected: str


SANITIZE = [
    SanitizeCase("plain", "ABC-1", "ABC-1"),
    SanitizeCase("keeps-case-and-underscore", "My_Plan", "My_Plan"),
    SanitizeCase("dots-and-colons", "a.b:c", "a-b-c"),
    SanitizeCase("collapses", "a .. :: b", "a-b"),
    SanitizeCase("strips", "--x--", "x"),
    SanitizeCase("placeholder", "<run>", "run"),
    SanitizeCase("empty", "", "x"),
    SanitizeCase("only-unsafe", "...", "x"),
    SanitizeCase("unicode", "café/β", "caf"),
]


@pytest.mark.parametrize("case", SANITIZE, ids=[c.id for c in SANITIZE])
def test_sanitize(case: SanitizeCase) -> None:
    assert sanitize(case.token) == case.expected


def test_session_name_is_tmux_safe() -> None:
    assert session_name("{plan}-{ticket}-{agent}", "feat.v2", "ABC-1", "impl", "<run>") == "feat-v2-ABC-1-impl"
    assert session_name("mw.{run}:{agent}", "p", "T-1", "a", "r1") == "mw-r1-a"


def test_branch_and_single_repo_workspace(tmp_path: Path) -> None:
    policy = default_policy()
    ticket = Ticket(id="ABC-1", title="t")
    ws = workspace_paths(tmp_path, policy, ticket)
    assert branch_name(policy, "ABC-1") == "metawsm/ABC-1"
    assert ws.path == tmp_path / ".metawsm/workspaces/ABC-1"
    assert ws.repos == {"self": ws.path}
    assert ws.repo_roots == {"self": tmp_path}
    assert (ws.branch, ws.base_branch) == ("metawsm/ABC-1", "main")


def test_multi_repo_workspace(tmp_path: Path) -> None:
    base = default_policy()
    import dataclasses

    policy = dataclasses.replace(base, repos={"api": RepoSpec("../api", "develop"), "web": RepoSpec("/abs/web")})
    ws = workspace_paths(tmp_path, policy, Ticket(id="ABC-1", title="t", repos=("self", "api", "web")))
    folder = tmp_path / ".metawsm/workspaces/ABC-1"
    assert ws.path == folder
    assert ws.repos == {"self": folder / "self", "api": folder / "api", "web": folder / "web"}
    assert ws.repo_roots == {"self": tmp_path, "api": tmp_path / "../api", "web": Path("/abs/web")}
    assert ws.base_branches == {"self": "main", "api": "develop", "web": "main"}
