"""metawsm apply: turn plans into runs — worktrees, tmux sessions, agents, checks, gates."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command, project, resolve_path
from metawsm.forum.bounds import float_arg, int_arg

HELP = "run plans: worktrees, agent sessions, checks and gates"
DESCRIPTION = """\
Validate everything and check the tools (git, tmux, agent binaries) before any side effect, then
create the plan's run (or reuse its active run), show the difference against what the run recorded,
bring the run's steps in line (changed steps re-run, removed steps are skipped) and start the ready
work. PLAN is a plan file, a plan name, or a saved plan from `metawsm plan --out` (refused when
stale). Without PLAN, the only plan in plans/ is applied.

Without --wait, apply returns once ready work has started; the run keeps moving as agents signal
(`metawsm status` shows it). With --wait, a live view follows the run until it completes or fails
(Ctrl-C stops watching; agents keep running). Outside a terminal --wait prints each step change as a
line; a run that already existed is shown as its current state once (the run with its step counts, and
each step not yet done), then only the changes that follow.

exit codes: 0 complete or started, 1 failed (or preflight refused), 2 invalid files or stale saved
plan, 4 --timeout reached, 130 interrupted"""

TERMINAL = ("complete", "failed", "stopped", "closed", "paused")


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "apply", help=HELP, description=DESCRIPTION)
    p.add_argument("plans", nargs="*", metavar="PLAN", help="plan file, plan name, or saved plan (.json)")
    p.add_argument("--wait", action="store_true", help="follow the run live until it completes or fails")
    p.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")
    p.add_argument("--max-parallel", type=int_arg(1, 10_000), metavar="N",
                   help="most steps running at once (policy default)")
    p.add_argument("--timeout", type=float_arg(0, 1e9), metavar="S",
                   help="with --wait: give up after S seconds (exit 4)")
    p.set_defaults(run=run)


def _plans(args: argparse.Namespace, proj: Any) -> tuple[Any, list[Any]]:
    from metawsm.cli.plan import looks_like_path, select_plans
    from metawsm.config import loader
    from metawsm.errors import UsageError
    from metawsm.plan.saved import load_saved

    saved_names: list[str] = []
    rest: list[str] = []
    for value in args.plans:
        if value.endswith(".json"):
            saved = load_saved(resolve_path(args, value), proj)  # StalePlanError when inputs changed
            saved_names += [g.plan_name for g in saved.graphs]
        else:
            rest.append(value)
    paths = [resolve_path(args, p) for p in rest if looks_like_path(args, p)]
    config = loader.load(proj, extra=[p for p in paths if p.is_file()])
    if not args.plans and len(config.plans) != 1:
        raise UsageError("which plan? " + (f"plans: {', '.join(sorted(config.plans))}" if config.plans
                                           else "no plans in plans/"),
                         hint="metawsm apply plans/NAME.yaml")
    selection = argparse.Namespace(**{**vars(args), "plans": rest})
    plans = select_plans(selection, proj, config) if rest or not saved_names else []
    plans += [config.plans[name] for name in saved_names if config.plans[name] not in plans]
    return config, plans


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.apply import apply_plan
    from metawsm.engine.context import Engine
    from metawsm.errors import UsageError

    if args.max_parallel is not None and args.max_parallel < 1:
        raise UsageError("--max-parallel must be at least 1")
    proj = project(args)
    config, plans = _plans(args, proj)
    eng = Engine.open(proj, config.policy)
    warnings = hook_warnings(eng)
    results = [apply_plan(eng, config, plan, dry_run=args.dry_run, max_parallel=args.max_parallel)
               for plan in plans]
    for warning in warnings:
        args.out.warn(warning)
    if not args.wait or args.dry_run:
        args.out.result({"runs": [r.to_json() for r in results], "warnings": warnings},
                        lambda c: _print_results(c, results))
        return 1 if any(r.status == "failed" for r in results) else 0
    from metawsm.cli.live import follow

    converged = [r for r in results if r.status == "converged"]
    if converged:
        args.out.result({"runs": [r.to_json() for r in converged], "warnings": warnings},
                        lambda c: _print_results(c, converged))
        if len(converged) == len(results):
            return 0
    return follow(args, eng, [r.run_id for r in results if r.run_id], timeout=args.timeout,
                  max_parallel=args.max_parallel, terminal=TERMINAL,
                  existing=[r.run_id for r in results if r.run_id and not r.created])


def hook_warnings(eng: Any) -> list[str]:
    """apply checks the close-gate hooks; close.require_hooks makes their absence an error."""
    from metawsm.gate.hooks import missing_hooks

    missing = missing_hooks(eng.project.root)
    if not missing:
        return []
    message = f"git hooks not installed ({', '.join(missing)}): run `metawsm hooks install`"
    if eng.policy.close.require_hooks:
        from metawsm.errors import MetawsmError

        raise MetawsmError(message, hint="close.require_hooks is true in the policy")
    return [message]


def _print_results(console: Any, results: list[Any]) -> None:
    for r in results:
        if r.status == "converged":
            console.print(f"{r.plan}: converged — every ticket is merged or abandoned; nothing to apply "
                          "(`metawsm reopen TICKET` to work on one again)", markup=False)
            continue
        mark = {"+": "[green]+[/]", "~": "[yellow]~[/]", "-": "[red]-[/]"}
        changes = [c for c in r.changes if c.mark != "="]
        title = "would apply" if r.dry_run else ("created run" if r.created else "applied to run")
        console.print(f"[bold]{r.plan}[/]: {title} {r.run_id or '(new)'} — {len(changes)} change(s), "
                      f"status {r.status}")
        for c in changes:
            extra = f" ({', '.join(c.changed_fields)})" if c.changed_fields else ""
            console.print(f"  {mark[c.mark]} {c.id}{extra}", highlight=False)
        if r.reconcile:
            for e in r.reconcile.events:
                console.print(f"  {e.step_id}: {e.status} {e.message}", markup=False)
        if not r.dry_run and r.status not in TERMINAL:
            console.print(f"  follow it: metawsm status --run {r.run_id}   (or re-run with --wait)", markup=False)
