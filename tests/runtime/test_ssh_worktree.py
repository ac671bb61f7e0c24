"""The ssh backend's copy of a ticket's worktree: a ticket with several repositories (a folder of worktrees, not
one) is refused before anything reaches a host, with what to do instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from metawsm.errors import ExternalError
from metawsm.runtime import ssh_logs, ssh_worktree
from tests.conftest import git


def test_a_folder_of_worktrees_is_refused_with_the_way_out(tmp_path: Path) -> None:
    folder = tmp_path / "workspaces" / "ABC-1"  # what a ticket with `repos: [self, docs]` works in
    (folder / "self").mkdir(parents=True)
    with pytest.raises(ExternalError) as caught:
        ssh_worktree._locate(str(folder), "/srv/metawsm/1a2b")
    assert f"{folder} is not one (a ticket with several repositories" in caught.value.message
    assert "runtime: local" in (caught.value.hint or "")


def test_a_worktree_is_copied_under_the_hosts_folder(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "metawsm/ABC-1")
    (repo / "sub").mkdir()
    copy = ssh_worktree._locate(str(repo / "sub"), "/srv/metawsm/1a2b")
    assert (copy.local, copy.branch) == (str(repo), "metawsm/ABC-1")
    assert copy.worktree.startswith("/srv/metawsm/1a2b/") and copy.worktree.endswith("-metawsm-ABC-1")
    assert copy.cwd == copy.worktree + "/sub"


def test_transcripts_map_to_one_flat_folder_on_the_host(tmp_path: Path) -> None:
    local = tmp_path / "logs" / "demo-20261201-0101-ab12" / "DEMO-1" / "writer.2.log"
    assert ssh_logs.remote_log("/srv/m/1a2b", str(local)) == "/srv/m/1a2b/logs/demo-20261201-0101-ab12+DEMO-1+writer.2.log"
    assert ssh_logs._chunks("@@0\naGVs\nbG8=\n@@1\n@@2\n!!\n") == {0: b"hello", 1: b""}  # a torn answer is left out
