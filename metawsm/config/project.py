"""The user's repository: finding its root and the paths metawsm keeps inside it."""

from __future__ import annotations

import os
from pathlib import Path


def _main_worktree(dotgit_file: Path) -> Path | None:
    """For a linked worktree's `.git` file, the main worktree's root (no git process needed)."""
    try:
        content = dotgit_file.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not content.startswith("gitdir:"):
        return None
    gitdir = Path(content[len("gitdir:") :].strip())
    if not gitdir.is_absolute():
        gitdir = (dotgit_file.parent / gitdir).resolve()
    try:
        common = (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    except OSError:
        return None  # a submodule, not a linked worktree
    return common.parent if common.name == ".git" else None


def find_root(start: Path) -> Path:
    """The repository root for `start`: METAWSM_HOME, else the nearest folder with `.metawsm` or `.git`
    (a linked worktree resolves to its main worktree), else `start` itself."""
    home = os.environ.get("METAWSM_HOME")
    if home:
        return Path(home).resolve()
    start = start.resolve()
    for folder in (start, *start.parents):
        dotgit = folder / ".git"
        if dotgit.is_file():
            main = _main_worktree(dotgit)
            return main if main is not None else folder
        if dotgit.is_dir() or (folder / ".metawsm").is_dir():
            return folder
    return start


class Project:
    """Paths of one repository managed by metawsm (immutable; compares and hashes by its root).

    A plain class rather than a frozen dataclass: `dataclasses` (with the `inspect` it imports) costs
    about half an interpreter start on the paths that must start fast (validate, the git hooks)."""

    __slots__ = ("root",)
    root: Path

    def __init__(self, root: Path) -> None:
        object.__setattr__(self, "root", root)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(self.root == other.root)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self.root)

    def __repr__(self) -> str:
        return f"Project(root={self.root!r})"

    def __reduce__(self) -> tuple[type[Project], tuple[Path]]:  # copy and pickle
        return Project, (self.root,)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a Project is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a Project is immutable")

    @classmethod
    def discover(cls, start: Path | None = None) -> Project:
        return cls(find_root(start or Path.cwd()))

    @property
    def metawsm_dir(self) -> Path:
        return self.root / ".metawsm"

    @property
    def policy_path(self) -> Path:
        yml = self.metawsm_dir / "policy.yml"
        return yml if yml.exists() and not (self.metawsm_dir / "policy.yaml").exists() else (
            self.metawsm_dir / "policy.yaml"
        )

    @property
    def tickets_dir(self) -> Path:
        return self.root / "tickets"

    @property
    def plans_dir(self) -> Path:
        return self.root / "plans"

    @property
    def state_dir(self) -> Path:
        return self.metawsm_dir / "state"

    @property
    def forum_dir(self) -> Path:
        return self.state_dir / "forum"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def locks_dir(self) -> Path:
        return self.state_dir / "locks"

    def display(self, path: Path) -> str:
        """A path as shown to the user: relative to the root with '/' when inside it."""
        text, root = str(path), str(self.root)
        if text.startswith(root + os.sep) and ".." not in text:  # fast path: no filesystem calls
            return text[len(root) + 1 :].replace(os.sep, "/")
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def ticket_files(self) -> list[Path]:
        return _yaml_files(self.tickets_dir)

    def plan_files(self) -> list[Path]:
        return _yaml_files(self.plans_dir)


def _yaml_files(folder: Path) -> list[Path]:
    """The `*.yaml` / `*.yml` files of `folder` by name (a file named just `.yaml` has no suffix: not one).
    os.scandir: its entries know their type without a stat per file (validate lists a thousand tickets)."""
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if _yaml_name(e.name) and e.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [folder / name for name in names]


def _yaml_name(name: str) -> bool:
    dot = name.rfind(".")
    return dot > 0 and name[dot:] in (".yaml", ".yml")
