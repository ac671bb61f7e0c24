"""close --dry-run shows per ticket the commits with subjects, the diffstat and every action the real close
takes (golden output, shas and paths masked), and changes nothing. Real git, real tmux."""

from __future__ import annotations

import re
from pathlib import Path

from tests.engine.conftest import project  # noqa: F401 - fixture

GOLDEN = """\
DEMO-1 (RUN) [dry run]
  commit self: SHA DEMO-1: Write the greeting file
  self: demo/DEMO-1.txt | +1 -0 (added)
  self: 1 files changed, 1 insertions(+), 0 deletions(-)
  would merge metawsm/DEMO-1 into main (merge) in ROOT, adding a line to tickets/DEMO-1.changelog.md in the merge commit
  would record DEMO-1 as merged and post the close in the forum
  would end session demo-DEMO-1-writer
  would remove worktree ROOT/.metawsm/workspaces/DEMO-1
  would delete branch metawsm/DEMO-1 in ROOT
"""


def test_close_dry_run_golden(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    before = (project / ".metawsm/state/forum/events.jsonl").read_text()
    r = cli("close", "--ticket", "DEMO-1", "--dry-run", cwd=project)
    assert r.code == 0, r.err
    run_id = re.search(r"DEMO-1 \((\S+)\) \[dry run\]", r.out).group(1)  # type: ignore[union-attr]
    masked = re.sub(r"\b[0-9a-f]{12}\b", "SHA", r.out.replace(run_id, "RUN").replace(str(project), "ROOT"))
    assert masked == GOLDEN
    assert (project / ".metawsm/workspaces/DEMO-1").is_dir()
    assert (project / ".metawsm/state/forum/events.jsonl").read_text() == before
