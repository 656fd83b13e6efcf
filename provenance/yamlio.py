"""Reading YAML with positions (ruamel.yaml round-trip), for precise error locations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from provenance.problems import Problem


def round_trip_yaml() -> Any:
    """The one YAML configuration used to read and write catalog files."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.allow_duplicate_keys = False
    return yaml


Position = tuple[int, int]  # 1-based line, column


class Located:
    """A parsed YAML document (plain Python data) that can say where any part of it stands."""

    def __init__(self, file: str, data: Any, positions: dict[tuple[Any, ...], tuple[Position, Position]]):
        self.file = file
        self.data = data
        self._positions = positions  # path -> (key position, value position)

    def position(self, loc: Sequence[str | int], *, key: bool = False) -> Position:
        """(line, col) of the deepest existing node on `loc`.

        With key=True, the position of the last mapping key itself (for
        "unknown field" problems) rather than of its value.
        """
        path = tuple(loc)
        for end in range(len(path), 0, -1):
            found = self._positions.get(path[:end])
            if found is not None:
                return found[0] if (key and end == len(path)) else found[1]
        return (1, 1)

    def problem(self, loc: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        line, col = self.position(loc, key=key)
        return Problem(self.file, line, col, ".".join(str(s) for s in loc), message)


def _fast_yaml() -> Any:
    """Safe YAML with libyaml's C parser when available: composing keeps line/column marks."""
    from ruamel.yaml import YAML

    try:
        return YAML(typ="safe", pure=False)
    except Exception:  # no ruamel.yaml.clib on this platform
        return YAML(typ="safe", pure=True)


# Limits checked on the text before the YAML composer sees it: libyaml recurses per
# nesting level (100,000 nested '[' crash it) and aliases can expand exponentially.
MAX_BYTES = 16 * 1024 * 1024
MAX_FLOW_DEPTH = 64
MAX_INDENT = 256


def _too_hostile(text: str, display: str, max_bytes: int) -> Problem | None:
    """A located problem when `text` is too large, too deep or holds a NUL, else None."""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        return Problem(display, 1, 1, "", f"file larger than {max_bytes // (1024 * 1024)} MiB; a record is a few kilobytes, split or trim it")
    if "\x00" in text:
        before = text[: text.index("\x00")]
        return Problem(display, before.count("\n") + 1, len(before) - before.rfind("\n"), "", "a NUL character; save the file as plain UTF-8 text")
    if text.count("[") + text.count("{") <= MAX_FLOW_DEPTH and max(map(len, text.split("\n"))) <= MAX_INDENT:
        return None
    depth = 0
    for number, row in enumerate(text.split("\n"), start=1):
        if len(row) - len(row.lstrip(" ")) > MAX_INDENT:
            return Problem(display, number, 1, "", f"indented more than {MAX_INDENT} columns; records nest a few levels deep, flatten it")
        for col, char in enumerate(row, start=1):
            if char in "[{":
                depth += 1
                if depth > MAX_FLOW_DEPTH:
                    return Problem(display, number, col, "", f"nested more than {MAX_FLOW_DEPTH} levels of [ or {{; flatten it")
            elif char in "]}" and depth:
                depth -= 1
    return None


def read_located(path: Path, display: str, data: bytes | None = None, max_bytes: int = MAX_BYTES) -> tuple[Located | None, list[Problem]]:
    """Parse one YAML file into plain data with positions.

    `data`, when given, is the file's content as already read (and hashed) by the caller,
    so what is validated is exactly what was hashed. Syntax errors, duplicate keys,
    aliases, complex keys and hostile sizes or depths become Problems, never exceptions.
    """
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        raw = path.read_bytes() if data is None else data
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(display, 1, 1, "", f"cannot read file ({exc}); save it as UTF-8 text")]
    hostile = _too_hostile(text, display, max_bytes)
    if hostile is not None:
        return None, [hostile]
    yaml = _fast_yaml()
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (exc.problem or exc.context or "invalid YAML").strip()
        return None, [Problem(display, line, col, "", f"{what}; fix the YAML syntax")]
    except (YAMLError, RecursionError, ValueError) as exc:
        return None, [Problem(display, 1, 1, "", f"not readable as YAML ({type(exc).__name__}); fix the YAML syntax")]
    if node is None:
        return Located(display, None, {}), []
    positions: dict[tuple[Any, ...], tuple[Position, Position]] = {}
    duplicates: list[Problem] = []
    _index(node, (), positions, duplicates, display, set())
    if duplicates:
        return None, duplicates
    try:
        data = yaml.constructor.construct_document(node)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Problem(display, line, col, "", f"{(exc.problem or 'invalid value').strip()}; fix the value")]
    return Located(display, data, positions), []


def _mark(node: Any) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _index(node: Any, path: tuple[Any, ...], positions: dict, duplicates: list[Problem], display: str, visited: set[int]) -> None:
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if isinstance(node, (MappingNode, SequenceNode)):
        if id(node) in visited:  # an alias: the same node reached twice
            line, col = _mark(node)
            duplicates.append(Problem(display, line, col, ".".join(map(str, path)), "YAML aliases (*name) are not allowed in records; write the value out"))
            return
        visited.add(id(node))
    if isinstance(node, MappingNode):
        seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                line, col = _mark(key_node)
                duplicates.append(Problem(display, line, col, ".".join(map(str, path)), "a key must be a plain name, not a list or mapping; write e.g. 'bandwidth:'"))
                continue
            key = key_node.value
            if key in seen:
                first = seen[key]
                line, col = _mark(key_node)
                duplicates.append(Problem(display, line, col, ".".join(map(str, (*path, key))),
                                          f"duplicate key (first at line {first[0]}); remove or rename one of the two"))
                continue
            seen[key] = _mark(key_node)
            positions[(*path, key)] = (_mark(key_node), _mark(value_node))
            _index(value_node, (*path, key), positions, duplicates, display, visited)
            if len(duplicates) > 100:
                return
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            positions[(*path, i)] = (_mark(item), _mark(item))
            _index(item, (*path, i), positions, duplicates, display, visited)
            if len(duplicates) > 100:
                return
