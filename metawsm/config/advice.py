"""Warnings about a valid configuration that cannot work as written (validate and plan print them; they
never change an exit status)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms) on validate's and the hooks' path
if TYPE_CHECKING:  # the models are not imported on validate's path (see config/loader.py)
    from metawsm.config.models import Plan, Policy


def plan_warning(required_checks: Iterable[str], manual_validation: bool, has_checks: bool, name: str,
                 source: str, where_name: Callable[[], tuple[int, int]]) -> str | None:
    """The warning for a plan without checks whose tickets could never pass the gate, else None.
    `where_name()` gives the (line, col) of the plan's name, asked only when there is a warning."""
    if has_checks or "validation" not in required_checks or manual_validation:
        return None
    line, col = where_name()
    where = f"{source}:{line or 1}:{col or 1}" if source else f"plan {name}"
    return (f"{where}: plan {name!r} has no checks, but the close gate requires validation "
            "(close.required_checks has 'validation'): its tickets can never pass the gate — add "
            "`checks: [\"your test command\"]` to the plan, or drop 'validation' from close.required_checks")


def plan_warnings(policy: Policy, plan: Plan) -> list[str]:
    """Located warnings for `plan` under `policy` (file:line:col: message)."""
    warning = plan_warning(policy.check_names(), policy.close.manual_validation.allowed, bool(plan.checks),
                           plan.name, plan.source, lambda: plan.mark("name"))
    return [warning] if warning else []
