"""Render one plan into a `StepGraph`: tickets x agents x policy → steps.

`render_plan()` is the planner's one entry point (the engine calls it too). Per ticket T and agent
A it drafts `workspace:T → session:T:A → agent:T:A → check:T → gate:T (→ close:T)`, adds the plan's
own steps, and validates the whole graph. Every template and graph error is collected and raised
as one located `PlanError`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from metawsm.config import yamlload
from metawsm.config.loader import Config
from metawsm.config.models import AgentSpec, Plan, StepSpec, Ticket
from metawsm.errors import PlanError
from metawsm.plan.graph import Draft, StepGraph, assemble
from metawsm.plan.mcpargs import codex_mcp_args
from metawsm.plan.naming import WorkspacePaths, session_name, workspace_paths
from metawsm.plan.prompts import BASE_PROMPT
from metawsm.plan.render import Location, Namespace, Renderer, wrap
from metawsm.plan.steps import (
    AgentStep,
    CheckStep,
    CloseStep,
    GateStep,
    OwnWorktree,
    RepoWorktree,
    SessionStep,
    ShellStep,
    WorkspaceStep,
)

RUN_PLACEHOLDER = "<run>"
BUILTIN_POLICY = "<built-in policy>"


def render_plan(config: Config, plan: Plan, *, project_root: Path, run_id: str | None = None) -> StepGraph:
    """Render `plan` into its step graph, or raise PlanError listing every problem."""
    return _Planner(config, plan, project_root, run_id).build()


def writable_dirs(project_root: Path, ws: WorkspacePaths) -> list[str]:
    """What a sandboxed agent must be able to write besides its worktree: metawsm's state folder (signals,
    questions) and the git dir of each repository the ticket's worktrees belong to (index, objects, refs)."""
    dirs = [str(project_root / ".metawsm" / "state")]
    for name, root in ws.repo_roots.items():
        git_dir = Path(root) / ".git"
        # Codex keeps a writable root's own git dir read-only: the worktree's git dir is named explicitly
        for path in (str(git_dir), str(git_dir / "worktrees" / Path(ws.repos.get(name, root)).name)):
            if path not in dirs:
                dirs.append(path)
    return dirs


