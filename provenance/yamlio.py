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


def read_located(path: Path, display: str) -> tuple[Located | None, list[Problem]]:
    """Parse one YAML file into plain data with positions.

    Syntax errors and duplicate keys become Problems (every duplicate, not just the first).
    """
    from ruamel.yaml.error import MarkedYAMLError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(display, 1, 1, "", f"cannot read file ({exc}); save it as UTF-8 text")]
    yaml = _fast_yaml()
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (exc.problem or exc.context or "invalid YAML").strip()
        return None, [Problem(display, line, col, "", f"{what}; fix the YAML syntax")]
    if node is None:
        return Located(display, None, {}), []
    positions: dict[tuple[Any, ...], tuple[Position, Position]] = {}
    duplicates: list[Problem] = []
    _index(node, (), positions, duplicates, display)
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


def _index(node: Any, path: tuple[Any, ...], positions: dict, duplicates: list[Problem], display: str) -> None:
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if isinstance(node, MappingNode):
        seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                first = seen[key]
                line, col = _mark(key_node)
                duplicates.append(Problem(display, line, col, ".".join(map(str, (*path, key))),
                                          f"duplicate key (first at line {first[0]}); remove or rename one of the two"))
                continue
            seen[key] = _mark(key_node)
            positions[(*path, key)] = (_mark(key_node), _mark(value_node))
            _index(value_node, (*path, key), positions, duplicates, display)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            positions[(*path, i)] = (_mark(item), _mark(item))
            _index(item, (*path, i), positions, duplicates, display)
