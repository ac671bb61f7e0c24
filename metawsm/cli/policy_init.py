"""metawsm policy-init: write this repository's policy (.metawsm/policy.yaml) — the Go metawsm's verb.
When a Go metawsm policy (.metawsm/policy.json) is there, it is translated instead of the defaults."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from metawsm.cli.common import add_command, project, resolve_path

HELP = "write the policy (.metawsm/policy.yaml), translating a Go metawsm policy.json when present"
DESCRIPTION = """\
Write the policy file: the defaults (every key commented out), or — when a Go metawsm policy exists
(.metawsm/policy.json, or --from PATH) — its translation: workspace, retries, health, operator, forum
SLA and docs-sync, forbidden files, agent profiles, and each Go agent as a profile of its name. Keys
with no equivalent are listed. The result is validated before it is written. An existing policy is
kept unless --force. (`metawsm init` scaffolds the whole repository, policy included.)

exit codes: 0 written, 1 exists (without --force), 2 invalid Go policy"""

GO_POLICY = ".metawsm/policy.json"


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "policy-init", help=HELP, description=DESCRIPTION)
    p.add_argument("--path", metavar="PATH", help="where to write (default .metawsm/policy.yaml; YAML only)")
    p.add_argument("--from", dest="source", metavar="PATH", help=f"the Go policy to translate (default {GO_POLICY}"
                   " when it exists)")
    p.add_argument("--force", action="store_true", help="replace an existing policy file")
    p.set_defaults(run=run)


def render(go_path: Path | None) -> tuple[str, list[str]]:
    """(the policy file's text, the Go keys that were dropped)."""
    from metawsm.config.scaffold import POLICY, modeline

    head = modeline("policy", ".metawsm/policy.yaml")
    if go_path is None:
        return head + POLICY, []
    import yaml

    from metawsm.config.gopolicy import translate
    from metawsm.errors import UsageError

    try:
        data = json.loads(go_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{go_path}: not a readable JSON policy: {exc}") from exc
    result = translate(data)
    text = (head + f"# Translated from the Go metawsm policy {go_path.name} by `metawsm policy-init`.\n"
            + (f"# Not translated (no equivalent here): {', '.join(result.dropped)}\n" if result.dropped else "")
            + (yaml.safe_dump(result.policy, sort_keys=False, allow_unicode=True) if result.policy else "{}\n"))
    return text, result.dropped


def write_policy(proj: Any, target: Path, text: str, *, force: bool) -> None:
    """Validate `text` as the project's policy, then write it to `target` (atomically)."""
    from metawsm.config.loader import check
    from metawsm.errors import ConfigError, MetawsmError, UsageError

    if target.suffix not in (".yaml", ".yml"):
        raise UsageError(f"--path {target}: this metawsm's policy is YAML (.metawsm/policy.yaml)",
                         hint="a Go policy.json is read with --from, not written")
    if target.exists() and not force:
        raise MetawsmError(f"{target} exists", hint="pass --force to replace it")
    display = proj.display(proj.metawsm_dir / "policy.yaml")
    _, diags = check(proj, overrides={display: text.encode()})
    mine = [d for d in diags if d.file == display]
    if mine:
        raise ConfigError(mine, hint="the Go policy translates to an invalid policy; fix policy.json or pass "
                                     "--from another file")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def run(args: argparse.Namespace) -> int:
    proj = project(args)
    target = resolve_path(args, args.path) if args.path else proj.metawsm_dir / "policy.yaml"
    source = resolve_path(args, args.source) if args.source else proj.root / GO_POLICY
    if args.source and not source.is_file():
        from metawsm.errors import UsageError

        raise UsageError(f"--from {args.source}: no such file")
    text, dropped = render(source if source.is_file() else None)
    write_policy(proj, target, text, force=args.force)
    args.out.result({"path": str(target), "translated_from": str(source) if source.is_file() else None,
                     "dropped": dropped})
    args.out.text(f"wrote {target}" + (f" (translated from {source})" if source.is_file() else ""))
    for key in dropped:
        args.out.text(f"  not translated: {key}")
    return 0
