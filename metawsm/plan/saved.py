"""Saved plans: `metawsm plan --out FILE` writes the rendered graphs with the sha256 of every input
file; `load_saved()` (used by `plan --check` and, later, `apply FILE`) refuses one whose inputs
changed since, naming the files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metawsm import __version__
from metawsm.config.loader import Config
from metawsm.config.models import Plan
from metawsm.config.project import Project
from metawsm.errors import MetawsmError, StalePlanError, UsageError
from metawsm.plan.graph import StepGraph
from metawsm.plan.jsonfmt import encode

FORMAT = "metawsm.saved-plan"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SavedPlan:
    path: Path
    graphs: tuple[StepGraph, ...]
    inputs: Mapping[str, str | None]  # display path → sha256 (None: the file did not exist)
    metawsm_version: str
    project_root: str

    @property
    def graph(self) -> StepGraph:
        """The one graph of a single-plan file."""
        if len(self.graphs) != 1:
            raise UsageError(f"{self.path} holds {len(self.graphs)} plans; expected one",
                             hint="save one plan per file: metawsm plan PLAN --out FILE")
        return self.graphs[0]


def input_files(project: Project, config: Config, plans: Iterable[Plan]) -> list[str]:
    """Every file a rendering of `plans` depends on: the policy (even when absent), the plan files,
    and the tickets they name."""
    files = {project.display(project.policy_path)}
    for plan in plans:
        files.add(plan.source)
        files.update(config.tickets[t].source for t in plan.tickets)
    return sorted(files)


def sha256_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MetawsmError(f"cannot read {path}: {exc.strerror}") from exc


def document(project: Project, config: Config, plans: list[Plan], graphs: list[StepGraph]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metawsm_version": __version__,
        "project_root": str(project.root),
        "inputs": {f: sha256_of(project.root / f) for f in input_files(project, config, plans)},
        "plans": list(graphs),
    }


def save(path: Path, project: Project, config: Config, plans: list[Plan], graphs: list[StepGraph]) -> Path:
    """Write the saved plan atomically (a temporary file, then rename)."""
    text = encode(document(project, config, plans, graphs)) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise MetawsmError(f"cannot write {path}: {exc.strerror}") from exc
    return path


def load_saved(path: Path, project: Project) -> SavedPlan:
    """Read a saved plan; raise StalePlanError when any input file changed, appeared or vanished."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such saved plan") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a saved plan ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{path}: not a saved plan (write one with `metawsm plan --out FILE`)")
    if data.get("format_version") != FORMAT_VERSION:
        raise UsageError(f"{path}: saved plan format {data.get('format_version')!r} is not supported "
                         f"(expected {FORMAT_VERSION})")
    hint = "render it again: metawsm plan --out " + project.display(path)
    problems: list[str] = []
    for display, digest in sorted(data.get("inputs", {}).items()):
        now = sha256_of(project.root / display)
        if now != digest:
            what = "deleted" if now is None else ("created" if digest is None else "changed")
            problems.append(f"{display} ({what})")
    if data.get("project_root") != str(project.root):
        problems.append(f"the repository moved (was {data.get('project_root')}, now {project.root})")
    if data.get("metawsm_version") != __version__:
        problems.append(f"metawsm itself (written by {data.get('metawsm_version')}, this is {__version__})")
    if problems:
        raise StalePlanError(f"saved plan {project.display(path)} is stale: {len(problems)} input"
                             f"{'s' if len(problems) != 1 else ''} changed since it was written: "
                             + ", ".join(problems), hint=hint)
    try:
        graphs = tuple(StepGraph.from_json(g) for g in data["plans"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: damaged saved plan ({type(exc).__name__}: {exc})") from exc
    return SavedPlan(path, graphs, dict(data.get("inputs", {})), str(data["metawsm_version"]),
                     str(data["project_root"]))
