"""metawsm plan: render plans into step graphs and show what would change."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from metawsm.cli.common import add_command, project, resolve_path

if TYPE_CHECKING:
    from rich.console import Console

    from metawsm.config.loader import Config
    from metawsm.config.models import Plan
    from metawsm.config.project import Project
    from metawsm.plan.graph import StepGraph
    from metawsm.plan.preview import PlanPreview

HELP = "render plans into step graphs and show what would change"
DESCRIPTION = """\
Render plans (a path under plans/ or a plan name; default: every plan in plans/) into their step
graphs — workspace → session → agent → check → gate (→ close) per ticket and agent, plus the plan's
own steps — and show each step with its diff mark against the plan's recorded run:
  + added   ~ changed   - removed   = unchanged
A ticket merged (or abandoned) is remembered across runs: its steps show as `= merged` and `apply`
leaves them alone (`metawsm reopen T` to work on it again), so a converged plan has no changes.

--out FILE saves the rendered plans with the sha256 of every input file; --check FILE verifies that
a saved plan is still fresh (its policy, plan and ticket files unchanged).

exit codes: 0 ok (with --detailed-exitcode: no changes), 2 changes (with --detailed-exitcode),
a stale saved plan or invalid files; 1 error (always 1 with --detailed-exitcode)"""

MARK_STYLE = {"+": "green", "~": "yellow", "-": "red", "=": "dim"}


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "plan", help=HELP, description=DESCRIPTION)
    p.add_argument("plans", nargs="*", metavar="PLAN", help="plan file or plan name (default: all plans)")
    p.add_argument("--out", dest="out_file", metavar="FILE", help="save the rendered plans (with input hashes) to FILE")
    p.add_argument("--check", dest="check_file", metavar="FILE", help="verify that a saved plan is still fresh")
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="exit 0 when nothing changed, 2 when something did, 1 on error")
    p.set_defaults(run=run)


def active_run(proj: Project, plan: Plan) -> Any:
    """The plan's active run, read from state.db without creating it."""
    db = proj.state_dir / "state.db"
    if not db.exists():
        return None
    from metawsm.state import StateStore

    with StateStore(db) as store:
        return store.active_run_for_plan(plan.name)


def recorded_graph(proj: Project, plan: Plan) -> StepGraph | None:
    """The graph recorded for the plan's active run — the diff base (None: no run yet)."""
    from metawsm.engine.apply import recorded_graph as from_run

    return from_run(active_run(proj, plan))


def settled_tickets(proj: Project) -> Any:
    """ticket ids -> {ticket: merged|abandoned|in_review}, read from state.db without creating it (an in_review
    ticket's steps still diff: the state is only shown)."""
    db = proj.state_dir / "state.db"

    def lookup(tickets: Any) -> dict[str, str]:
        if not db.exists():
            return {}
        from metawsm.state import StateStore
        from metawsm.state.machines import SETTLED_TICKET_STATES

        with StateStore(db) as store:
            states = SETTLED_TICKET_STATES | {"in_review"}
            return {t.ticket: t.status for t in store.list_tickets(list(tickets), statuses=states)}

    return lookup


def run(args: argparse.Namespace) -> int:
    from metawsm.errors import EXIT_ERROR, MetawsmError

    try:
        return _run(args)
    except MetawsmError as exc:
        if args.detailed_exitcode:
            exc.exit_code = EXIT_ERROR  # terraform convention: 2 means "changes", so errors are 1
        raise


def _run(args: argparse.Namespace) -> int:
    from metawsm.config import loader
    from metawsm.plan.preview import preview

    proj = project(args)
    if args.check_file:
        if args.plans or args.out_file:
            from metawsm.errors import UsageError

            raise UsageError("metawsm plan: --check FILE takes no PLAN and no --out")
        return _check(args, proj)
    paths = [resolve_path(args, p) for p in args.plans if looks_like_path(args, p)]
    config = loader.load(proj, extra=[p for p in paths if p.is_file()])
    plans = select_plans(args, proj, config)
    runs = {plan.name: active_run(proj, plan) for plan in plans}
    previews = preview(config, plans, project_root=proj.root,
                       recorded=lambda plan: recorded_graph(proj, plan),
                       run_ids=lambda plan: runs[plan.name].run_id if runs[plan.name] else None,
                       settled=settled_tickets(proj))
    saved = None
    if args.out_file:
        from metawsm.plan.saved import save

        saved = save(resolve_path(args, args.out_file), proj, config, plans, [p.graph for p in previews])
    changed = any(p.changed for p in previews)
    from metawsm.config.advice import plan_warnings

    warnings = [w for plan in plans for w in plan_warnings(config.policy, plan)]
    for warning in warnings:
        args.out.warn(warning)
    data: dict[str, Any] = {"changed": changed, "plans": [_plan_json(p) for p in previews]}
    if warnings:
        data["warnings"] = warnings
    if saved is not None:
        data["saved"] = proj.display(saved)
    if args.out.json_mode:  # the steps are many: write them one per line (see plan/jsonfmt.py)
        from metawsm.plan.jsonfmt import encode

        args.out.raw(encode(data) + "\n")
    else:
        args.out.result(data, lambda c: _human(c, previews, data.get("saved")))
    return 2 if (args.detailed_exitcode and changed) else 0


