"""Load and cross-check a repository's policy, tickets and plans.

Every problem in every file is collected, located, and raised once as a ConfigError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metawsm.config import schemas, yamlload
from metawsm.config.agentorder import agent_order_checks
from metawsm.config.models import Plan, Policy, Ticket, build
from metawsm.config.project import Project
from metawsm.errors import ConfigError, Diagnostic, UsageError

KIND_BY_DIR = {"tickets": "ticket", "plans": "plan"}


@dataclass(frozen=True)
class Source:
    """One file's content, named as the user sees it (relative to the repository root)."""

    display: str
    data: bytes


@dataclass
class _Loaded:
    kind: str
    source: Source
    text: str = ""
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class Config:
    policy: Policy
    tickets: dict[str, Ticket]
    plans: dict[str, Plan]
    files: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- single files
def _parse(kind: str, src: Source) -> tuple[_Loaded, list[Diagnostic]]:
    data, text, diags = yamlload.parse(src.display, src.data, allow_empty=kind == "policy")
    loaded = _Loaded(kind, src, text)
    if diags:
        return loaded, diags
    if kind == "policy":
        _unquoted_off(data)
    if not schemas.is_valid(kind, data):
        diags = schemas.diagnostics(kind, data, src.display, text)
        if diags:
            return loaded, diags
    if kind == "policy" and isinstance(data, dict):
        _alias_runtime(data)
    loaded.data = schemas.apply_defaults(kind, data, copy_input=False)
    return loaded, []


def _unquoted_off(data: Any) -> None:
    """`operator.llm.mode: off` unquoted is YAML 1.1's boolean false: read it as the mode "off" it spells."""
    llm = data.get("operator", {}).get("llm") if isinstance(data, dict) and isinstance(data.get("operator"), dict) \
        else None
    if isinstance(llm, dict) and llm.get("mode") is False:
        llm["mode"] = "off"


# (older key, newer key) under the policy: the newer `runtime:` block wins when both are set; either way both
# end up holding the value in effect, so code reading the older `tmux` keys sees the same thing.
_RUNTIME_ALIASES = ((("tmux", "socket_name"), ("runtime", "local", "socket_name")),
                    (("tmux", "session_pattern"), ("runtime", "session_pattern")))


def _alias_runtime(data: dict[str, Any]) -> None:
    """Resolve the `tmux.*` / `runtime.*` spellings of the same settings in a validated, raw policy."""

    def get(path: tuple[str, ...]) -> Any:
        node: Any = data
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def put(path: tuple[str, ...], value: Any) -> None:
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    for old, new in _RUNTIME_ALIASES:
        value = get(new) if get(new) is not None else get(old)
        if value is not None:
            put(old, value)
            put(new, value)


def default_policy() -> Policy:
    return _policy_from({}, "")


def _policy_from(data: dict[str, Any], display: str) -> Policy:
    full = schemas.apply_defaults("policy", data)
    builtin = schemas.load_schema("policy")["properties"]["agent_profiles"]["default"]
    if "agent_profiles" in data:  # user profiles extend (or replace) the built-in ones
        full["agent_profiles"] = {
            **schemas.apply_defaults("policy", {"agent_profiles": builtin})["agent_profiles"],
            **full["agent_profiles"],
        }
    return build(Policy, full, source=display)


def _locator(loaded: _Loaded, out: list[Diagnostic]) -> Any:
    """`at(path, message)`: append a diagnostic located at a key path of `loaded`."""

    def at(path: list[object], message: str) -> None:
        line, col = yamlload.locate(loaded.text, path)
        out.append(yamlload.diag(loaded.source.display, loaded.text, line, col,
                                 yamlload.format_keypath(path), message))

    return at


