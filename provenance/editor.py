"""The round-trip YAML editor: the only code that writes catalog YAML.

An edit replaces the exact characters of one scalar (located with ruamel.yaml's
round-trip composer, the project's one YAML configuration) and nothing else:
comments, quoting, flow style, key order and line width of the rest of the file
are untouched byte for byte, and a file whose values do not change is not
rewritten at all. Each edited text is re-parsed and compared with the intended
data before anything is written; then every changed file is validated together
by a caller-supplied callable (mlsysim passes "the edited catalog still loads",
so this package never imports mlsysim), and only then replaced, each atomically.
A failure before the last rename leaves every file as it was.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from provenance.atomic import write_text_atomic
from provenance.problems import ProvenanceError
from provenance.yamlio import round_trip_yaml

KeyPath = tuple[str | int, ...]
Validator = Callable[[Mapping[Path, str]], Sequence[str]]


class EditError(ProvenanceError):
    """An edit that cannot be made safely; nothing was written."""


def _node_at(root: Any, keys: KeyPath, where: str) -> Any:
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    node = root
    for i, key in enumerate(keys):
        shown = ".".join(map(str, keys[: i + 1]))
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(key):
                    node = value_node
                    break
            else:
                raise EditError(f"{where}: {shown} is not in the file; add it by hand first")
        elif isinstance(node, SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
        else:
            raise EditError(f"{where}: {shown} is not in the file")
    return node


def _plain_ok(text: str) -> bool:
    """Would `text` read back as the same string when written unquoted?"""
    if not text or text != text.strip() or "\n" in text or re.search(r"[:#]\s|\s#|^[-?:,\[\]{}#&*!|>'\"%@`]", text):
        return False
    if re.search(r"[,\[\]{}]", text):  # would break a flow mapping or sequence
        return False
    from ruamel.yaml import YAML

    try:  # both readers must agree: the catalog loader reads with the safe one
        return all(y.load(f"k: {text}\n") == {"k": text} for y in (round_trip_yaml(), YAML(typ="safe", pure=True)))
    except Exception:
        return False


def render(value: Any, style: str | None) -> str:
    """The YAML text for a new scalar, in the style the old one was written in where possible."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise EditError(f"refusing to write the non-finite number {value!r}")
        if style is not None:
            raise EditError("a number cannot replace a quoted string")
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = repr(float(value))
        return text if "." in text or "e" not in text else text.replace("e", ".0e", 1)
    if not isinstance(value, str):
        raise EditError(f"only numbers and strings are edited, not {type(value).__name__}")
    if style is None and _plain_ok(value):
        return value
    if style == "'" and "\n" not in value:
        return "'" + value.replace("'", "''") + "'"
    quoted = json.dumps(value, ensure_ascii=False)
    return quoted.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def edit_text(text: str, edits: Mapping[KeyPath, Any], where: str = "<yaml>") -> str:
    """Replace the scalars at the given key paths; every other character is kept.

    Editing a scalar to the value it already has leaves its text as written.
    """
    yaml = round_trip_yaml()
    try:
        root = yaml.compose(text)
        before = yaml.load(text)
    except Exception as exc:
        raise EditError(f"{where}: cannot parse the YAML ({exc})") from None
    from ruamel.yaml.nodes import ScalarNode

    spans: list[tuple[int, int, str]] = []
    for keys, value in edits.items():
        node = _node_at(root, keys, where)
        if not isinstance(node, ScalarNode):
            raise EditError(f"{where}: {'.'.join(map(str, keys))} is not a single value")
        if node.style in ("|", ">"):
            raise EditError(f"{where}: {'.'.join(map(str, keys))} is a block scalar; edit it by hand")
        if _equal(_get(before, keys), value):
            continue
        spans.append((node.start_mark.index, node.end_mark.index, render(value, node.style)))
    spans.sort(reverse=True)
    for (start, end, _), (next_start, _, _) in zip(spans[1:], spans[:-1]):
        if end > next_start:
            raise EditError(f"{where}: overlapping edits")
    out = text
    for start, end, new in spans:
        out = out[:start] + new + out[end:]
    if out != text:
        _verify(out, before, edits, where)
    return out


def _get(data: Any, keys: KeyPath) -> Any:
    for key in keys:
        data = data[key]
    return data


def _equal(a: Any, b: Any) -> bool:
    """Same value as written? (1 == 1.0 for numbers; a string never equals a number or a date.)"""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str):
        return str(a) == str(b)
    return type(a) is type(b) and a == b


def _plain(data: Any) -> Any:
    """ruamel's round-trip containers as plain dicts/lists, scalars as plain Python values."""
    if isinstance(data, Mapping):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    if isinstance(data, bool):
        return data
    if isinstance(data, int):
        return int(data)
    if isinstance(data, float):
        return float(data)
    if isinstance(data, str):
        return str(data)
    return data


def _verify(out: str, before: Any, edits: Mapping[KeyPath, Any], where: str) -> None:
    """The edited text must read back as the old data with exactly the intended changes."""
    try:
        after = _plain(round_trip_yaml().load(out))
    except Exception as exc:
        raise EditError(f"{where}: the edit would not parse ({exc}); nothing written") from None
    expected = _plain(before)
    for keys, value in edits.items():
        node = expected
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = _plain(value)
    if _normal(after) != _normal(expected):
        raise EditError(f"{where}: the edit would change more than the intended values; nothing written")


def _normal(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _normal(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_normal(v) for v in data]
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return float(data)
    return data


def stage_edits(plans: Mapping[Path, Mapping[KeyPath, Any]], validate: Validator | None = None) -> dict[Path, str]:
    """Edit texts in memory and validate them together; nothing is written.

    `validate` receives {path: new text} for every file that would change and
    returns problems (empty when fine); any problem raises EditError.
    Files whose text would not change are left out.
    """
    staged: dict[Path, str] = {}
    for path, edits in sorted(plans.items()):
        if not edits:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise EditError(f"{path}: cannot read ({exc.strerror})") from None
        new = edit_text(text, edits, str(path))
        if new != text:
            staged[path] = new
    if staged and validate is not None:
        problems = list(validate(staged))
        if problems:
            raise EditError("the edited catalog would not load; nothing written:\n  " + "\n  ".join(problems))
    return staged


def commit(staged: Mapping[Path, str], before_replace: Callable[[Path], None] | None = None) -> list[Path]:
    """Replace each staged file atomically (temp file + rename). `before_replace` is a test hook."""
    for path, new in staged.items():
        if before_replace is not None:
            before_replace(path)
        write_text_atomic(path, new)
    return list(staged)


def write_edits(plans: Mapping[Path, Mapping[KeyPath, Any]], validate: Validator | None = None,
                before_replace: Callable[[Path], None] | None = None) -> list[Path]:
    """Apply edits to several files as one change: all edited, all validated, then each replaced atomically.

    Returns the files that changed; on any problem nothing is written.
    """
    return commit(stage_edits(plans, validate), before_replace)
