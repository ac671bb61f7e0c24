"""Install, remove and inspect metawsm's git hooks (pre-commit, pre-push).

Hooks go into the repository's common git dir (`git rev-parse --git-common-dir`/hooks), which every
linked worktree shares — including the ones metawsm creates — or into `core.hooksPath` when it is set
(refused without `force` when that points outside the repository, since other repositories would run
them too). Each hook is rendered from `hooks/hook.sh.tmpl`: a marker line (`# metawsm-hook: NAME vX`), the
absolute interpreter path of the installing metawsm, and a clear message when that is gone. A foreign hook
already in place is kept as `NAME.legacy` and run first (its failure fails); uninstall restores it.
Habits from pre-commit's `install_uninstall.py`.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metawsm import __version__
from metawsm.errors import MetawsmError
from metawsm.gate.framework import NEXT as FRAMEWORK_NEXT
from metawsm.gate.framework import managed_by_pre_commit
from metawsm.gate.framework import snippet as framework_snippet
from metawsm.resources import data_dir
from metawsm.runtime import git

HOOKS = ("pre-commit", "pre-push")
MARKER = "# metawsm-hook: "


@dataclass(frozen=True)
class HooksDir:
    """Where the hooks live and why."""

    path: Path
    source: str  # "git-common-dir" or "core.hooksPath"
    configured: str | None = None  # the core.hooksPath value as set
    inside: bool = True  # inside the repository (its worktree or its git dir)

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "source": self.source, "core_hooks_path": self.configured,
                "inside_repository": self.inside}


@dataclass(frozen=True)
class HookStatus:
    name: str
    path: Path
    installed: bool  # a hook file exists
    ours: bool  # it carries metawsm's marker
    legacy: bool  # a NAME.legacy foreign hook exists (run first when the hook is ours)
    up_to_date: bool  # identical to what this metawsm would write, and its interpreter exists
    version: str | None = None
    python: str | None = None

    @property
    def legacy_chained(self) -> bool:
        return self.ours and self.legacy

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "installed": self.installed, "ours": self.ours,
                "legacy_chained": self.legacy_chained, "legacy": self.legacy, "up_to_date": self.up_to_date,
                "version": self.version, "python": self.python}


@dataclass
class Outcome:
    """What install or uninstall did, hook by hook, plus notes worth telling the user."""

    dir: HooksDir
    actions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"hooks_dir": self.dir.to_json(), "actions": self.actions, "notes": self.notes}


# --------------------------------------------------------------------------- locating
def _within(path: Path, folder: Path) -> bool:
    return os.path.realpath(path) == os.path.realpath(folder) or os.path.realpath(path).startswith(
        os.path.realpath(folder) + os.sep)


def hooks_dir(root: str | os.PathLike[str]) -> HooksDir:
    """The folder git runs hooks from for the repository at `root` (its main worktree)."""
    common = git.common_dir(root)
    configured = git.git(root, "config", "--get", "core.hooksPath", check=False).stdout.strip()
    if not configured:
        return HooksDir(common / "hooks", "git-common-dir")
    expanded = Path(configured).expanduser()
    path = expanded if expanded.is_absolute() else Path(root) / expanded  # git resolves it from the top
    inside = _within(path, Path(root)) or _within(path, common)
    return HooksDir(path, "core.hooksPath", configured, inside)


def render(hook: str, python: str | None = None) -> str:
    template = (data_dir("hooks") / "hook.sh.tmpl").read_text(encoding="utf-8")
    return (template.replace("@HOOK@", hook).replace("@VERSION@", __version__)
            .replace("@PYTHON@", shlex.quote(python or sys.executable)))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return None


def _is_ours(text: str | None) -> bool:
    return text is not None and any(line.startswith(MARKER) for line in text.splitlines()[:5])


def _recorded(text: str, key: str) -> str | None:
    for line in text.splitlines():
        if line.startswith(f"{key}="):
            try:
                values = shlex.split(line[len(key) + 1:])
            except ValueError:
                return None
            return values[0] if values else None
    return None


def _status(folder: Path, name: str) -> HookStatus:
    path = folder / name
    text = _read(path)
    legacy = (folder / f"{name}.legacy").exists()
    if not _is_ours(text):
        return HookStatus(name, path, text is not None or path.is_symlink(), False, legacy, False)
    assert text is not None
    version = next(line[len(MARKER):].split(" v", 1)[-1] for line in text.splitlines() if line.startswith(MARKER))
    python = _recorded(text, "python")
    fresh = (python is not None and os.access(python, os.X_OK) and text == render(name, python)
             and os.access(path, os.X_OK))
    return HookStatus(name, path, True, True, legacy, fresh, version, python)


# --------------------------------------------------------------------------- API
def status(root: str | os.PathLike[str]) -> tuple[HooksDir, list[HookStatus]]:
    folder = hooks_dir(root)
    return folder, [_status(folder.path, name) for name in HOOKS]


def missing_hooks(root: str | os.PathLike[str]) -> list[str]:
    """Hooks that are not installed, not metawsm's, or not up to date (what `apply` warns about)."""
    try:
        _, hooks = status(root)
    except MetawsmError:
        return list(HOOKS)  # not a git repository (yet): nothing can be installed
    return [h.name for h in hooks if not (h.ours and h.up_to_date)]


