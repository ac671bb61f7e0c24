"""Order between a plan's agents (`needs: [agent names]`): every name known, none needing itself, no cycle —
each reported at the `needs` entry, a cycle with its path (`impl -> review -> impl`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms) on validate's and the hooks' path
if TYPE_CHECKING:
    from typing import Any


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of `graph` (name -> names it needs) as a path whose last element repeats the first."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in graph:
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def agent_order_checks(agents: Sequence[dict[str, Any]], at: Callable[[list[object], str], None]) -> None:
    names = [a["name"] for a in agents]
    graph: dict[str, list[str]] = {}
    for i, agent in enumerate(agents):
        ok: list[str] = []
        for j, need in enumerate(agent.get("needs") or []):
            if need == agent["name"]:
                at(["agents", i, "needs", j], f"agent {need!r} cannot need itself")
            elif need not in names:
                at(["agents", i, "needs", j], f"unknown agent {need!r}; agents of this plan: {', '.join(names)}")
            else:
                ok.append(need)
        graph[agent["name"]] = ok
    cycle = _cycle(graph)
    if cycle:
        i = names.index(cycle[0])
        j = list(agents[i]["needs"]).index(cycle[1])
        at(["agents", i, "needs", j], f"agents need each other in a cycle: {' -> '.join(cycle)}")