def _policy_checks(loaded: _Loaded) -> list[Diagnostic]:
    data = loaded.data or {}
    out: list[Diagnostic] = []
    at = _locator(loaded, out)

    health = data["health"]
    if health["activity_stalled_seconds"] < health["idle_seconds"]:
        at(["health", "activity_stalled_seconds"],
           f"must be at least health.idle_seconds ({health['idle_seconds']})")
    llm = data["operator"]["llm"]
    if llm["mode"] != "off" and not llm["command"].strip():
        at(["operator", "llm", "mode"], f"mode {llm['mode']!r} needs operator.llm.command (or set mode: off)")
    names = [c if isinstance(c, str) else c["name"] for c in data["close"]["required_checks"]]
    for i, name in enumerate(names):
        if name in names[:i]:
            at(["close", "required_checks", i], f"duplicate check {name!r}")
    return out


def _ticket_checks(loaded: _Loaded, policy: Policy) -> list[Diagnostic]:
    data = loaded.data or {}
    out: list[Diagnostic] = []
    stem = Path(loaded.source.display).stem
    if stem != data["id"]:
        line, col = yamlload.locate(loaded.text, ["id"])
        out.append(yamlload.diag(loaded.source.display, loaded.text, line, col, "id",
                                 f"id {data['id']!r} differs from the file name {stem!r}; "
                                 f"rename the file to {data['id']}.yaml"))
    for i, repo in enumerate(data["repos"]):
        if repo != "self" and repo not in policy.repos:
            known = ["self", *policy.repos]
            line, col = yamlload.locate(loaded.text, ["repos", i])
            out.append(yamlload.diag(loaded.source.display, loaded.text, line, col, f"repos[{i}]",
                                     f"unknown repo {repo!r}; define it under policy repos"
                                     f"{schemas.suggest(repo, known)}"))
    return out


def _plan_checks(loaded: _Loaded, policy: Policy, tickets: Mapping[str, Any]) -> list[Diagnostic]:
    data = loaded.data or {}
    out: list[Diagnostic] = []
    at = _locator(loaded, out)

    for i, ticket_id in enumerate(data["tickets"]):
        if ticket_id not in tickets:
            at(["tickets", i], f"unknown ticket {ticket_id!r}: no tickets/{ticket_id}.yaml"
                               f"{schemas.suggest(ticket_id, sorted(tickets))}")
    seen: set[str] = set()
    for i, agent in enumerate(data["agents"]):
        if agent["name"] in seen:
            at(["agents", i, "name"], f"duplicate agent name {agent['name']!r}")
        seen.add(agent["name"])
        profile = policy.agent_profiles.get(agent["profile"])
        if profile is None:
            at(["agents", i, "profile"], f"unknown profile {agent['profile']!r}; profiles: "
                                         f"{', '.join(sorted(policy.agent_profiles))}"
                                         f"{schemas.suggest(agent['profile'], sorted(policy.agent_profiles))}")
        elif "agent.run" in profile.command and "run" not in agent:
            at(["agents", i], f"profile {agent['profile']!r} runs the agent's `run` command, but none is given")
    agent_order_checks(data["agents"], at)
    step_ids: set[str] = set()
    for i, step in enumerate(data["steps"]):
        if step["id"] in step_ids:
            at(["steps", i, "id"], f"duplicate step id {step['id']!r}")
        step_ids.add(step["id"])
    return out


# --------------------------------------------------------------------------- repository
def _read(project: Project, path: Path, overrides: Mapping[str, bytes]) -> Source:
    display = project.display(path)
    if display in overrides:
        return Source(display, overrides[display])
    return Source(display, path.read_bytes())


def kind_of(project: Project, path: Path) -> str:
    """Which schema a file follows, from where it lives."""
    display = project.display(path)
    parts = display.split("/")
    if display in (".metawsm/policy.yaml", ".metawsm/policy.yml") or path.name in ("policy.yaml", "policy.yml"):
        return "policy"
    if len(parts) >= 2 and parts[-2] in KIND_BY_DIR:
        return KIND_BY_DIR[parts[-2]]
    raise UsageError(f"{display}: cannot tell whether this is a ticket, plan or policy file",
                     hint="tickets live in tickets/, plans in plans/, the policy in .metawsm/policy.yaml")


