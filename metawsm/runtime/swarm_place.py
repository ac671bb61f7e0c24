"""Where the swarm backend puts a new agent session: a pure function of the policy's nodes and placement rules
and of how many metawsm sessions each node runs now.

The first placement rule whose ticket and agent globs match names the node labels the session needs (no rule
matches: any node will do); among the nodes with those labels the one with the most free slots wins (the
policy's order breaks ties). When every such node is full the session waits in the queue (:class:`NoCapacity`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase

from metawsm.errors import ExternalError
from metawsm.runtime.base import NoCapacity
from metawsm.runtime.settings import PlacementRule, SwarmNode


def needed_labels(rules: Sequence[PlacementRule], ticket: str, agent: str) -> Mapping[str, str]:
    """The node labels the first matching rule asks for (empty: no rule matches)."""
    for rule in rules:
        if fnmatchcase(ticket, rule.ticket) and fnmatchcase(agent, rule.agent):
            return rule.labels
    return {}


def eligible(nodes: Sequence[SwarmNode], labels: Mapping[str, str]) -> list[SwarmNode]:
    return [n for n in nodes if all(n.labels.get(k) == v for k, v in labels.items())]


def choose(nodes: Sequence[SwarmNode], rules: Sequence[PlacementRule], ticket: str, agent: str,
           load: Mapping[str, int]) -> str:
    """The node for a new session of ``ticket``/``agent``; ``load`` is the sessions each node runs now."""
    if not nodes:
        raise ExternalError("runtime.swarm.nodes is empty: the swarm backend has no node to run agents on",
                            hint="list the nodes and their docker hosts in .metawsm/policy.yaml")
    labels = needed_labels(rules, ticket, agent)
    candidates = eligible(nodes, labels)
    if not candidates:
        wanted = ", ".join(f"{k}={v}" for k, v in labels.items())
        raise ExternalError(f"no node of runtime.swarm.nodes has the labels {wanted} that {ticket}/{agent} needs",
                            hint="add the labels to a node, or change runtime.swarm.placement")
    best = max(candidates, key=lambda n: n.slots - load.get(n.name, 0))  # max keeps the first of equals
    if best.slots - load.get(best.name, 0) <= 0:
        names = ", ".join(f"{n.name} {load.get(n.name, 0)}/{n.slots}" for n in candidates)
        raise NoCapacity(f"every swarm node {ticket}/{agent} may use is full ({names})")
    return best.name
