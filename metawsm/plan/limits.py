"""Resource limits of the template sandbox: no template may build a value or an output longer than
MAX_OUTPUT characters, loop more than MAX_ITERATIONS times in one render, or run past MAX_SECONDS.

Every way to grow a string is bounded before it allocates: `*` and `**`, `+` and `~` (concatenation),
`%` formatting and the `format` filter (their field widths), calls with a width argument (`center`,
`ljust`, `str.format`'s widths…), and the output itself. Every loop (`for`, including nested ones and
`range`) draws from one iteration budget per render, which also checks the deadline. A limit hit is a
SecurityError, which the renderer reports located on the template's file and key path."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_OUTPUT = 1_000_000  # characters of one rendered template, or of any value built in it
MAX_SEQUENCE = MAX_OUTPUT  # longest string/list a template may build with `*`
MAX_EXPONENT = 256
MAX_ITERATIONS = 1_000_000  # loop iterations of one render, all loops together
MAX_SECONDS = 2.0  # wall-clock time of one render
_WIDTH = re.compile(r"%[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?|\{[^{}]*?:[^{}]*?(\d+)[^{}]*\}")
_WIDTH_FILTERS = ("center", "indent", "wordwrap", "truncate", "format", "replace", "join", "filesizeformat")


def too_long(what: str) -> SecurityError:
    return SecurityError(f"{what} would be longer than {MAX_OUTPUT} characters (the template output limit)")


def check_widths(fmt: str) -> None:
    """Refuse a `%`- or `{}`-format string whose field widths or precisions exceed MAX_OUTPUT."""
    for m in _WIDTH.finditer(fmt):
        for g in m.groups():
            if (g and g != "*" and len(g) > 7) or (g and g.isdigit() and int(g) > MAX_OUTPUT):
                raise too_long("a formatted field")


def _check_args(args: Iterable[Any]) -> None:
    for a in args:
        if type(a) is int and abs(a) > MAX_OUTPUT:
            raise too_long(f"a value built with the argument {a}")


def _sized(value: Any, what: str) -> Any:
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_OUTPUT:
        raise too_long(what)
    return value


class _Generator(CodeGenerator):
    """`~` concatenation goes through `environment.limited_join`."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.limited_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class LimitedSandbox(SandboxedEnvironment):
    """The sandbox with bounds on size, iterations and time (see the module doc)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _Generator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._left = MAX_ITERATIONS
        self._deadline = float("inf")
        self.globals["range"] = self.limited_range
        for name in _WIDTH_FILTERS:
            self.filters[name] = self._bounded_filter(name, self.filters[name])

    # -- per render ---------------------------------------------------------------------------
    def start_render(self) -> None:
        self._left = MAX_ITERATIONS
        self._deadline = time.monotonic() + MAX_SECONDS

    def tick(self, n: int = 1) -> None:
        self._left -= n
        if self._left < 0:
            raise SecurityError(f"the template loops more than {MAX_ITERATIONS} times")
        if time.monotonic() > self._deadline:
            raise SecurityError(f"the template took longer than {MAX_SECONDS:g} seconds to render")

    def limited_iter(self, iterable: Any) -> Iterator[Any]:
        for i, item in enumerate(iterable):
            if not i & 63:
                self.tick(64)
            yield item

    def limited_range(self, *args: int) -> range:
        rng = range(*args)
        self.tick(0)
        if len(rng) > MAX_ITERATIONS:
            raise SecurityError(f"range of {len(rng)} items is too long (at most {MAX_ITERATIONS})")
        return rng

    def limited_join(self, parts: Iterable[Any]) -> str:
        texts = [str(p) for p in parts]
        if sum(map(len, texts)) > MAX_OUTPUT:
            raise too_long("the result of ~")
        return "".join(texts)

    # -- parse: every for loop draws from the iteration budget ---------------------------------
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.EnvironmentAttribute("limited_iter"), [loop.iter], [], None, None,
                                   lineno=loop.lineno)
        return tree

    # -- operators and calls -----------------------------------------------------------------
    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large (at most {MAX_EXPONENT})")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_SEQUENCE:
                    raise SecurityError(f"the result of * would be longer than {MAX_SEQUENCE} items")
        elif (operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple))
              and len(left) + len(right) > MAX_OUTPUT):
            raise too_long("the result of +")
        elif operator == "%" and isinstance(left, str):
            check_widths(left)
            _check_args(right if isinstance(right, tuple) else (right,))
        return _sized(super().call_binop(context, operator, left, right), f"the result of {operator}")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self.tick(0)
        _check_args(args)
        _check_args(kwargs.values())
        if getattr(__obj, "__name__", "") == "replace" and isinstance(getattr(__obj, "__self__", None), str):
            _check_replace(__obj.__self__, args)
        return _sized(super().call(__context, __obj, *args, **kwargs), "a value")

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            check_widths(value.__self__)
        return wrapped

    def _bounded_filter(self, name: str, fn: Any) -> Any:
        skip = 1 if hasattr(fn, "jinja_pass_arg") else 0  # the environment or eval context comes first

        def bounded(*args: Any, **kwargs: Any) -> Any:
            self.tick(0)
            value, rest = (args[skip], args[skip + 1:]) if len(args) > skip else (None, ())
            if name != "join":
                _check_args(rest)
            _check_args(kwargs.values())
            if name == "format" and isinstance(value, str):
                check_widths(value)
            if name == "replace" and isinstance(value, str):
                _check_replace(value, rest)
            return _sized(fn(*args, **kwargs), f"the result of |{name}")

        for attr in ("jinja_pass_arg",):  # keep context/eval-context passing of the original filter
            if hasattr(fn, attr):
                setattr(bounded, attr, getattr(fn, attr))
        bounded.__name__ = getattr(fn, "__name__", name)
        return bounded


def _check_replace(text: str, args: tuple[Any, ...]) -> None:
    if len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        grow = (text.count(args[0]) if args[0] else len(text) + 1) * (len(args[1]) - len(args[0]))
        if len(text) + grow > MAX_OUTPUT:
            raise too_long("the result of replace")
