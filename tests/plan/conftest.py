"""Helpers for planner tests: write tickets, plans and a policy into the `repo` fixture and render."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from metawsm.config import loader
from metawsm.config.loader import Config
from metawsm.config.project import Project
from metawsm.plan import StepGraph, render_plan

TICKETS = {
    "ABC-1": """\
        id: ABC-1
        title: Add a forum
        goal: Build the forum.
        done_criteria: [tests pass, docs updated]
        labels: [backend]
        vars: {area: forum}
        """,
    "ABC-2": """\
        id: ABC-2
        title: Fix the "quotes" & $VARS
        labels: [frontend]
        """,
}

PLAN = """\
    name: p
    tickets: [ABC-1, ABC-2]
    agents:
      - name: impl
        profile: codex
        prompt: "{{ ticket.goal }}"
    """


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


class Files:
    """A repository with tickets ABC-1, ABC-2 and whatever plans/policy a test writes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for tid, text in TICKETS.items():
            write(root, f"tickets/{tid}.yaml", text)
        (root / ".metawsm").mkdir(exist_ok=True)

    def plan(self, text: str, name: str = "p") -> Path:
        return write(self.root, f"plans/{name}.yaml", text)

    def policy(self, text: str) -> Path:
        return write(self.root, ".metawsm/policy.yaml", text)

    def config(self) -> Config:
        return loader.load(Project(self.root))

    def render(self, text: str | None = None, name: str = "p", run_id: str | None = None) -> StepGraph:
        if text is not None:
            self.plan(text, name)
        config = self.config()
        return render_plan(config, config.plans[name], project_root=self.root, run_id=run_id)


@pytest.fixture
def files(repo: Path) -> Files:
    return Files(repo)


@pytest.fixture
def render(files: Files) -> Callable[..., StepGraph]:
    return files.render