def install(root: str | os.PathLike[str], *, force: bool = False) -> Outcome:
    """Write both hooks (idempotent); a foreign hook becomes NAME.legacy and keeps running first."""
    folder = hooks_dir(root)
    if folder.source == "core.hooksPath" and not folder.inside and not force:
        raise MetawsmError(
            f"core.hooksPath is {folder.configured!r}, outside this repository: hooks installed there would "
            "run for every repository that uses it",
            hint="install there anyway with `metawsm hooks install --force`, or drop the setting: "
                 "git config --unset core.hooksPath")
    why = managed_by_pre_commit(Path(root), folder.path)
    if why:
        raise MetawsmError(
            f"this repository uses the pre-commit framework ({why}): metawsm does not replace its hooks "
            "(moving them aside breaks every commit); run metawsm's checks through it instead, with:\n\n"
            + framework_snippet() + "\n" + FRAMEWORK_NEXT,
            hint="see docs/hooks.md, \"With the pre-commit framework\"")
    out = Outcome(folder)
    current = [_status(folder.path, name) for name in HOOKS]
    for st in current:  # check everything before changing anything
        if st.installed and not st.ours and st.legacy:
            raise MetawsmError(f"{st.path} is a foreign hook and {st.path.name}.legacy already exists next to it",
                               hint=f"merge one into the other (or remove one), then run `metawsm hooks install` "
                                    f"again; metawsm keeps a single {st.path.name}.legacy")
    folder.path.mkdir(parents=True, exist_ok=True)
    for st in current:
        legacy = st.path.with_name(f"{st.name}.legacy")
        if st.installed and not st.ours:
            st.path.replace(legacy)
            out.actions.append(f"{st.name}: kept the existing hook as {legacy.name}; it runs first")
        content = render(st.name)
        if st.ours and _read(st.path) == content:
            out.actions.append(f"{st.name}: already installed and up to date")
        else:
            tmp = st.path.with_name(f".{st.name}.metawsm-tmp")
            tmp.write_text(content, encoding="utf-8")
            tmp.chmod(0o755)
            tmp.replace(st.path)
            out.actions.append(f"{st.name}: {'updated' if st.ours else 'installed'} {st.path}")
    if folder.source == "core.hooksPath":
        out.notes.append(f"core.hooksPath is set ({folder.configured}): installed into {folder.path}, where git "
                         "looks for hooks")
        if not Path(folder.configured or "").expanduser().is_absolute():
            out.notes.append("core.hooksPath is relative: each linked worktree resolves it inside its own "
                             "checkout, so metawsm's worktrees run these hooks only if that folder holds them "
                             f"there too; an absolute value is safer: git config core.hooksPath {folder.path}")
        if not folder.inside:
            out.notes.append("that folder is outside this repository: other repositories using it run "
                             "these hooks too")
    return out


def uninstall(root: str | os.PathLike[str]) -> Outcome:
    """Remove metawsm's hooks and put any NAME.legacy back; a hook that is not ours is left alone."""
    folder = hooks_dir(root)
    out = Outcome(folder)
    for name in HOOKS:
        st = _status(folder.path, name)
        legacy = st.path.with_name(f"{name}.legacy")
        if st.installed and not st.ours:
            out.actions.append(f"{name}: not metawsm's; left {st.path} alone")
            continue
        if st.ours:
            st.path.unlink()
        if legacy.exists():
            legacy.replace(st.path)
            out.actions.append(f"{name}: removed; restored the previous hook from {legacy.name}")
        elif st.ours:
            out.actions.append(f"{name}: removed")
        else:
            out.actions.append(f"{name}: was not installed")
    return out
