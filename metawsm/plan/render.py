"""Sandboxed Jinja2 rendering of the template fields of plans and agent profiles.

One `SandboxedEnvironment` with `StrictUndefined` (a missing value is an error, never an empty
string), autoescape off and a `shquote` filter. Each distinct template string is compiled once.
Every failure — a syntax error, an undefined value, an attempt to reach Python internals — becomes
a located `Diagnostic`; the planner collects them all and raises one `PlanError`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import new_context
from jinja2.sandbox import SecurityError

from metawsm.config import yamlload
from metawsm.errors import Diagnostic
from metawsm.plan.limits import MAX_EXPONENT, MAX_OUTPUT, MAX_SEQUENCE, LimitedSandbox, too_long

__all__ = ["MAX_EXPONENT", "MAX_OUTPUT", "MAX_SEQUENCE", "Location", "Renderer", "make_environment", "shquote"]

FALSY = frozenset({"", "false", "False", "FALSE", "0", "no", "No", "NO", "none", "None", "off", "Off"})
_TEMPLATE_FILE = "<template>"
_TYPE_NAMES = {"_Undefined": "an undefined", "Namespace": "a mapping", "TemplateReference": "a template"}
_UNSAFE_ATTR = re.compile(r"access to attribute '(?P<attr>[^']*)' of '(?P<type>[^']*)' object is unsafe")


def shquote(value: Any) -> str:
    """The `shquote` filter: one shell word, whatever the value holds."""
    return shlex.quote(str(value))


class Namespace(dict):  # type: ignore[type-arg]
    """A read-only-by-convention mapping that knows its name, for error messages:
    `'ticket' has no attribute 'goals'` instead of `'dict object' has no attribute 'goals'`."""

    __slots__ = ("_label",)

    def __init__(self, label: str, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._label = label


def wrap(value: Any, label: str) -> Any:
    """Plain data → template values: mappings become labelled Namespaces, sequences lists, paths str."""
    if isinstance(value, Mapping):
        return Namespace(label, {str(k): wrap(v, f"{label}.{k}") for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return [wrap(v, f"{label}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Path):
        return str(value)
    return value


class _Undefined(StrictUndefined):
    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        obj = self._undefined_obj
        name = self._undefined_name
        if isinstance(obj, Namespace):
            what = "attribute" if isinstance(name, str) else "element"
            return f"{obj._label!r} has no {what} {name!r}"
        return str(super()._undefined_message)


def make_environment() -> LimitedSandbox:
    env = LimitedSandbox(undefined=_Undefined, autoescape=False, keep_trailing_newline=False)
    env.filters["shquote"] = shquote
    for name in ("lipsum", "cycler", "joiner"):  # nothing a plan needs; less surface
        env.globals.pop(name, None)
    return env


@dataclass(frozen=True)
class Location:
    """Where a template lives: display file, key path, and the (line, col) of its value."""

    file: str
    keypath: str
    line: int = 0
    col: int = 0


def explain(exc: BaseException) -> str:
    """A user-facing one-line message for a template failure."""
    if isinstance(exc, SecurityError):
        m = _UNSAFE_ATTR.search(str(exc))
        if m:
            kind = _TYPE_NAMES.get(m["type"], f"a {m['type']}")
            return (f"template tried to access an unsafe attribute {m['attr']!r} of {kind} value "
                    f"(templates may only read ticket, agent, plan, policy, run and workspace values)")
        return f"template tried to do something unsafe: {str(exc).rstrip('.')}"
    if isinstance(exc, TemplateSyntaxError):
        return f"template syntax error: {exc.message}"
    if isinstance(exc, UndefinedError):
        return str(exc.message)
    if isinstance(exc, TemplateError):
        return f"template error: {exc.message or exc}"
    return f"template failed: {type(exc).__name__}: {exc}"


def _template_line(exc: BaseException) -> int:
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno or 0
    line = 0
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class Renderer:
    """Renders template strings; collects located diagnostics instead of raising."""

    def __init__(self, project_root: Path) -> None:
        self.project_root = project_root
        self.env: LimitedSandbox = make_environment()
        self._templates: dict[str, Template | BaseException] = {}
        self._texts: dict[str, str] = {}
        self._seen: set[tuple[str, int, int, str, str]] = set()
        self.diagnostics: list[Diagnostic] = []

    # -- compiling (once per distinct string) ------------------------------------------------
    def _template(self, source: str) -> Template | BaseException:
        tmpl = self._templates.get(source)
        if tmpl is None:
            try:
                tmpl = self.env.from_string(source)
            except TemplateError as exc:
                tmpl = exc
            self._templates[source] = tmpl
        return tmpl

    # -- rendering ---------------------------------------------------------------------------
    def render(self, source: str, context: dict[str, Any], where: Location) -> str | None:
        """The rendered text, or None after recording a diagnostic.

        `context` must already hold the environment's globals (see `base_context`): it is used as
        the template's context directly (`shared=True`), which skips a merge per render."""
        if "{" not in source:  # no {{ }}, {% %} or {# #}: nothing to render
            return source
        tmpl = self._template(source)
        if isinstance(tmpl, BaseException):
            self.fail(where, tmpl, source)
            return None
        try:
            try:
                self.env.start_render()
                ctx = new_context(self.env, tmpl.name, tmpl.blocks, context, True, None)
                parts, size = [], 0
                for part in tmpl.root_render_func(ctx):
                    size += len(part)
                    if size > MAX_OUTPUT:
                        raise too_long("the rendered template")
                    parts.append(part)
                return "".join(parts)
            except Exception:
                self.env.handle_exception()  # re-raises with template line numbers in the traceback
        except (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError, LookupError,
                AttributeError, RecursionError, MemoryError) as exc:
            self.fail(where, exc, source)
        return None

    def truthy(self, source: str, context: dict[str, Any], where: Location) -> bool | None:
        """A `when` condition: a template (`{{ … }}`) or a bare expression. It is false when it
        renders false-ish ("", "false", "0", "no", "none", "off") or the expression is falsy.
        None after recording a diagnostic."""
        if "{{" not in source and "{%" not in source:
            source = f"{{% if ({source}) %}}{{{{ ({source}) }}}}{{% endif %}}"
        text = self.render(source, context, where)
        return None if text is None else text.strip() not in FALSY

    def base_context(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The environment's globals (range, dict, namespace) plus `values`."""
        return {**self.env.globals, **values}

    # -- locating ----------------------------------------------------------------------------
    def _text(self, file: str) -> str:
        if file not in self._texts:
            try:
                self._texts[file] = (self.project_root / file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                self._texts[file] = ""
        return self._texts[file]

    def fail(self, where: Location, exc: BaseException, source: str = "") -> None:
        self.add(where, explain(exc), template_line=_template_line(exc), multiline="\n" in source.rstrip("\n"))

    def add(self, where: Location, message: str, *, template_line: int = 0, multiline: bool = False) -> None:
        text = self._text(where.file) if where.line else ""
        line, col = where.line, where.col
        if line and multiline and template_line:
            lines = text.splitlines()
            head = lines[line - 1] if line <= len(lines) else ""
            if head[col - 1 : col] == "|" and line + template_line <= len(lines):
                line += template_line  # literal block: template line n is file line mark + n
                body = lines[line - 1]
                col = len(body) - len(body.lstrip(" ")) + 1
            else:
                message += f" (line {template_line} of the template)"
        key = (where.file, line, col, where.keypath, message)
        if key in self._seen:
            return
        self._seen.add(key)
        if text:
            self.diagnostics.append(yamlload.diag(where.file, text, line, col, where.keypath, message))
        else:
            self.diagnostics.append(Diagnostic(where.file, line, col, where.keypath, message))
