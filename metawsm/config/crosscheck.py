"""The checks across a configuration's files, on validated data: policy values that contradict each other,
tickets naming unknown repos or misnamed, plans naming unknown tickets or profiles, duplicate names."""

from __future__ import annotations

from collections.abc import Mapping

from metawsm.config import schemas, yamlload
from metawsm.config.agentorder import agent_order_checks
from metawsm.errors import Diagnostic

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms) on validate's and the hooks' path
if TYPE_CHECKING:
    from typing import Any


class Source:
    """One file's content, named as the user sees it (relative to the repository root)."""

    __slots__ = ("data", "display")

    def __init__(self, display: str, data: bytes) -> None:
        self.display = display
        self.data = data


class Loaded:
    __slots__ = ("data", "kind", "source", "text")

    def __init__(self, kind: str, source: Source, text: str = "", data: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.source = source
        self.text = text
        self.data = data


def locator(loaded: Loaded, out: list[Diagnostic]) -> Any:
    """`at(path, message)`: append a diagnostic located at a key path of `loaded`."""

    def at(path: list[object], message: str) -> None:
        line, col = yamlload.locate(loaded.text, path)
        out.append(yamlload.diag(loaded.source.display, loaded.text, line, col,
                                 yamlload.format_keypath(path), message))

    return at


def policy_checks(loaded: Loaded) -> list[Diagnostic]:
    data = loaded.data or {}
    out: list[Diagnostic] = []
    at = locator(loaded, out)

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


def ticket_checks(loaded: Loaded, policy: dict[str, Any]) -> list[Diagnostic]:
    data = loaded.data or {}
    out: list[Diagnostic] = []
    stem = _stem(loaded.source.display)
    if stem != data["id"]:
        line, col = yamlload.locate(loaded.text, ["id"])
        out.append(yamlload.diag(loaded.source.display, loaded.text, line, col, "id",
                                 f"id {data['id']!r} differs from the file name {stem!r}; "
                                 f"rename the file to {data['id']}.yaml"))
    for i, repo in enumerate(data["repos"]):
        if repo != "self" and repo not in policy["repos"]:
            known = ["self", *policy["repos"]]
            line, col = yamlload.locate(loaded.text, ["repos", i])
            out.append(yamlload.diag(loaded.source.display, loaded.text, line, col, f"repos[{i}]",
                                     f"unknown repo {repo!r}; define it under policy repos"
                                     f"{schemas.suggest(repo, known)}"))
    return out


def plan_checks(loaded: Loaded, policy: dict[str, Any], tickets: Mapping[str, Any]) -> list[Diagnostic]:
    data = loaded.data or {}
    out: list[Diagnostic] = []
    at = locator(loaded, out)

    for i, ticket_id in enumerate(data["tickets"]):
        if ticket_id not in tickets:
            at(["tickets", i], f"unknown ticket {ticket_id!r}: no tickets/{ticket_id}.yaml"
                               f"{schemas.suggest(ticket_id, sorted(tickets))}")
    seen: set[str] = set()
    for i, agent in enumerate(data["agents"]):
        if agent["name"] in seen:
            at(["agents", i, "name"], f"duplicate agent name {agent['name']!r}")
        seen.add(agent["name"])
        profiles = policy["agent_profiles"]
        profile = profiles.get(agent["profile"])
        if profile is None:
            at(["agents", i, "profile"], f"unknown profile {agent['profile']!r}; profiles: "
                                         f"{', '.join(sorted(profiles))}"
                                         f"{schemas.suggest(agent['profile'], sorted(profiles))}")
        elif "agent.run" in profile["command"] and "run" not in agent:
            at(["agents", i], f"profile {agent['profile']!r} runs the agent's `run` command, but none is given")
    agent_order_checks(data["agents"], at)
    step_ids: set[str] = set()
    for i, step in enumerate(data["steps"]):
        if step["id"] in step_ids:
            at(["steps", i, "id"], f"duplicate step id {step['id']!r}")
        step_ids.add(step["id"])
    return out


def _stem(display: str) -> str:
    """`Path(display).stem` for a '/'-separated display path, without a Path per ticket file."""
    name = display.rpartition("/")[2]
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name
