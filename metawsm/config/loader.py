"""Load and cross-check a repository's policy, tickets and plans.

Every problem in every file is collected, located, and raised once as a ConfigError.

`verify` checks everything on the validated data alone (what `metawsm validate` and the pre-commit hook
need); `check` and `load` also build the typed models. The models module (30-odd frozen dataclasses, with
`dataclasses` and `inspect` behind them) is imported only by the latter: building those classes costs more
than an interpreter start, and validate and the hook run often.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path

from metawsm.config import schemas, yamlload
from metawsm.config.crosscheck import Loaded, Source, plan_checks, policy_checks, ticket_checks
from metawsm.config.project import Project
from metawsm.errors import ConfigError, Diagnostic, UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms) on validate's and the hooks' path
if TYPE_CHECKING:
    from typing import Any

    from metawsm.config.models import Plan, Policy, Ticket

KIND_BY_DIR = {"tickets": "ticket", "plans": "plan"}


class Config:
    """The repository's configuration as typed models (what `check` and `load` return)."""

    __slots__ = ("files", "plans", "policy", "tickets")

    def __init__(self, policy: Policy, tickets: dict[str, Ticket], plans: dict[str, Plan],
                 files: tuple[str, ...] = ()) -> None:
        self.policy = policy
        self.tickets = tickets
        self.plans = plans
        self.files = files


class Checked:
    """What `verify` reports about a valid configuration, without building the models."""

    __slots__ = ("files", "forbidden_file_patterns", "plans", "tickets", "warnings")

    def __init__(self, files: tuple[str, ...], tickets: tuple[str, ...], plans: dict[str, str],
                 warnings: tuple[tuple[str, str], ...], forbidden_file_patterns: tuple[str, ...]) -> None:
        self.files = files  # every file checked, by display path
        self.tickets = tickets  # ticket ids, sorted
        self.plans = plans  # plan name -> its file
        self.warnings = warnings  # (plan file, warning), in plan-name order (config.advice)
        self.forbidden_file_patterns = forbidden_file_patterns  # the effective policy's


class _Data:
    """Every file of a valid configuration, parsed, checked and filled with defaults."""

    __slots__ = ("files", "plans", "policy", "policy_source", "tickets")

    def __init__(self, policy: dict[str, Any], policy_source: str, tickets: dict[str, Loaded],
                 plans: dict[str, Loaded], files: tuple[str, ...]) -> None:
        self.policy = policy
        self.policy_source = policy_source
        self.tickets = tickets
        self.plans = plans
        self.files = files


# --------------------------------------------------------------------------- single files
def _parse(kind: str, src: Source) -> tuple[Loaded, list[Diagnostic]]:
    data, text, diags = yamlload.parse(src.display, src.data, allow_empty=kind == "policy")
    loaded = Loaded(kind, src, text)
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


def _policy_data(data: dict[str, Any]) -> dict[str, Any]:
    """The effective policy as data: schema defaults filled in, user profiles over the built-in ones."""
    full = schemas.apply_defaults("policy", data)
    builtin = schemas.load_schema("policy")["properties"]["agent_profiles"]["default"]
    if "agent_profiles" in data:  # user profiles extend (or replace) the built-in ones
        full["agent_profiles"] = {
            **schemas.apply_defaults("policy", {"agent_profiles": builtin})["agent_profiles"],
            **full["agent_profiles"],
        }
    return full


def _policy_from(data: dict[str, Any], display: str, *, full: bool = False) -> Policy:
    from metawsm.config.models import Policy, build

    return build(Policy, data if full else _policy_data(data), source=display)


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


