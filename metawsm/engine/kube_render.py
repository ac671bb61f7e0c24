"""`metawsm k8s render`: the Pods (or Jobs) the kubernetes backend would apply for a plan's agents, made from the
plan's session steps and the policy alone (no cluster, no state is written)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from metawsm.config.loader import Config
from metawsm.config.models import Plan
from metawsm.errors import ExternalError, UsageError
from metawsm.plan.build import render_plan
from metawsm.plan.steps import SessionStep
from metawsm.runtime.base import SessionSpec
from metawsm.runtime.kube_manifest import manifest
from metawsm.runtime.scope import repo_id
from metawsm.runtime.settings import KubeSettings


def render_manifests(config: Config, plans: Sequence[Plan], root: Path, *, kind: str | None = None,
                     every_agent: bool = False,
                     run_ids: Callable[[Plan], str | None] = lambda plan: None) -> list[dict[str, Any]]:
    """One manifest per agent session of ``plans`` on the kubernetes backend (every agent's with
    ``every_agent``), in plan order. UsageError when there is none, or when the policy cannot place one."""
    settings = KubeSettings.of(config.policy.runtime.kubernetes)
    if kind:
        settings = replace(settings, kind=kind)
    scope, home = repo_id(root), str(root)
    found: list[dict[str, Any]] = []
    for plan in plans:
        run = run_ids(plan)
        graph = render_plan(config, plan, project_root=root, run_id=run)
        for step in graph.steps:
            if step.kind != "session":
                continue
            session = step.spec
            assert isinstance(session, SessionStep)
            if session.backend != "kubernetes" and not every_agent:
                continue
            labels = {k: v for k, v in (("run", run or ""), ("ticket", step.ticket or ""),
                                        ("agent", step.agent or "")) if v}
            spec = SessionSpec(session.name, session.cwd, labels=labels, backend="kubernetes",
                               mounts=session.mounts or tuple(sorted({session.cwd, home})))
            try:
                found.append(manifest(settings, spec, scope, home))
            except ExternalError as exc:
                raise UsageError(f"{plan.source}: agent {step.agent} of {step.ticket}: {exc.message}",
                                 hint=exc.hint) from exc
    if not found:
        names = ", ".join(p.name for p in plans)
        raise UsageError(f"no agent of plan {names} runs on kubernetes",
                         hint="set runtime.backend: kubernetes in the policy or runtime: kubernetes on a plan "
                              "agent, or pass --all to render every agent as if it did")
    return found
