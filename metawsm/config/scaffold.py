"""Files `metawsm init` writes: a commented policy, an example ticket and plan, and the demo."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from metawsm.config.project import Project
from metawsm.errors import MetawsmError
from metawsm.resources import data_dir

SCHEMA_DIR = ".metawsm/schemas"


def modeline(kind: str, rel_from: str) -> str:
    """First line pointing editors (yaml-language-server) at the schema copy in .metawsm/schemas."""
    depth = rel_from.count("/")
    prefix = "../" * depth
    return f"# yaml-language-server: $schema={prefix}{SCHEMA_DIR}/{kind}.json\n"


POLICY = """\
# metawsm policy. Every key is optional; the values shown commented out are the defaults.
# All keys: docs/configuration.md, or `metawsm schema policy`.

# workspace:
#   root: .metawsm/workspaces        # one git worktree per ticket lives here
#   base_branch: main                # ticket branches are cut from (and merged into) this branch
#   branch_prefix: metawsm/          # ticket branch = branch_prefix + ticket id
#   setup:
#     copy: []                       # e.g. [.env] copied into each new worktree
#     symlink: []                    # e.g. [node_modules]
#     commands: []                   # e.g. ["pip install -e ."]
# runtime:                           # where agents run (docs/backends.md)
#   backend: local                   # local: tmux on this machine; docker: tmux in a container per ticket
#   session_pattern: "{plan}-{ticket}-{agent}"
#   local:
#     socket_name: "metawsm-{repo}"  # tmux -L metawsm-<repo id>: one server per repository, never your default one
# execution:
#   max_parallel: 4
#   step_retries: 1
# health:
#   idle_seconds: 300
#   activity_stalled_seconds: 900
#   progress_stalled_seconds: 1200
# operator:
#   unhealthy_confirmations: 2
#   restart_budget: 3
#   restart_cooldown_seconds: 60
#   llm:
#     mode: "off"                    # off | assist | auto
# forum:
#   fsync: always                    # always | batch
#   sla:
#     escalation_minutes: 30
# close:
#   required_checks: [clean_tree, completion, validation, forbidden_files]
#   merge: merge                     # merge | ff-only | squash
#   require_hooks: false
# agent_profiles:                    # built-in: shell, codex, claude
#   my-codex:
#     command: "codex exec --skip-git-repo-check -c allow_login_shell=false {{ prompt | shquote }}"
#     requires: [codex]
"""

EXAMPLE_TICKET = """\
id: EXAMPLE-1
title: Describe the change in one line
goal: |
  What should be built or changed, and why. This text goes into the agent's prompt.
done_criteria:
  - tests pass
  - docs updated
repos: [self]
labels: [example]
"""

DEMO_TICKETS = {
    "DEMO-1": """\
id: DEMO-1
title: Write the greeting file
goal: Create demo/DEMO-1.txt containing a greeting, commit it, and signal completion.
done_criteria:
  - demo/DEMO-1.txt exists and is committed
labels: [demo]
""",
    "DEMO-2": """\
id: DEMO-2
title: Write the farewell file
goal: Create demo/DEMO-2.txt containing a farewell, commit it, and signal completion.
done_criteria:
  - demo/DEMO-2.txt exists and is committed
labels: [demo]
""",
}


def shipped_plan(name: str) -> str:
    """A plan shipped in the plans/ data folder."""
    return (data_dir("plans") / f"{name}.yaml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class PlannedFile:
    rel: str
    content: str


def planned_files(demo: bool) -> list[PlannedFile]:
    files = [
        PlannedFile(".metawsm/.gitignore", "state/\nworkspaces/\n"),
        PlannedFile(".metawsm/policy.yaml", modeline("policy", ".metawsm/policy.yaml") + POLICY),
        PlannedFile("tickets/EXAMPLE-1.yaml", modeline("ticket", "tickets/x") + EXAMPLE_TICKET),
        PlannedFile("plans/example.yaml", modeline("plan", "plans/x") + shipped_plan("example")),
    ]
    if demo:
        for ticket_id, text in DEMO_TICKETS.items():
            files.append(PlannedFile(f"tickets/{ticket_id}.yaml", modeline("ticket", "tickets/x") + text))
        files.append(PlannedFile("plans/demo.yaml", modeline("plan", "plans/x") + shipped_plan("demo")))
    return files


def write_schemas(folder: Path, kinds: list[str] | tuple[str, ...] = ("policy", "ticket", "plan")) -> list[Path]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for kind in kinds:
            target = folder / f"{kind}.json"
            shutil.copyfile(data_dir("schemas") / f"{kind}.json", target)
            written.append(target)
        return written
    except OSError as exc:
        raise MetawsmError(f"cannot write schemas into {folder}: {exc.strerror}") from exc


def init(project: Project, *, demo: bool = False, force: bool = False) -> dict[str, list[str]]:
    """Write the scaffold. Refuses to overwrite any existing file unless `force`, naming them all."""
    files = planned_files(demo)
    existing = [f.rel for f in files if (project.root / f.rel).exists()]
    if existing and not force:
        raise MetawsmError(
            f"refusing to overwrite {len(existing)} existing file{'s' if len(existing) != 1 else ''}: "
            + ", ".join(existing),
            hint="re-run with --force to overwrite them",
        )
    written: list[str] = []
    try:
        for f in files:
            target = project.root / f.rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.content, encoding="utf-8")
            written.append(f.rel)
    except OSError as exc:
        raise MetawsmError(f"cannot write {exc.filename}: {exc.strerror}") from exc
    schema_files = write_schemas(project.root / SCHEMA_DIR)
    written += [project.display(p) for p in schema_files]
    return {"written": written, "overwritten": existing}
