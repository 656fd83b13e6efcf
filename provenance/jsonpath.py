"""A small JSONPath subset, enough to point at one value in an API response.

Supported: `$`, `.name`, `['name']`, `[n]` (negative from the end), `[*]`, `.*`,
and filters `[?(@.a.b == 'x' && @.n >= 3)]` with == != < <= > >= joined by &&.

`find` returns every match with the object that holds it (its "row"), so
guards can look at the neighbours of the value (currency, zone, unit).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class JsonPathError(ValueError):
    """A path this module cannot parse."""


@dataclass(frozen=True)
class Match:
    value: Any
    row: Any  # the object or list that directly holds `value`
    path: str  # concrete path of the match, e.g. $.Items[3].retailPrice


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}
_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z_][\w-]*)|\.(?P<star>\*)|\[(?P<index>-?\d+)\]|\[(?P<wild>\*)\]"""
    r"""|\[\s*(?P<q>['"])(?P<key>(?:(?!(?P=q)).)*)(?P=q)\s*\]|\[\?\((?P<filter>.*?)\)\]"""
)
_CONDITION = re.compile(r"""^\s*@(?P<path>(?:\.[A-Za-z_][\w-]*)*)\s*(?P<op>==|!=|<=|>=|<|>)\s*(?P<literal>.+?)\s*$""")


def parse(path: str) -> list[tuple[str, Any]]:
    """Steps of a path: ('key', name) | ('index', n) | ('all', None) | ('filter', [conditions])."""
    if not path.startswith("$"):
        raise JsonPathError(f"{path!r}: a JSON path starts with '$', e.g. '$.data[0].value'")
    steps: list[tuple[str, Any]] = []
    pos = 1
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            raise JsonPathError(f"{path!r}: cannot read the path from position {pos} ({path[pos:]!r})")
        if m["name"] is not None:
            steps.append(("key", m["name"]))
        elif m["key"] is not None:
            steps.append(("key", m["key"]))
        elif m["index"] is not None:
            steps.append(("index", int(m["index"])))
        elif m["star"] or m["wild"]:
            steps.append(("all", None))
        else:
            steps.append(("filter", [_condition(part, path) for part in m["filter"].split("&&")]))
        pos = m.end()
    return steps


def _condition(text: str, path: str) -> tuple[list[str], Callable[[Any, Any], bool], Any]:
    m = _CONDITION.match(text)
    if not m:
        raise JsonPathError(f"{path!r}: cannot read the filter condition {text.strip()!r}; write e.g. @.currencyCode == 'USD'")
    keys = [k for k in m["path"].split(".") if k]
    return keys, _OPS[m["op"]], _literal(m["literal"], path)


def _literal(text: str, path: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise JsonPathError(f"{path!r}: {text!r} is not a quoted string, number, true, false or null") from None


def get(obj: Any, keys: list[str]) -> Any:
    """Follow plain keys; a missing key gives the sentinel MISSING."""
    for key in keys:
        if not isinstance(obj, dict) or key not in obj:
            return MISSING
        obj = obj[key]
    return obj


MISSING = object()


def _holds(item: Any, conditions: list[tuple[list[str], Callable[[Any, Any], bool], Any]]) -> bool:
    for keys, op, literal in conditions:
        value = get(item, keys)
        if value is MISSING:
            return False
        try:
            if not op(value, literal):
                return False
        except TypeError:  # comparing a string with a number: not a match
            return False
    return True


def find(path: str, document: Any) -> list[Match]:
    """Every value the path selects in document, in document order."""
    current: list[Match] = [Match(document, None, "$")]
    for kind, arg in parse(path):
        nxt: list[Match] = []
        for m in current:
            node = m.value
            if kind == "key":
                if isinstance(node, dict) and arg in node:
                    nxt.append(Match(node[arg], node, f"{m.path}.{arg}"))
            elif kind == "index":
                if isinstance(node, list) and -len(node) <= arg < len(node):
                    nxt.append(Match(node[arg], node, f"{m.path}[{arg % len(node)}]"))
            elif kind == "all":
                if isinstance(node, list):
                    nxt.extend(Match(v, node, f"{m.path}[{i}]") for i, v in enumerate(node))
                elif isinstance(node, dict):
                    nxt.extend(Match(v, node, f"{m.path}.{k}") for k, v in node.items())
            else:
                items = enumerate(node) if isinstance(node, list) else ()
                nxt.extend(Match(v, node, f"{m.path}[{i}]") for i, v in items if _holds(v, arg))
        current = nxt
    return current
