"""Warnings about a valid configuration that cannot work as written (validate and plan print them; they
never change an exit status)."""

from __future__ import annotations

from metawsm.config.models import Plan, Policy


def plan_warnings(policy: Policy, plan: Plan) -> list[str]:
    """Located warnings for `plan` under `policy` (file:line:col: message)."""
    warnings: list[str] = []
    validation_required = "validation" in policy.check_names()
    if not plan.checks and validation_required and not policy.close.manual_validation.allowed:
        line, col = plan.mark("name")
        where = f"{plan.source}:{line or 1}:{col or 1}" if plan.source else f"plan {plan.name}"
        warnings.append(
            f"{where}: plan {plan.name!r} has no checks, but the close gate requires validation "
            "(close.required_checks has 'validation'): its tickets can never pass the gate — add "
            "`checks: [\"your test command\"]` to the plan, or drop 'validation' from close.required_checks")
    return warnings
