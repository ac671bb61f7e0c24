"""metawsm k8s: the Kubernetes manifests of the kubernetes runtime backend."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command, project

HELP = "print the Kubernetes manifests of the kubernetes backend (no cluster needed)"
DESCRIPTION = """\
The kubernetes runtime backend (runtime.backend: kubernetes, docs/backends.md) runs each agent
session in a Pod of its own (or a Job wrapping the same pod template: runtime.kubernetes.kind),
applied with `kubectl apply -f -` to the context and namespace of the policy.

  render  print the manifests it would apply for a plan's agents, as a YAML stream
          (--json: one `kind: List` object, which `kubectl apply -f -` also reads);
          made from the plan and the policy only: no cluster, nothing written

exit codes: 0 printed, 1 error, 2 usage or validation (unknown plan, invalid policy or plan,
no agent on kubernetes without --all, a claim_path that does not hold the worktrees)"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "k8s", help=HELP, description=DESCRIPTION)
    sub = p.add_subparsers(dest="k8s_command", metavar="SUBCOMMAND", parser_class=type(p))
    s = add_command(sub, "render", help="print the Pods (or Jobs) for a plan's agents",
                    description="Print the Pods (or Jobs) the kubernetes backend would apply for the agents of "
                                "the plans (default: every plan in plans/) whose runtime is kubernetes, with "
                                "their labels (metawsm/repo, run, ticket, agent, pod), volumes, resources and "
                                "environment as runtime.kubernetes in the policy makes them. The run label is "
                                "set when the plan has an active run.\n\n"
                                "exit codes: 0 printed, 1 error, 2 usage or validation")
    s.add_argument("--plan", dest="plans", action="append", default=[], metavar="PLAN",
                   help="plan file or plan name (repeatable; default: every plan)")
    s.add_argument("--kind", choices=("pod", "job"), help="override runtime.kubernetes.kind")
    s.add_argument("--all", dest="every_agent", action="store_true",
                   help="render every agent as if its runtime were kubernetes")
    s.set_defaults(run=run_render)


def run_render(args: argparse.Namespace) -> int:
    from metawsm.cli.common import resolve_path
    from metawsm.cli.plan import active_run, looks_like_path, select_plans
    from metawsm.config import loader
    from metawsm.engine.kube_render import render_manifests
    from metawsm.runtime.kube_manifest import as_list, as_yaml

    proj = project(args)
    paths = [resolve_path(args, p) for p in args.plans if looks_like_path(args, p)]
    config = loader.load(proj, extra=[p for p in paths if p.is_file()])
    plans = select_plans(args, proj, config)

    def run_id(plan: Any) -> str | None:
        run = active_run(proj, plan)
        return run.run_id if run else None

    manifests = render_manifests(config, plans, proj.root, kind=args.kind, every_agent=args.every_agent,
                                 run_ids=run_id)
    if args.out.json_mode:
        args.out.result(as_list(manifests))
    else:
        args.out.raw(as_yaml(manifests))
    return 0
