"""The pre-commit hook: validate the staged metawsm files, refuse staged forbidden files.

Fast path (nothing to validate): one `git diff --cached`, the cached policy facts, fnmatch. Only when a
policy, ticket or plan file is staged does it import the loader (yaml, jsonschema) — inside validate() —
and check the STAGED content: every metawsm file in the index is read from the index and passed to the
loader as an override, so unstaged edits in the working tree neither hide nor cause errors.

With FILE arguments (the pre-commit framework passes the files its `files:` pattern selected, also for
`--all-files`) those files are the targets instead of the staged list; their content still comes from the
index when they are in it.
"""

# os.path, not pathlib: these modules are the hooks' fast path, and pathlib is an import to avoid there.
# ruff: noqa: PTH113, PTH118

from __future__ import annotations

import os

from metawsm.gate.hookrun import index_env, main_root, policy_facts, run_git
from metawsm.gate.patterns import forbidden_match

POLICY_PATHS = (".metawsm/policy.yaml", ".metawsm/policy.yml")
BYPASS = ("bypass (not recommended): git commit --no-verify — `metawsm close` re-checks the gate before "
          "merging, so a bypassed problem still blocks the ticket")


def is_metawsm_file(path: str) -> bool:
    """policy, tickets/*.y*ml or plans/*.y*ml (repository-relative, '/'-separated)."""
    if path in POLICY_PATHS:
        return True
    head, _, name = path.rpartition("/")
    return head in ("tickets", "plans") and name.endswith((".yaml", ".yml"))


def staged(top: str) -> tuple[list[str], list[str]]:
    """(every staged path, the staged paths that are added or modified — not deleted)."""
    out = run_git(top, "diff", "--cached", "--name-status", "-z", "--no-renames", env=index_env())
    items = out.decode("utf-8", "surrogateescape").split("\0")
    paths, present = [], []
    for status, path in zip(items[0::2], items[1::2], strict=False):
        if not path:
            continue
        paths.append(path)
        if status[:1] != "D":
            present.append(path)
    return paths, present


def forbidden_hits(paths: list[str], patterns: list[str]) -> list[tuple[str, str]]:
    """(path, pattern) for every path matching a pattern (case-insensitive; a directory's contents too)."""
    hits = []
    for path in paths:
        pattern = forbidden_match(path, patterns)
        if pattern is not None:
            hits.append((path, pattern))
    return hits


def run(top: str, files: list[str]) -> tuple[int, str]:
    """(exit code, message for stderr) for a commit from the worktree at `top`."""
    if files:
        targets = [f.replace(os.sep, "/").removeprefix("./") for f in files]
        present = [f for f in targets if os.path.lexists(os.path.join(top, f))]
    else:
        targets, present = staged(top)
    if not targets:
        return 0, ""
    to_validate = [p for p in targets if is_metawsm_file(p)]
    messages: list[str] = []
    # A commit can add forbidden patterns, never remove them: the main checkout's policy, this worktree's
    # and the staged one all apply (a branch that empties the list still cannot commit a secret).
    root = main_root(top)
    patterns = list(policy_facts(root)["forbidden"])
    if os.path.realpath(root) != os.path.realpath(top):
        patterns += policy_facts(top, root)["forbidden"]
    if to_validate:
        report, staged_patterns = validate(top, targets)
        patterns += staged_patterns or []
        if report:
            messages.append(report)
    hits = forbidden_hits(present, list(dict.fromkeys(patterns)))
    if hits:
        lines = [f"metawsm pre-commit: {len(hits)} staged file(s) match close.forbidden_file_patterns:"]
        lines += [f"  {path}  (pattern {pattern!r})" for path, pattern in hits]
        lines.append("fix: unstage them (git restore --staged -- PATH, or git rm --cached -- PATH) and add them "
                     "to .gitignore; or change close.forbidden_file_patterns in .metawsm/policy.yaml")
        messages.append("\n".join(lines))
    if not messages:
        return 0, ""
    return 1, "\n\n".join([*messages, BYPASS]) + "\n"


def validate(top: str, targets: list[str]) -> tuple[str, list[str] | None]:
    """(error report or "", forbidden patterns of the staged policy when it is valid, else None)."""
    # Heavy imports on purpose here and only here: yaml and jsonschema cost more than the whole fast path.
    from pathlib import Path

    from metawsm.config.loader import verify
    from metawsm.config.project import Project
    from metawsm.config.report import format_diagnostics

    overrides = read_index(top, targets)
    checked, diags = verify(Project(Path(top)), overrides=overrides)
    wanted = set(overrides) | set(targets)
    diags = [d for d in diags if d.file in wanted]
    patterns = list(checked.forbidden_file_patterns) if checked is not None else None
    if not diags:
        return "", patterns
    where = "staged content" if set(targets) & set(overrides) else "files"
    text = format_diagnostics(diags)
    report = (f"metawsm pre-commit: invalid metawsm files ({where}):\n{text}\n"
              "fix: correct the lines above, `git add` the files and commit again (`metawsm validate` "
              "checks the working tree)")
    return report, patterns


def read_index(top: str, staged_paths: list[str]) -> dict[str, bytes]:
    """Content of every metawsm file in the index being committed, by repository-relative path.

    One `git cat-file --batch` for the staged metawsm paths plus those on disk (`:PATH` names the index
    entry; a path that is not in the index answers "missing" and keeps its disk content in the loader)."""
    names = {p for p in staged_paths if is_metawsm_file(p)}
    names.update(p for p in POLICY_PATHS if os.path.isfile(os.path.join(top, p)))
    for folder in ("tickets", "plans"):
        try:
            with os.scandir(os.path.join(top, folder)) as entries:
                names.update(f"{folder}/{e.name}" for e in entries if e.name.endswith((".yaml", ".yml")))
        except OSError:
            continue
    ordered = sorted(names)
    if not ordered:
        return {}
    request = "".join(f":{name}\n" for name in ordered).encode("utf-8", "surrogateescape")
    batch = run_git(top, "cat-file", "--batch", env=index_env(), stdin=request)
    contents: dict[str, bytes] = {}
    pos = 0
    for name in ordered:
        end = batch.index(b"\n", pos)
        header = batch[pos:end].split()
        pos = end + 1
        if len(header) != 3 or header[1] != b"blob":  # "<name> missing" (untracked) or not a file
            continue
        size = int(header[2])
        contents[name] = batch[pos : pos + size]
        pos += size + 1
    return contents