def _policy_marks(project_root: Path, source: str) -> dict[str, tuple[int, int]]:
    if not source:
        return {}
    try:
        return yamlload.marks((project_root / source).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


class _Planner:
    def __init__(self, config: Config, plan: Plan, project_root: Path, run_id: str | None) -> None:
        self.config = config
        self.policy = config.policy
        self.plan = plan
        self.root = project_root
        self.run_id = run_id or RUN_PLACEHOLDER
        self.renderer = Renderer(project_root)
        self.drafts: list[Draft] = []
        self.retries = self.policy.execution.step_retries
        self._policy_marks: dict[str, tuple[int, int]] | None = None
        self._locations: dict[str, Location] = {}
        self.globals: dict[str, Any] = self.renderer.base_context({
            "plan": wrap({"name": plan.name, "description": plan.description, "tickets": list(plan.tickets),
                          "vars": plan.vars}, "plan"),
            "policy": wrap(dataclasses.asdict(self.policy), "policy"),
            "run": Namespace("run", {"id": self.run_id}),
        })

    # -- locations ---------------------------------------------------------------------------
    def at(self, keypath: str) -> Location:
        where = self._locations.get(keypath)
        if where is None:
            where = self._locations[keypath] = Location(self.plan.source, keypath, *self.plan.mark(keypath))
        return where

    def at_policy(self, keypath: str) -> Location:
        if self._policy_marks is None:
            self._policy_marks = _policy_marks(self.root, self.policy.source)
        mark = self._policy_marks.get(keypath)
        if mark is None:
            return Location(BUILTIN_POLICY, keypath)
        return Location(self.policy.source, keypath, *mark)

    # -- building ----------------------------------------------------------------------------
    def build(self) -> StepGraph:
        for ticket_id in self.plan.tickets:
            self.ticket_steps(self.config.tickets[ticket_id])
        for i, spec in enumerate(self.plan.steps):
            if spec.for_each == "none":
                self.shell_step(i, spec, dict(self.globals), None, None)
        diags = list(self.renderer.diagnostics)
        graph = None
        if not diags:
            graph, problems = assemble(self.plan.name, self.drafts, source=self.plan.source,
                                       default_where=Location(self.plan.source, ""))
            for where, message in problems:
                self.renderer.add(where, message)
            diags = self.renderer.diagnostics
        if diags or graph is None:
            raise PlanError(diags, hint=f"fix {self.plan.source or 'the plan'}, then run `metawsm plan` again")
        return graph

    def ticket_context(self, ticket: Ticket, ws: WorkspacePaths) -> dict[str, Any]:
        first = ticket.repos[0]
        ticket_ns = Namespace("ticket", {
            "id": ticket.id, "title": ticket.title, "goal": ticket.goal,
            "done_criteria": list(ticket.done_criteria), "repos": list(ticket.repos), "labels": list(ticket.labels),
            "priority": ticket.priority, "vars": wrap(ticket.vars, "ticket.vars"),
        })
        workspace = Namespace("workspace", {
            "path": str(ws.path), "branch": ws.branch, "base_branch": ws.base_branch,
            "repo_root": str(ws.repo_roots[first]),
            "repos": Namespace("workspace.repos", {k: str(v) for k, v in ws.repos.items()}),
        })
        return {**self.globals, "ticket": ticket_ns, "workspace": workspace}

    def ticket_steps(self, ticket: Ticket) -> None:
        t = ticket.id
        ws = workspace_paths(self.root, self.policy, ticket)
        ctx = self.ticket_context(ticket, ws)
        setup = self.policy.workspace.setup
        self.drafts.append(Draft(f"workspace:{t}", t, None, [], WorkspaceStep(
            str(ws.path), ws.branch, ws.base_branch,
            {name: RepoWorktree(str(ws.repos[name]), str(ws.repo_roots[name]), ws.base_branches[name])
             for name in ticket.repos},
            tuple(setup.copy), tuple(setup.symlink), tuple(setup.commands),
        ), self.retries, 0))
        agent_ids = [self.agent_steps(i, spec, ticket, ws, ctx) for i, spec in enumerate(self.plan.agents)]
        gate_needs = agent_ids
        if self.plan.checks:
            commands = [self.renderer.render(c, ctx, self.at(f"checks[{j}]")) for j, c in enumerate(self.plan.checks)]
            self.drafts.append(Draft(f"check:{t}", t, None, list(agent_ids),
                                     CheckStep(tuple(commands), str(ws.path)),  # type: ignore[arg-type]
                                     self.retries if self.policy.execution.retry_checks else 0, 0))
            gate_needs = [f"check:{t}"]
        close = self.policy.close
        self.drafts.append(Draft(f"gate:{t}", t, None, list(gate_needs), GateStep(
            tuple(self.policy.check_names()), tuple(close.forbidden_file_patterns)), self.retries, 0))
        if self.plan.auto_close:
            self.drafts.append(Draft(f"close:{t}", t, None, [f"gate:{t}"],
                                     CloseStep(close.merge, close.delete_branch), self.retries, 0))
        for i, spec in enumerate(self.plan.steps):
            if spec.for_each == "tickets":
                self.shell_step(i, spec, ctx, t, ws)

    def agent_steps(self, i: int, spec: AgentSpec, ticket: Ticket, ws: WorkspacePaths, ctx: dict[str, Any]) -> str:
        t, a = ticket.id, spec.name
        r = self.renderer
        profile = self.policy.agent_profiles[spec.profile]
        session = session_name(self.policy.tmux.session_pattern, self.plan.name, t, a, self.run_id)
        cwd = str(ws.path)
        backend, mounts = self.placement(spec, ws)
        self.drafts.append(Draft(f"session:{t}:{a}", t, a, [f"workspace:{t}"], SessionStep(
            session, cwd, {"METAWSM_AGENT": a, "METAWSM_HOME": str(self.root), "METAWSM_PLAN": self.plan.name,
                           "METAWSM_TICKET": t}, backend, mounts,
        ), self.retries, 0))

        # phase 1: the agent's own templates, with agent.prompt / agent.run as written
        mode = spec.mode or profile.mode
        permissions = spec.permissions or profile.permissions
        agent: dict[str, Any] = {"name": a, "profile": spec.profile, "role": spec.role,
                                 "env": Namespace("agent.env", spec.env),
                                 "timeout_seconds": spec.timeout_seconds, "mode": mode, "permissions": permissions}
        if spec.prompt is not None:
            agent["prompt"] = spec.prompt
        if spec.run is not None:
            agent["run"] = spec.run
        ctx1 = {**ctx, "agent": Namespace("agent", agent)}
        key = f"agents[{i}]"
        plan_prompt = r.render(spec.prompt, ctx1, self.at(f"{key}.prompt")) if spec.prompt is not None else ""
        run = r.render(spec.run, ctx1, self.at(f"{key}.run")) if spec.run is not None else None
        env = {k: r.render(v, ctx1, self.at(f"{key}.env.{k}")) for k, v in sorted(spec.env.items())}
        if profile.base_prompt is None:
            base = r.render(BASE_PROMPT, ctx1, Location("<built-in base prompt>", "base_prompt"))
        else:
            base = r.render(profile.base_prompt, ctx1, self.at_policy(f"agent_profiles.{spec.profile}.base_prompt"))
        if plan_prompt is None or base is None or (spec.run is not None and run is None):
            return f"agent:{t}:{a}"
        prompt = f"{base}\n\n{plan_prompt}" if plan_prompt.strip() else base

        # phase 2: the profile's command and env, with everything rendered
        agent.update(env=Namespace("agent.env", env), prompt=plan_prompt)
        if run is not None:
            agent["run"] = run
        writable = writable_dirs(self.root, ws)
        mcp_config = str(self.root / ".metawsm" / "state" / "mcp" / f"{session}.json")
        ctx2 = {**ctx, "agent": Namespace("agent", agent), "prompt": prompt,
                "metawsm": Namespace("metawsm", {"writable_dirs": writable, "mcp_config": mcp_config,
                                                 "claude_settings": mcp_config.removesuffix(".json") + ".settings.json",
                                                 "codex_mcp_args": codex_mcp_args()})}
        command = r.render(profile.command, ctx2, self.at_policy(f"agent_profiles.{spec.profile}.command"))
        profile_env = {k: r.render(v, ctx2, self.at_policy(f"agent_profiles.{spec.profile}.env.{k}"))
                       for k, v in sorted(profile.env.items())}
        needs = [f"session:{t}:{a}", *(f"agent:{t}:{n}" for n in spec.needs)]  # agents it waits for
        own = own_worktree(ws, a) if spec.worktree == "own" else None
        self.drafts.append(Draft(f"agent:{t}:{a}", t, a, needs, AgentStep(
            session=session, cwd=own.path if own else cwd, command=command or "", profile=spec.profile, prompt=prompt,
            env={k: v or "" for k, v in sorted({**profile_env, **env}.items())},  # (None: an error, raised below)
            requires=tuple(profile.requires), cli=profile.cli,
            mode=mode, permissions=permissions, writable_dirs=tuple(writable) if profile.cli else (),
            timeout_seconds=spec.timeout_seconds, mcp_config=mcp_config if profile.cli else None,
            role="reviewer" if spec.role == "reviewer" or a in self.policy.close.reviewers else "worker",
            backend=backend, mounts=mounts, own=own,
        ), self.retries, spec.timeout_seconds))
        return f"agent:{t}:{a}"

    def placement(self, spec: AgentSpec, ws: WorkspacePaths) -> tuple[str, tuple[str, ...]]:
        """Where the agent runs: ("", ()) on local (its steps record nothing, so their hashes stay as they
        were); else the backend and the paths it must show at the same place (repository, worktrees, repos)."""
        backend = spec.runtime or self.policy.runtime.backend
        if backend == "local":
            return "", ()
        paths = {str(self.root), str(ws.path), *map(str, ws.repos.values()), *map(str, ws.repo_roots.values())}
        return backend, tuple(sorted(paths))

    def shell_step(self, i: int, spec: StepSpec, ctx: dict[str, Any], ticket: str | None,
                   ws: WorkspacePaths | None) -> None:
        r = self.renderer
        key = f"steps[{i}]"
        if spec.when is not None:
            keep = r.truthy(spec.when, ctx, self.at(f"{key}.when"))
            if not keep:  # False: left out; None: an error was recorded
                return
        step_id = r.render(spec.id, ctx, self.at(f"{key}.id"))
        needs = [r.render(n, ctx, self.at(f"{key}.needs[{j}]")) for j, n in enumerate(spec.needs)]
        run = r.render(spec.run, ctx, self.at(f"{key}.run"))
        env = {k: r.render(v, ctx, self.at(f"{key}.env.{k}")) for k, v in sorted(spec.env.items())}
        if step_id is None or run is None or None in needs or None in env.values():
            return
        if not step_id.strip():
            r.add(self.at(f"{key}.id"), "step id renders empty")
            return
        need_where = [self.at(f"{key}.needs[{j}]") for j in range(len(needs))]
        if ticket is not None and spec.cwd == "workspace":  # the worktree must exist first
            needs.append(f"workspace:{ticket}")
            need_where.append(self.at(f"{key}.cwd"))
        cwd = ws.path if (ws is not None and spec.cwd == "workspace") else self.root
        retries = self.retries if spec.retries is None else spec.retries
        self.drafts.append(Draft(step_id.strip(), ticket, None, [n.strip() for n in needs],  # type: ignore[union-attr]
                                 ShellStep(run, str(cwd), spec.tmux, env),  # type: ignore[arg-type]
                                 retries, spec.timeout_seconds, where=self.at(f"{key}.id"),
                                 need_where=need_where, needs_at=self.at(f"{key}.needs")))


def own_worktree(ws: WorkspacePaths, agent: str) -> OwnWorktree:
    """Plan `worktree: own`: the agent's worktree beside the ticket's (its primary repository), on
    `<ticket branch>--<agent>`."""
    name = "self" if "self" in ws.repos else sorted(ws.repos)[0]
    ticket_path = ws.repos[name]
    return OwnWorktree(path=f"{ticket_path}--{agent}", branch=f"{ws.branch}--{agent}", ticket_path=str(ticket_path),
                       ticket_branch=ws.branch, repo_root=str(ws.repo_roots[name]))
