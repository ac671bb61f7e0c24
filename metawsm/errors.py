"""The exception tree. Every error a user can see is a MetawsmError carrying its exit code.

Exit codes: 0 ok, 1 error, 2 usage/validation, 3 gate refused (and unexpected crash), 4 timeout,
130 interrupted.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_GATE = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130


class MetawsmError(Exception):
    """Base class: a message a user can act on, an optional hint, and an exit code."""

    exit_code = EXIT_ERROR
    code = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"code": self.code, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        return {"error": data}

    def render(self) -> str:
        """The full human text (may span lines)."""
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class UsageError(MetawsmError):
    """Bad command-line usage."""

    exit_code = EXIT_USAGE
    code = "usage"


class Diagnostic:
    """One located problem in a file the user edits (immutable; compares and hashes by value).

    A plain class rather than a frozen dataclass: every command imports this module, and `dataclasses`
    (with the `inspect` it imports) costs about half an interpreter start on the paths that must start
    fast (`metawsm validate`, the pre-commit hook)."""

    _FIELDS = ("file", "line", "col", "keypath", "message", "snippet")  # in the order of __init__
    __slots__ = ("col", "file", "keypath", "line", "message", "snippet")

    file: str
    line: int
    col: int
    keypath: str
    message: str
    snippet: str

    def __init__(self, file: str, line: int, col: int, keypath: str, message: str, snippet: str = "") -> None:
        for name, value in zip(self._FIELDS, (file, line, col, keypath, message, snippet), strict=True):
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"Diagnostic({inner})"

    def __reduce__(self) -> tuple[type[Diagnostic], tuple[object, ...]]:  # copy and pickle
        return Diagnostic, self._values()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a Diagnostic is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a Diagnostic is immutable")

    def headline(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        return f"{where}: {self.keypath}: {self.message}" if self.keypath else f"{where}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "keypath": self.keypath,
            "message": self.message,
        }


class ConfigError(MetawsmError):
    """One or more located validation errors in tickets, plans or policy."""

    exit_code = EXIT_USAGE
    code = "invalid_config"

    def __init__(self, diagnostics: list[Diagnostic], *, hint: str | None = None) -> None:
        self.diagnostics = list(diagnostics)
        n = len(self.diagnostics)
        super().__init__(f"{n} error{'s' if n != 1 else ''} found", hint=hint)

    def render(self) -> str:
        from metawsm.config.report import format_diagnostics

        text = format_diagnostics(self.diagnostics)
        return f"{text}\nhint: {self.hint}" if self.hint else text

    def to_json(self) -> dict[str, object]:
        data = super().to_json()
        data["error"]["diagnostics"] = [d.to_json() for d in self.diagnostics]  # type: ignore[index]
        return data


class PlanError(ConfigError):
    """A plan could not be rendered into a step graph (template error, cycle, unknown need)."""

    code = "invalid_plan"


class StalePlanError(MetawsmError):
    """A saved plan whose inputs changed since it was written."""

    exit_code = EXIT_USAGE
    code = "stale_plan"


class NotFoundError(MetawsmError):
    """A named thing (thread, run, agent, ticket) does not exist."""

    code = "not_found"


class StateError(MetawsmError):
    """An illegal state transition, or state that cannot be read or written."""

    code = "illegal_transition"


class AlreadyExists(MetawsmError):
    """Something with that name or id exists already (HTTP 409)."""

    code = "already_exists"


class ForumError(MetawsmError):
    """The forum log or index refused an operation."""

    code = "forum_error"


class ExternalError(MetawsmError):
    """git, tmux or another external command failed."""

    code = "external_error"


class GateRefused(MetawsmError):
    """The close gate did not pass."""

    exit_code = EXIT_GATE
    code = "gate_refused"


class WaitTimeout(MetawsmError):
    """Waiting for something (an answer, a run) took longer than allowed."""

    exit_code = EXIT_TIMEOUT
    code = "timeout"