def _check_data(
    project: Project, overrides: Mapping[str, bytes] | None, extra: Iterable[Path]
) -> tuple[_Data | None, list[Diagnostic]]:
    """Every file parsed, validated and cross-checked as data; (None, diagnostics) when anything is wrong."""
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

    loaded: dict[str, list[Loaded]] = {"policy": [], "ticket": [], "plan": []}
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

    policy, policy_source = _policy_data({}), ""
    if loaded["policy"]:
        item = loaded["policy"][0]
        problems = policy_checks(item)
        diags += problems
        if not problems:
            policy, policy_source = _policy_data(item.data or {}), item.source.display

    tickets: dict[str, Loaded] = {}
    for item in loaded["ticket"]:
        data = item.data or {}
        problems = ticket_checks(item, policy)
        if data["id"] in tickets:
            line, col = yamlload.locate(item.text, ["id"])
            problems.append(yamlload.diag(item.source.display, item.text, line, col, "id",
                                          f"duplicate ticket id {data['id']!r} "
                                          f"(also in {tickets[data['id']].source.display})"))
        diags += problems
        if not problems:
            tickets[data["id"]] = item
    all_ticket_ids = {**tickets, **{(i.data or {}).get("id", ""): None for i in loaded["ticket"]}}

    plans: dict[str, Loaded] = {}
    for item in loaded["plan"]:
        data = item.data or {}
        problems = plan_checks(item, policy, all_ticket_ids)
        if data["name"] in plans:
            line, col = yamlload.locate(item.text, ["name"])
            problems.append(yamlload.diag(item.source.display, item.text, line, col, "name",
                                          f"duplicate plan name {data['name']!r} "
                                          f"(also in {plans[data['name']].source.display})"))
        diags += problems
        if not problems:
            plans[data["name"]] = item
    if diags:
        return None, diags
    return _Data(policy, policy_source, dict(sorted(tickets.items())), plans, tuple(sorted(known))), []


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
    found, diags = _check_data(project, overrides, extra)
    if found is None:
        return None, diags
    from metawsm.config.models import Plan, Ticket, build

    tickets = {tid: build(Ticket, item.data or {}, source=item.source.display) for tid, item in found.tickets.items()}
    plans = {name: build(Plan, item.data or {}, source=item.source.display, marks=yamlload.marks(item.text))
             for name, item in found.plans.items()}
    return Config(_policy_from(found.policy, found.policy_source, full=True), tickets, plans, found.files), []


def verify(
    project: Project,
    *,
    overrides: Mapping[str, bytes] | None = None,
    extra: Iterable[Path] = (),
) -> tuple[Checked | None, list[Diagnostic]]:
    """`check` without building the models: the same diagnostics, and what validate and the hook report."""
    found, diags = _check_data(project, overrides, extra)
    if found is None:
        return None, diags
    from metawsm.config.advice import plan_warning

    close = found.policy["close"]
    required = [c if isinstance(c, str) else c["name"] for c in close["required_checks"]]
    warnings = []
    for name in sorted(found.plans):
        item = found.plans[name]
        data = item.data or {}
        warning = plan_warning(required, bool(close["manual_validation"]["allowed"]), bool(data["checks"]),
                               name, item.source.display, partial(yamlload.locate, item.text, ["name"]))
        if warning:
            warnings.append((item.source.display, warning))
    return Checked(found.files, tuple(found.tickets), {n: i.source.display for n, i in found.plans.items()},
                   tuple(warnings), tuple(close["forbidden_file_patterns"])), []


def load(project: Project, **kwargs: Any) -> Config:
    """Load everything or raise one ConfigError listing every problem."""
    config, diags = check(project, **kwargs)
    if config is None:
        raise ConfigError(diags, hint="fix the files above, then run `metawsm validate`")
    return config


def policy_from_bytes(display: str, data: bytes) -> Policy:
    """A policy from file content (e.g. `git show BASE:.metawsm/policy.yaml`); ConfigError when invalid."""
    item, diags = _parse("policy", Source(display, data))
    diags = diags or policy_checks(item)
    if diags:
        raise ConfigError(diags)
    return _policy_from(item.data or {}, item.source.display)


def load_policy(project: Project) -> Policy:
    """Just the policy (defaults when there is no policy file)."""
    path = project.policy_path
    if not path.exists():
        return default_policy()
    item, diags = _parse("policy", Source(project.display(path), path.read_bytes()))
    diags = diags or policy_checks(item)
    if diags:
        raise ConfigError(diags)
    return _policy_from(item.data or {}, item.source.display)