def check(
    project: Project,
    *,
    overrides: Mapping[str, bytes] | None = None,
    extra: Iterable[Path] = (),
) -> tuple[Config | None, list[Diagnostic]]:
    """Load everything; return the config (None when anything is wrong) and every diagnostic.

    `overrides` replaces file contents by display path (the pre-commit hook passes staged content;
    a display path present only in `overrides` is loaded too). `extra` adds files outside the
    usual folders.
    """
    overrides = dict(overrides or {})
    diags: list[Diagnostic] = []
    files: list[tuple[str, Path]] = []
    policy_path = project.policy_path
    if policy_path.exists() or project.display(policy_path) in overrides:
        files.append(("policy", policy_path))
    files += [("ticket", p) for p in project.ticket_files()]
    files += [("plan", p) for p in project.plan_files()]
    known = {project.display(p) for _, p in files}
    for display in overrides:
        if display not in known:
            path = project.root / display
            files.append((kind_of(project, path), path))
            known.add(display)
    for path in extra:
        if project.display(path) not in known:
            files.append((kind_of(project, path), path))
            known.add(project.display(path))

    loaded: dict[str, list[_Loaded]] = {"policy": [], "ticket": [], "plan": []}
    for kind, path in files:
        try:
            src = _read(project, path, overrides)
        except OSError as exc:
            diags.append(Diagnostic(project.display(path), 0, 0, "", f"cannot read: {exc.strerror}"))
            continue
        item, problems = _parse(kind, src)
        diags += problems
        if item.data is not None:
            loaded[kind].append(item)

    policy = default_policy()
    if loaded["policy"]:
        item = loaded["policy"][0]
        problems = _policy_checks(item)
        diags += problems
        if not problems:
            policy = _policy_from(item.data or {}, item.source.display)

    tickets: dict[str, Ticket] = {}
    for item in loaded["ticket"]:
        data = item.data or {}
        problems = _ticket_checks(item, policy)
        if data["id"] in tickets:
            line, col = yamlload.locate(item.text, ["id"])
            problems.append(yamlload.diag(item.source.display, item.text, line, col, "id",
                                          f"duplicate ticket id {data['id']!r} "
                                          f"(also in {tickets[data['id']].source})"))
        diags += problems
        if not problems:
            tickets[data["id"]] = build(Ticket, data, source=item.source.display)
    all_ticket_ids = {**tickets, **{(i.data or {}).get("id", ""): None for i in loaded["ticket"]}}

    plans: dict[str, Plan] = {}
    for item in loaded["plan"]:
        data = item.data or {}
        problems = _plan_checks(item, policy, all_ticket_ids)
        if data["name"] in plans:
            line, col = yamlload.locate(item.text, ["name"])
            problems.append(yamlload.diag(item.source.display, item.text, line, col, "name",
                                          f"duplicate plan name {data['name']!r} "
                                          f"(also in {plans[data['name']].source})"))
        diags += problems
        if not problems:
            plans[data["name"]] = build(Plan, data, source=item.source.display,
                                        marks=yamlload.marks(item.text))
    if diags:
        return None, diags
    return Config(policy, dict(sorted(tickets.items())), plans, tuple(sorted(known))), []


def load(project: Project, **kwargs: Any) -> Config:
    """Load everything or raise one ConfigError listing every problem."""
    config, diags = check(project, **kwargs)
    if config is None:
        raise ConfigError(diags, hint="fix the files above, then run `metawsm validate`")
    return config


def policy_from_bytes(display: str, data: bytes) -> Policy:
    """A policy from file content (e.g. `git show BASE:.metawsm/policy.yaml`); ConfigError when invalid."""
    item, diags = _parse("policy", Source(display, data))
    diags = diags or _policy_checks(item)
    if diags:
        raise ConfigError(diags)
    return _policy_from(item.data or {}, item.source.display)


def load_policy(project: Project) -> Policy:
    """Just the policy (defaults when there is no policy file)."""
    path = project.policy_path
    if not path.exists():
        return default_policy()
    item, diags = _parse("policy", Source(project.display(path), path.read_bytes()))
    diags = diags or _policy_checks(item)
    if diags:
        raise ConfigError(diags)
    return _policy_from(item.data or {}, item.source.display)