def _plan_json(pv: PlanPreview) -> dict[str, Any]:
    """The preview's JSON plus `reruns` ({unchanged step: the changed step that makes it run again}) and
    `field_diffs` ({changed step: {field: unified diff}})."""
    from metawsm.plan.explain import all_field_diffs, reruns

    data = pv.to_json()
    data["reruns"] = reruns(pv.changes, pv.graph)
    data["field_diffs"] = all_field_diffs(pv.changes, pv.recorded, pv.graph)
    return data


def looks_like_path(args: argparse.Namespace, value: str) -> bool:
    return "/" in value or value.endswith((".yaml", ".yml")) or resolve_path(args, value).is_file()


def select_plans(args: argparse.Namespace, proj: Project, config: Config) -> list[Plan]:
    from metawsm.config.schemas import suggest
    from metawsm.errors import UsageError

    if not args.plans:
        if not config.plans:
            raise UsageError("no plans found in plans/", hint="create one, or run `metawsm init --demo`")
        return [config.plans[name] for name in sorted(config.plans)]
    by_source = {p.source: p for p in config.plans.values()}
    chosen: list[Plan] = []
    for value in args.plans:
        if looks_like_path(args, value):
            path = resolve_path(args, value)
            plan = by_source.get(proj.display(path))
            if plan is None:
                raise UsageError(f"{value}: no such plan file" if not path.is_file() else
                                 f"{value}: not a plan (plans live under plans/)")
        else:
            plan = config.plans.get(value)
            if plan is None:
                raise UsageError(f"unknown plan {value!r}{suggest(value, sorted(config.plans))}",
                                 hint=f"plans: {', '.join(sorted(config.plans)) or '(none)'}")
        if plan not in chosen:
            chosen.append(plan)
    return chosen


def _check(args: argparse.Namespace, proj: Project) -> int:
    from metawsm.plan.saved import load_saved

    saved = load_saved(resolve_path(args, args.check_file), proj)
    data = {"fresh": True, "file": args.check_file, "plans": [g.plan_name for g in saved.graphs],
            "inputs": sorted(saved.inputs)}
    args.out.result(data, lambda c: c.print(
        f"ok: {args.check_file} is fresh ({len(saved.graphs)} plan{'s' if len(saved.graphs) != 1 else ''}, "
        f"{len(saved.inputs)} input files unchanged)", markup=False))
    return 0


def _diff_text(name: str, text: str) -> Any:
    """A field's unified diff, coloured per line (added green, removed red)."""
    from rich.text import Text

    out = Text()
    for i, ln in enumerate(text.splitlines()):
        style = ("bold" if ln.startswith(("---", "+++")) else "green" if ln.startswith("+")
                 else "red" if ln.startswith("-") else "cyan" if ln.startswith("@@") else "")
        out.append(("\n" if i else "") + ln, style=style)
    return out


def _human(console: Console, previews: list[PlanPreview], saved: str | None) -> None:
    from rich.text import Text
    from rich.tree import Tree

    from metawsm.plan.diff import summary
    from metawsm.plan.explain import all_field_diffs, reruns

    for pv in previews:
        again = reruns(pv.changes, pv.graph)
        diffs = all_field_diffs(pv.changes, pv.recorded, pv.graph)
        tree = Tree(Text.assemble(("plan ", "bold"), (pv.plan.name, "bold cyan"), f"  ({pv.plan.source})"))
        groups: dict[str, Tree] = {}
        steps = dict(pv.graph.by_id)
        if pv.recorded is not None:
            steps.update({s.id: s for s in pv.recorded.steps if s.id not in steps})
        for change in pv.changes:
            step = steps[change.id]
            group = step.ticket or "(plan-wide)"
            if group not in groups:
                groups[group] = tree.add(Text(group, style="bold"))
            line = Text.assemble((f"{change.mark} ", MARK_STYLE[change.mark]), (step.id, MARK_STYLE[change.mark]
                                 if change.mark != "=" else ""), (f"  {step.kind}", "dim"))
            if step.needs:
                line.append(f"  needs {', '.join(step.needs)}", style="dim")
            if change.changed_fields:
                line.append(f"  changed: {', '.join(change.changed_fields)}", style="yellow")
            if change.settled:
                line.append(f"  {change.settled}", style="green")
            if change.id in again:
                line.append(f"  runs again (needs {again[change.id]}, which changes)", style="yellow")
            node = groups[group].add(line)
            for name, text in diffs.get(change.id, {}).items():
                node.add(_diff_text(name, text))
        console.print(tree)
        s = summary(pv.changes)
        settled = sorted({steps[c.id].ticket or "" for c in pv.changes if c.settled not in (None, "in_review")})
        rerun = f" ({len(again)} of them run again: {', '.join(again)})" if again else ""
        console.print(f"{pv.plan.name}: {s['add']} to add, {s['change']} to change, {s['remove']} to remove, "
                      f"{s['unchanged']} unchanged{rerun}" + (f" ({len(settled)} ticket(s) merged or abandoned: "
                                                              f"{', '.join(settled)})" if settled else "") + ".",
                      markup=False)
    if saved:
        console.print(f"saved to {saved}", markup=False)
