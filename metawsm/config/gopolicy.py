"""Translate a Go metawsm `policy.json` into this metawsm's policy (a plain mapping, written as YAML
by `policy-init` and `import-go`, then validated by the normal loader). What maps: workspace base
branch and branch prefix, step retries, health thresholds, operator budget and LLM settings, forum
SLA and docs-sync, forbidden file patterns, agent profiles (shell: its command; codex: `codex exec`
with its base prompt) and each Go policy agent as a profile of its own name (so `metawsm run
--agent agent` means what it meant there). What does not (docmgr docs, Redis, topics, gh pull
requests and review feedback, Go session patterns) is listed in `dropped`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metawsm.errors import UsageError

MAPPED_SECTIONS = ("workspace", "execution", "health", "operator", "forum", "git_pr", "agent_profiles",
                   "agents")


@dataclass
class Translated:
    policy: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)


def _take(src: dict[str, Any], keys: tuple[str, ...], where: str, out: Translated) -> dict[str, Any]:
    taken = {k: src[k] for k in keys if k in src and src[k] is not None}
    out.dropped += [f"{where}.{k}" for k in src if k not in keys]
    return taken


def _profile(p: dict[str, Any], where: str) -> dict[str, Any]:
    runner = str(p.get("runner") or "shell")
    options = p.get("runner_options") or {}
    if runner == "shell":
        command = str(options.get("command") or "bash")
        return {"description": f"Go metawsm shell runner ({where})", "command": command}
    if runner == "codex":
        flag = " --full-auto" if options.get("full_auto") else ""
        out: dict[str, Any] = {"description": f"Go metawsm codex runner ({where})",
                               "command": f"codex exec --skip-git-repo-check{flag} {{{{ prompt | shquote }}}}",
                               "requires": ["codex"]}
        if p.get("base_prompt"):
            out["base_prompt"] = str(p["base_prompt"]).replace("{{", "{{ '{{' }}")
        return out
    raise UsageError(f"{where}: runner {runner!r} has no equivalent here (shell or codex)")


def translate(go: Any) -> Translated:
    """Our policy mapping for the Go policy `go` (the parsed policy.json)."""
    if not isinstance(go, dict):
        raise UsageError("a Go policy.json must hold a JSON object")
    out = Translated()
    out.dropped += [k for k in go if k not in MAPPED_SECTIONS]
    pol = out.policy
    ws = go.get("workspace") or {}
    if ws:
        w = _take(ws, ("base_branch", "branch_prefix"), "workspace", out)
        if w.get("branch_prefix"):
            w["branch_prefix"] = str(w["branch_prefix"]).rstrip("/") + "/"
        if w:
            pol["workspace"] = w
    if go.get("execution"):
        ex = _take(go["execution"], ("step_retries",), "execution", out)
        if ex:
            pol["execution"] = ex
    if go.get("health"):
        h = _take(go["health"], ("idle_seconds", "activity_stalled_seconds", "progress_stalled_seconds"), "health", out)
        if h:
            pol["health"] = h
    if go.get("operator"):
        op = dict(go["operator"])
        llm = op.pop("llm", None) or {}
        o = _take(op, ("unhealthy_confirmations", "restart_budget", "restart_cooldown_seconds",
                       "stale_run_age_seconds"), "operator", out)
        if llm:
            lm = _take(llm, ("mode", "command", "model", "timeout_seconds", "max_tokens"), "operator.llm", out)
            if lm.get("mode"):
                lm["mode"] = str(lm["mode"]).lower()
            if not lm.get("model"):
                lm.pop("model", None)
            o["llm"] = lm
        if o:
            pol["operator"] = o
    if go.get("forum"):
        f, fo = go["forum"], {}
        if (f.get("sla") or {}).get("escalation_minutes"):
            fo["sla"] = {"escalation_minutes": f["sla"]["escalation_minutes"]}
        if "enabled" in (f.get("docs_sync") or {}):
            fo["docs_sync"] = {"enabled": bool(f["docs_sync"]["enabled"])}
        out.dropped += [f"forum.{k}" for k in f if k not in ("sla", "docs_sync")]
        if fo:
            pol["forum"] = fo
    if go.get("git_pr"):
        g = go["git_pr"]
        if g.get("forbidden_file_patterns"):
            pol["close"] = {"forbidden_file_patterns": [str(x) for x in g["forbidden_file_patterns"]]}
        out.dropped += [f"git_pr.{k}" for k in g if k != "forbidden_file_patterns"]
    profiles: dict[str, dict[str, Any]] = {}
    by_name: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(go.get("agent_profiles") or []):
        if isinstance(p, dict) and p.get("name"):
            by_name[str(p["name"])] = p
            profiles[str(p["name"])] = _profile(p, f"agent_profiles[{i}]")
    for i, a in enumerate(go.get("agents") or []):
        if not isinstance(a, dict) or not a.get("name"):
            continue
        source = by_name.get(str(a.get("profile") or ""))
        if source is None:
            raise UsageError(f"agents[{i}] ({a['name']}): profile {a.get('profile')!r} is not in agent_profiles")
        profiles.setdefault(str(a["name"]), _profile(source, f"agents[{i}]"))
    if profiles:
        pol["agent_profiles"] = profiles
    return out
