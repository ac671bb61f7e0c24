"""Read YAML documents, turning every failure into a located Diagnostic.

The fast path parses with the libyaml C loader (when present) into plain data; node marks are only
composed when a location is needed (an error, or a plan's template fields).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import yaml

from metawsm.errors import Diagnostic

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms) on validate's and the hooks' path
if TYPE_CHECKING:
    from typing import Any

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 64  # nesting of mappings and lists in one document
MAX_NODES = 200_000  # values in one document once aliases are expanded (billion laughs)
HAS_LIBYAML = _BaseLoader is not yaml.SafeLoader


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader that refuses duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if len(set(keys)) != len(keys):
            seen: dict[str, yaml.Node] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                first = seen.get(key_node.value)
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key_node.value!r} (first defined on line {first.start_mark.line + 1})",
                        key_node.start_mark,
                    )
                seen[key_node.value] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)


def format_keypath(parts: Iterable[object]) -> str:
    """`("agents", 0, "profile")` → `agents[0].profile`."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _line_of(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


def diag(display: str, text: str, line: int, col: int, keypath: str, message: str) -> Diagnostic:
    return Diagnostic(display, line, col, keypath, message, _line_of(text, line) if line else "")


def decode(display: str, data: bytes) -> tuple[str | None, list[Diagnostic]]:
    """Bytes → text, or a located diagnostic for binary / non-UTF-8 content."""
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        return None, [Diagnostic(display, line, 1, "", "binary file (NUL byte); expected YAML text")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [Diagnostic(display, line, col, "", f"not valid UTF-8 (byte 0x{data[exc.start]:02x})")]
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, []


def parse(display: str, data: bytes, *, allow_empty: bool = False) -> tuple[Any, str, list[Diagnostic]]:
    """Parse one YAML document that must be a mapping (or empty, when allowed: the policy).

    Returns (data, text, diagnostics)."""
    text, diags = decode(display, data)
    if text is None:
        return None, "", diags
    value = _fast_load(text)
    if value is not _UNUSUAL:
        if value is None and allow_empty:
            return {}, text, []
        if isinstance(value, dict):
            return value, text, []
    return _load(display, text, allow_empty=allow_empty)


def _load(display: str, text: str, *, allow_empty: bool) -> tuple[Any, str, list[Diagnostic]]:
    """parse() for every document _fast_load leaves: errors, aliases, tags, non-string keys, ..."""
    try:
        value = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or "invalid YAML"
        if "\t" in _line_of(text, line)[: max(col, 1)] or "'\\t'" in problem:
            problem = "tab character used for indentation; YAML indents with spaces"
        elif exc.context and "duplicate key" not in problem:
            cm = exc.context_mark
            started = f" at line {cm.line + 1}, column {cm.column + 1}" if cm and cm is not mark else ""
            problem = f"{problem} ({exc.context}{started})"
        return None, text, [diag(display, text, line, col, "", f"YAML syntax error: {problem}")]
    except yaml.YAMLError as exc:
        return None, text, [Diagnostic(display, 1, 1, "", f"YAML error: {exc}")]
    except RecursionError:
        return None, text, [Diagnostic(display, 1, 1, "", f"YAML nesting too deep (at most {MAX_DEPTH} levels)")]
    shape = check_shape(value)
    if shape:
        line = next((i + 1 for i, row in enumerate(text.splitlines()) if "*" in row), 1) if "alias" in shape else 1
        return None, text, [diag(display, text, line, 1, "", shape)]
    if value is None and allow_empty:
        return {}, text, []
    if value is None:
        return None, text, [Diagnostic(display, 1, 1, "", "file is empty; expected a mapping of keys")]
    if not isinstance(value, dict):
        kinds: dict[type, str] = {list: "a list", str: "a string"}
        kind = kinds.get(type(value), type(value).__name__)
        return None, text, [diag(display, text, 1, 1, "", f"expected a mapping at the top level, got {kind}")]
    return value, text, []


# ------------------------------------------------------------------ the fast path of parse()
# The C parser composes the node tree; PyYAML's constructor then turns it into data in Python, one method
# call per node through several layers, and parse() walked the result again for the depth/size limits. For
# the documents people write (mappings with string keys, lists, plain and quoted scalars, no anchors or
# tags) one tight walk does all three. Anything else — an error, a duplicate key, an alias, an explicit or
# unknown tag, a non-string key, a merge key, too deep or too big — makes the walk give up (_UNUSUAL) and
# parse() starts over on the full path above, which reports it exactly as before.
_UNUSUAL = object()
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_IMPLICIT = _BaseLoader.yaml_implicit_resolvers  # first character -> [(tag, regex)] (YAML 1.1 scalars)
_SCALARS = _BaseLoader.yaml_constructors  # tag -> the safe constructor of that scalar type


class _Giveup(Exception):
    pass


class _FastLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Composes nodes only; its scalar resolution is PyYAML's BaseResolver.resolve for the safe loader's
    resolvers (no path resolvers, no wildcard resolvers), without the generic parts."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in _IMPLICIT.get(value[:1], ()):
                    if regexp.match(value):
                        return tag
            return _STR
        return super().resolve(kind, value, implicit)


def _fast_load(text: str) -> Any:
    """The document's data, or _UNUSUAL when the full path must decide (see above)."""
    if "<<" in text:  # merge keys: the full constructor merges them
        return _UNUSUAL
    loader = _FastLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        counter = [0]
        return _build(loader, node, 0, counter)
    except (yaml.YAMLError, _Giveup, RecursionError, ValueError, TypeError):
        return _UNUSUAL
    finally:
        loader.dispose()


def _build(loader: Any, node: Any, depth: int, counter: list[int]) -> Any:
    counter[0] += 1
    cls = node.__class__
    if cls is yaml.ScalarNode:
        tag = node.tag
        if tag == _STR:
            return node.value
        make = _SCALARS.get(tag) if tag.startswith("tag:yaml.org,2002:") else None
        if make is None or tag in (_MAP, _SEQ):
            raise _Giveup
        return make(loader, node)
    if depth >= MAX_DEPTH or counter[0] > MAX_NODES or node.__dict__.get("_seen"):
        raise _Giveup
    node._seen = True  # an alias shares its node: met twice means aliases, which the full path sizes
    if cls is yaml.MappingNode:
        if node.tag != _MAP:
            raise _Giveup
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not yaml.ScalarNode or key_node.tag != _STR:
                raise _Giveup
            counter[0] += 1
            out[key_node.value] = _build(loader, value_node, depth + 1, counter)
        if len(out) != len(node.value):  # a duplicate key
            raise _Giveup
        return out
    if cls is yaml.SequenceNode and node.tag == _SEQ:
        return [_build(loader, child, depth + 1, counter) for child in node.value]
    raise _Giveup


def check_shape(value: Any) -> str | None:
    """Why a loaded document is too deep or too big once its aliases are expanded (None: fine).
    Shared (aliased) values are sized once, so this is linear in the document, not in its expansion."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any, depth: int) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        if depth > MAX_DEPTH:
            raise _TooBig(f"YAML nesting too deep (more than {MAX_DEPTH} levels)")
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in active:
            raise _TooBig("YAML alias refers to itself (a recursive structure)")
        active.add(key)
        children = node.values() if isinstance(node, dict) else node
        total = 1 + sum(size(child, depth + 1) for child in children)
        active.discard(key)
        if total > MAX_NODES:
            raise _TooBig(f"YAML document expands to more than {MAX_NODES} values (alias expansion)")
        sizes[key] = total
        return total

    try:
        size(value, 0)
    except _TooBig as exc:
        return str(exc)
    return None


class _TooBig(Exception):
    pass


def compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_BaseLoader)
    except yaml.YAMLError:
        return None


def find_node(root: yaml.Node | None, parts: Sequence[object], *, want_key: bool = False) -> yaml.Node | None:
    """Walk a composed node tree along a key path; the deepest node reached is returned."""
    node = root
    for i, part in enumerate(parts):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    last = i == len(parts) - 1
                    node = key_node if (last and want_key) else value_node
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def locate(text: str, parts: Sequence[object], *, want_key: bool = False) -> tuple[int, int]:
    node = find_node(compose(text), parts, want_key=want_key)
    if node is None:
        return 1, 1
    return node.start_mark.line + 1, node.start_mark.column + 1


def marks(text: str) -> dict[str, tuple[int, int]]:
    """Every key path of a document → (line, col) of its value (used for plans' template fields)."""
    out: dict[str, tuple[int, int]] = {}

    def walk(node: yaml.Node, path: tuple[object, ...]) -> None:
        out[format_keypath(path)] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                walk(value_node, (*path, key_node.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, child in enumerate(node.value):
                walk(child, (*path, i))

    root = compose(text)
    if root is not None:
        walk(root, ())
    return out
